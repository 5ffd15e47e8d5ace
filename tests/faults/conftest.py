"""The fault-injection suite: one stack for the package on the session's broker (which the broker tests stop and
start again on the same port and data directory), read models on a Postgres server of the suite's own.

Every test records the fault it injected and what came of it; the session ends with a table of them.
The 3-broker test (``test_broker_cluster``) runs its own lean stack on a cluster of its own; it sorts first, so
it runs before this package's stack is started, and the two never run at once on the 2-core CI machine.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from shared.infra import postgres_server
from shared.infra.kafka_broker import LocalKafka
from shared.settings import Settings
from tests.faults.harness import FaultStack, start_fault_stack, stop_fault_stack
from tests.infra_fixtures import TEST_KAFKA_NAME, TEST_KAFKA_PORT, keep_infra

#: The suite's own embedded Postgres server (the Postgres fault stops it; nobody else uses it).
POSTGRES_NAME = f"faults-{TEST_KAFKA_NAME}"


@dataclass
class FaultRow:
    fault: str
    outcome: str = "not run"
    seconds: float = 0.0
    detail: str = ""


FAULT_TABLE: list[FaultRow] = []


@pytest.fixture
def fault(request: pytest.FixtureRequest) -> FaultRow:
    """A row of the session's fault table: the test names its fault and fills in what held."""
    row = FaultRow(fault=request.node.name)
    FAULT_TABLE.append(row)
    request.node.stash[_ROW] = row
    request.node.stash[_STARTED] = time.monotonic()
    return row


_ROW = pytest.StashKey[FaultRow]()
_STARTED = pytest.StashKey[float]()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    row = item.stash.get(_ROW, None)
    if row is None or report.when not in ("setup", "call"):
        return
    if report.when == "call" or report.outcome != "passed":
        row.seconds = time.monotonic() - item.stash.get(_STARTED, time.monotonic())
        if hasattr(report, "wasxfail"):
            row.outcome = "xfailed" if report.outcome == "skipped" else "XPASS"
        else:
            row.outcome = report.outcome
        if report.failed:
            message = str(report.longrepr).strip().splitlines()
            row.detail = next((line for line in message if line.startswith("E ")), message[-1] if message else "")[:160]
    if report.failed:
        for value in getattr(item, "funcargs", {}).values():
            if isinstance(value, FaultStack):
                report.sections.append(("service logs", value.log_tails()))
                break


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not FAULT_TABLE:
        return
    terminalreporter.section("faults injected")
    width = max(len(row.fault) for row in FAULT_TABLE)
    terminalreporter.write_line(f"{'fault':<{width}}  {'outcome':<8} {'secs':>6}  what held / what broke")
    for row in FAULT_TABLE:
        terminalreporter.write_line(f"{row.fault:<{width}}  {row.outcome:<8} {row.seconds:>6.1f}  {row.detail}")


@pytest.fixture(scope="package")
def fault_postgres() -> Iterator[str]:
    already_running = postgres_server.running_url(POSTGRES_NAME) is not None
    try:
        url = postgres_server.start(POSTGRES_NAME, clean=True)
    except Exception as error:
        pytest.fail(f"the faults Postgres could not start ({type(error).__name__}): {error}", pytrace=False)
    yield url
    if not already_running and not keep_infra():
        postgres_server.stop(POSTGRES_NAME)


@pytest.fixture(scope="package")
def fault_stack(
    settings: Settings, fault_postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FaultStack]:
    kafka = LocalKafka(TEST_KAFKA_NAME, TEST_KAFKA_PORT)
    faults = start_fault_stack(settings, kafka, POSTGRES_NAME, tmp_path_factory.mktemp("faults"))
    try:
        yield faults
    finally:
        if not kafka.is_running():  # a broker test failed while the broker was down
            kafka.start()
        codes = stop_fault_stack(faults)
        print(f"\nfault stack stopped (exit codes {codes}); logs in {faults.stack.log_dir}")


@pytest.fixture
def faults(fault_stack: FaultStack) -> FaultStack:
    """The package's stack; every service must be up when a test starts."""
    fault_stack.alive()
    return fault_stack
