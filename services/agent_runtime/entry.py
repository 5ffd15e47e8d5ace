"""How the agent runtime is started: ``python -m services.agent_runtime --config FLEET`` or ``architect agent run``."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from services.agent_runtime.fleet_config import FleetConfig, FleetConfigError, load_fleet
from services.agent_runtime.service import AgentRuntime
from shared.service_runtime import run_service

#: Where the fleet file is read from when ``--config`` is not given (containers configure by environment).
FLEET_ENV = "ARCHITECT_AGENT_FLEET"
SERVICE_NAME = "agent-runtime"


def run_fleet(fleet: FleetConfig) -> None:
    """Host ``fleet`` in the foreground until SIGTERM/SIGINT, set up like every service (settings, logs, metrics)."""
    run_service(SERVICE_NAME, lambda settings, _database_url: AgentRuntime(settings, fleet))


def main(argv: Sequence[str] | None = None) -> None:
    """Parse the command line, load the fleet file and run it; configuration errors exit with status 2."""
    parser = argparse.ArgumentParser(prog="python -m services.agent_runtime", description="Host a fleet of agents.")
    parser.add_argument(
        "--config",
        default=os.environ.get(FLEET_ENV),
        help=f"fleet YAML file or bundled fleet name, e.g. demo (default: ${FLEET_ENV})",
    )
    args = parser.parse_args(argv)
    if not args.config:
        parser.error(f"a fleet file is required: --config FILE or ${FLEET_ENV}")
    try:
        fleet = load_fleet(args.config)
        run_fleet(fleet)
    except FleetConfigError as exc:
        print(exc, file=sys.stderr)
        sys.exit(2)
