"""The fixed TCP ports the test suite listens on, in one place so that they cannot collide with one another.

Every one lies below 32768, where Linux starts handing out ephemeral ports (``net.ipv4.ip_local_port_range``
defaults to 32768-60999). A fixed port inside that range can be taken at random by any client socket, for
instance a Kafka client's connection to the session broker, and the broker meant for that port then cannot bind:
CI once failed that way on 39294.

A Kafka instance of N nodes on base port P uses P .. P + 2N - 1 (each node a broker port, then its controller).
The session broker's own port is set by ``ARCHITECT_TEST_KAFKA_PORT`` (tests/infra_fixtures.py); the fault
suite's cluster and the ACL broker sit at fixed offsets from it.
"""

from __future__ import annotations

#: The first port Linux may hand out as an ephemeral (client) port by default.
EPHEMERAL_PORTS_START = 32768

SESSION_KAFKA_DEFAULT = 29092  # 29092-29093
LOCAL_KAFKA_SINGLE = 29192  # 29192-29193, tests/integration/test_local_kafka.py
LOCAL_KAFKA_STOP = 29292  # 29292-29293, tests/integration/test_local_kafka.py
TRANSACTIONAL_RESTART_KAFKA = 29392  # 29392-29393, tests/integration/test_transactional_restart.py
SHUTDOWN_BOUND_KAFKA = 29492  # 29492-29493, tests/integration/test_shutdown_bound.py
SHUTDOWN_BOUND_METRICS = 29495  # the orchestrator's metrics endpoint in that test
LOCAL_KAFKA_CLUSTER = 29592  # 29592-29597 (three nodes), tests/integration/test_local_kafka.py
FAULT_CLUSTER_OFFSET = 700  # session port + 700 .. + 705 (three nodes), tests/faults/test_broker_cluster.py
ACL_KAFKA_OFFSET = 800  # session port + 800 .. + 802 (plain, controller, SASL), tests/integration/test_kafka_acls.py
