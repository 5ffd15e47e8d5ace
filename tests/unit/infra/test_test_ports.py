"""The test suite's fixed ports stay clear of each other and of the kernel's ephemeral range."""

from __future__ import annotations

from tests import ports


def kafka_ports(base: int, nodes: int) -> set[int]:
    return set(range(base, base + 2 * nodes))


def test_fixed_ports_do_not_overlap_and_lie_below_the_ephemeral_range() -> None:
    session = ports.SESSION_KAFKA_DEFAULT
    spans = {
        "session broker": kafka_ports(session, 1),
        "single": kafka_ports(ports.LOCAL_KAFKA_SINGLE, 1),
        "stop": kafka_ports(ports.LOCAL_KAFKA_STOP, 1),
        "transactional restart": kafka_ports(ports.TRANSACTIONAL_RESTART_KAFKA, 1),
        "shutdown bound": kafka_ports(ports.SHUTDOWN_BOUND_KAFKA, 1) | {ports.SHUTDOWN_BOUND_METRICS},
        "local cluster": kafka_ports(ports.LOCAL_KAFKA_CLUSTER, 3),
        "fault cluster": kafka_ports(session + ports.FAULT_CLUSTER_OFFSET, 3),
        "acl broker": kafka_ports(session + ports.ACL_KAFKA_OFFSET, 1) | {session + ports.ACL_KAFKA_OFFSET + 2},
    }
    seen: dict[int, str] = {}
    for name, span in spans.items():
        for port in span:
            assert port not in seen, f"{name} and {seen[port]} both use port {port}"
            assert 1024 < port < ports.EPHEMERAL_PORTS_START, f"{name} uses {port}, inside the ephemeral range"
            seen[port] = name
