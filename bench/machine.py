"""What a figure was measured on: date, cores, CPU model, load and software versions."""

from __future__ import annotations

import os
import platform
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import confluent_kafka

from shared.infra.kafka_jars import kafka_version


@dataclass(frozen=True)
class Machine:
    """The conditions of one benchmark run, printed above its table and embedded in its JSON summary."""

    date: str
    nproc: int
    cpu_model: str
    load_average: tuple[float, float, float]
    kafka_version: str
    librdkafka_version: str
    python_version: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types."""
        return asdict(self)

    def lines(self) -> list[str]:
        """Human-readable header lines."""
        one, five, fifteen = self.load_average
        return [
            f"date        {self.date}",
            f"machine     nproc={self.nproc}  cpu={self.cpu_model}",
            f"load        {one:.2f} {five:.2f} {fifteen:.2f} (1/5/15 min; other test suites share this machine)",
            f"software    Kafka {self.kafka_version}  librdkafka {self.librdkafka_version}  "
            f"Python {self.python_version}",
        ]


def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The first ``model name`` of /proc/cpuinfo, or the platform's processor string when there is none."""
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                return value.strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def usable_cores() -> int:
    """The cores this process may run on, as ``nproc`` counts them."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def load_average() -> tuple[float, float, float]:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def describe_machine() -> Machine:
    """The machine as it is now."""
    return Machine(
        date=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        nproc=usable_cores(),
        cpu_model=cpu_model(),
        load_average=load_average(),
        kafka_version=kafka_version(),
        librdkafka_version=confluent_kafka.libversion()[0],
        python_version=platform.python_version(),
    )
