"""Gateway: the HTTP front door. Commands become events on Kafka; queries read the projector's Postgres models.

The gateway never changes state itself: a command is accepted once Kafka acknowledges it, and its effect shows
up in the read models when the owning service has acted on it and the projector has caught up.
"""
