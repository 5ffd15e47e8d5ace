"""The Kafka broker's classpath: jars resolved by Maven from deploy/local/kafka/pom.xml into the user's cache."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from pathlib import Path

from shared.infra.background_process import log_tail
from shared.infra.cache import cache_root, exclusive_lock

DEPLOY_DIR = Path(__file__).resolve().parents[2] / "deploy" / "local" / "kafka"
DEFAULT_POM = DEPLOY_DIR / "pom.xml"
_COMPLETE_STAMP = ".complete"
_POM_NS = {"m": "http://maven.apache.org/POM/4.0.0"}


class KafkaFetchError(RuntimeError):
    """Maven is missing or could not resolve the broker's jars."""


def kafka_version(pom: Path = DEFAULT_POM) -> str:
    """The version of ``org.apache.kafka:kafka_2.13`` the pom depends on: the one source of the broker version."""
    root = ElementTree.parse(pom).getroot()
    for dependency in root.iterfind("m:dependencies/m:dependency", _POM_NS):
        if dependency.findtext("m:artifactId", namespaces=_POM_NS) == "kafka_2.13":
            version = dependency.findtext("m:version", namespaces=_POM_NS)
            if version:
                return version.strip()
    raise KafkaFetchError(f"{pom} has no org.apache.kafka:kafka_2.13 dependency with a version")


def libs_dir(version: str, cache_dir: Path | None = None) -> Path:
    """Where the jars of Kafka ``version`` live: ``<cache>/kafka/<version>/libs``."""
    return (cache_dir or cache_root()) / "kafka" / version / "libs"


def is_fetched(pom: Path = DEFAULT_POM, cache_dir: Path | None = None) -> bool:
    """Whether the jars for this exact pom are already complete in the cache."""
    stamp = libs_dir(kafka_version(pom), cache_dir) / _COMPLETE_STAMP
    return stamp.is_file() and stamp.read_text().strip() == _digest(pom)


def fetch(
    pom: Path = DEFAULT_POM,
    *,
    cache_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> Path:
    """Resolve the broker's jars with ``mvn dependency:copy-dependencies``; returns the libs directory.

    Skipped when the cache already holds a complete copy for this pom (a stamp with the pom's digest is written
    last, so an interrupted download is redone). Jars land in a staging directory that is renamed into place, and
    a file lock keeps concurrent fetches (two test sessions, a Makefile and a test) from interleaving.
    """
    say = progress or _to_stderr
    version = kafka_version(pom)
    target = libs_dir(version, cache_dir)
    if is_fetched(pom, cache_dir):
        return target
    mvn = shutil.which("mvn")
    if mvn is None:
        raise KafkaFetchError(
            "Maven (mvn) is not on PATH; it fetches the Kafka broker's jars from Maven Central. "
            "Install it (e.g. `apt-get install maven`, with Java 17+) and retry."
        )
    with exclusive_lock(target.parent / ".fetch.lock"):
        if is_fetched(pom, cache_dir):
            return target
        staging = target.with_name("libs.partial")
        shutil.rmtree(staging, ignore_errors=True)
        log_file = target.parent / "mvn.log"
        say(f"Fetching Kafka {version} jars with Maven into {target} (first run only, about 45 MB)...")
        started = time.monotonic()
        goal = ["dependency:copy-dependencies", f"-DoutputDirectory={staging}"]
        command = [mvn, "-B", "-Dstyle.color=never", "-f", str(pom), *goal]
        returncode = _run_logged(command, log_file, say)
        if returncode != 0:
            raise KafkaFetchError(
                f"`{' '.join(command)}` failed with exit code {returncode}. "
                f"Last lines of {log_file}:\n{log_tail(log_file, 25)}"
            )
        jars = sorted(staging.glob("*.jar"))
        if not any(jar.name.startswith("kafka_2.13-") for jar in jars):
            raise KafkaFetchError(f"Maven succeeded but {staging} holds no kafka_2.13 jar; see {log_file}")
        (staging / _COMPLETE_STAMP).write_text(_digest(pom) + "\n")
        shutil.rmtree(target, ignore_errors=True)
        staging.rename(target)
        say(f"Kafka {version}: {len(jars)} jars ready in {time.monotonic() - started:.0f}s.")
    return target


def _run_logged(command: list[str], log_file: Path, say: Callable[[str], None]) -> int:
    """Run Maven with its output in ``log_file``, reporting every tenth downloaded artifact."""
    downloaded = 0
    with log_file.open("w") as log:
        process = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=log_file.parent,
        )
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            if line.startswith("Downloaded from"):
                downloaded += 1
                if downloaded % 10 == 0:
                    say(f"  ... {downloaded} artifacts downloaded")
        return process.wait()


def _digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def _to_stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
