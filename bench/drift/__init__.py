"""The drift mitigation benchmark: five arms over scripted drifting agents (see README.md)."""
