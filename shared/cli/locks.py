"""`architect locks list|acquire|release`: file-edit leases, from the read models (``list``) or the replicated CRDT
state (``list --live``, and ``acquire`` waiting for its answer)."""

from __future__ import annotations

import getpass
import time
import uuid
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from services.locks.lock_table import FILE_LOCKS, live_lease
from shared.bus.reader import read_to_end
from shared.bus.topics import STATE_CRDT
from shared.cli.context import console, fail, publish_command, query_read_models, settings
from shared.crdt.hlc import HybridTimestamp
from shared.crdt.lww_map import LWWMap
from shared.crdt.replica import Replica
from shared.crdt.replication import BadCrdtRecord, MergedView
from shared.events.catalogue.locks import AcquireLock, ReleaseLock
from shared.events.envelope import Payload

app = typer.Typer(
    help="File-edit locks: leases decided by the lock manager, replicated for reads.", no_args_is_help=True
)


def _publish(path: str, payload: Payload) -> None:
    publish_command(payload, path)


def _leases() -> LWWMap:
    view = MergedView()
    for record in read_to_end(settings(), [STATE_CRDT]):
        if record.value is None:
            continue
        try:
            view.merge_record(record.value)
        except BadCrdtRecord:
            continue
    return view.get(FILE_LOCKS) or LWWMap()


def _decided(path: str, request_id: str) -> Any:
    def check(grants: LWWMap) -> Any:
        lease = grants.get(path)
        if isinstance(lease, dict) and (lease.get("request_id") == request_id or request_id in lease.get("denied", [])):
            return lease
        return None

    return check


def _projected() -> LWWMap:
    """The leases as the projector last wrote them (file_locks), as a map of the lock manager's lease values."""
    rows = query_read_models(
        "SELECT path, holder, request_id, task_id, granted_at, expires_at, denied FROM file_locks", models="lock"
    )
    grants = LWWMap()
    for n, row in enumerate(rows):
        lease = {
            "holder": row["holder"],
            "request_id": row["request_id"],
            "task_id": row["task_id"],
            "granted_at_ms": int(row["granted_at"].timestamp() * 1000) if row["granted_at"] else 0,
            "expires_at_ms": int(row["expires_at"].timestamp() * 1000) if row["expires_at"] else 0,
            "denied": list(row["denied"] or []),
        }
        grants = grants.set(row["path"], lease, HybridTimestamp(0, n, "read-models"))
    return grants


@app.command("list")
def list_locks(
    show_all: bool = typer.Option(False, "--all", help="Include expired leases"),
    live: bool = typer.Option(False, "--live", help="Read the replicated state from Kafka, not the read models"),
) -> None:
    """Leases held now: from the read models (file_locks), or with ``--live`` the lock manager's replicated map."""
    now_ms = int(time.time() * 1000)
    grants = _leases() if live else _projected()
    table = Table("path", "holder", "request", "task", "expires in", "refused", title="file locks")
    for path, lease in sorted(grants.items().items()):
        live = live_lease(grants, path, now_ms) is not None
        if not isinstance(lease, dict) or not (live or show_all):
            continue
        left = (int(lease["expires_at_ms"]) - now_ms) / 1000
        table.add_row(
            escape(path),
            escape(str(lease.get("holder") or "")),
            escape(str(lease.get("request_id") or "")),
            escape(str(lease.get("task_id") or "")),
            f"{left:,.0f} s" if live else "expired",
            str(len(lease.get("denied", []))),
        )
    console.print(table)


@app.command("acquire")
def acquire(
    path: str,
    agent: str = typer.Option(getpass.getuser(), "--as", help="Who asks"),
    lease_s: float = typer.Option(300.0, "--lease", help="Lease length in seconds"),
    wait_s: float = typer.Option(30.0, "--wait", help="How long to wait for the lock manager's answer (0: don't)"),
) -> None:
    """Ask for a lease; prints granted (exit 0) or who holds it (exit 3)."""
    request_id = f"cli-{uuid.uuid4().hex[:10]}"
    try:
        payload = AcquireLock(path=path, agent_id=agent, request_id=request_id, lease_s=lease_s)
    except ValueError as exc:
        fail(str(exc), code=2)
    with Replica(settings(), f"cli-{request_id}") as replica:
        _publish(path, payload)
        if wait_s <= 0:
            console.print(request_id)
            return
        try:
            lease = replica.wait_until(FILE_LOCKS, _decided(path, request_id), wait_s)
        except TimeoutError:
            fail(f"no answer from the lock manager within {wait_s:g}s (request {request_id})")
    if lease["request_id"] == request_id:
        console.print(f"granted {escape(path)} to {escape(agent)} (request {request_id})")
        return
    console.print(f"refused: {escape(path)} is held by {escape(str(lease['holder']))} (request {request_id})")
    raise typer.Exit(3)


@app.command("release")
def release(path: str, agent: str = typer.Option(getpass.getuser(), "--as", help="The holder")) -> None:
    """Give a lease back (ignored by the lock manager unless ``--as`` holds it)."""
    _publish(path, ReleaseLock(path=path, agent_id=agent, request_id=f"cli-{uuid.uuid4().hex[:10]}"))
