"""A transactional consume-transform-produce service in miniature, run as its own process by
test_transactional_restart: it copies each envelope of ``COPY_SOURCE`` to ``COPY_TARGET`` in the consumer loop's
Kafka transactions (with ``send_offsets_to_transaction``, as the assigner does) and ticks on every idle poll.

Usage: ``python -m tests.integration.transactional_copy_app BOOTSTRAP GROUP SOURCE TARGET``.
"""

from __future__ import annotations

import logging
import sys

from shared.bus.consumer import ConsumerLoop, Delivery
from shared.bus.producer import EventProducer
from shared.settings import Settings


def main() -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bootstrap, group, source, target = sys.argv[1:5]
    settings = Settings(kafka_bootstrap_servers=bootstrap)
    producer = EventProducer(settings, client_id=group, transactional_id=f"{group}-txn")

    def copy(delivery: Delivery) -> None:
        producer.publish(delivery.envelope, topic=target)

    loop = ConsumerLoop(
        settings,
        group_id=group,
        topics=[source],
        producer=producer,
        handler=copy,
        tick=lambda: None,
        poll_timeout=0.05,
    )
    loop.install_signal_handlers()
    loop.run()


if __name__ == "__main__":
    main()
