"""`architect decisions request|vote|resolve|list|show`: ask agents to decide, and read the audit trail."""

from __future__ import annotations

import getpass
import json
import uuid
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from shared.cli.context import build_command, console, fail, publish_command, query_read_models
from shared.events.catalogue.decisions import CastVote, JudgeDecision, RequestDecision, ResolveDecision
from shared.events.envelope import Payload

app = typer.Typer(help="Decisions: questions agents decide by their tier's protocol.", no_args_is_help=True)


def _publish(decision_id: str, make: type[Payload], **fields: Any) -> None:
    publish_command(build_command(make, decision_id=decision_id, **fields), decision_id)


def _query(sql: str, *args: object) -> list[dict[str, Any]]:
    return query_read_models(sql, *args, models="decision")


@app.command("request")
def request(
    question: str = typer.Argument(..., help="What to decide"),
    tier: str = typer.Option("tactical", help="strategic | tactical | operational"),
    voter: list[str] = typer.Option(..., "--voter", "-v", help="An agent of the electorate (repeat)"),
    option: list[str] = typer.Option([], "--option", "-o", help="A possible answer (repeat; none: free answers)"),
    protocol: str | None = typer.Option(None, help="Replace the tier's stages by one vote (e.g. bft)"),
    via: str = typer.Option("tasks", help="tasks (a ballot task per voter) | commands (voters send CastVote)"),
    decision_id: str | None = typer.Option(None, "--id", help="Decision id (default: dec-<random>)"),
    requested_by: str = typer.Option(getpass.getuser(), "--as", help="Who asks"),
) -> None:
    """Publish RequestDecision; prints the decision id."""
    decision_id = decision_id or f"dec-{uuid.uuid4().hex[:10]}"
    _publish(
        decision_id,
        RequestDecision,
        question=question,
        tier=tier,
        electorate=voter,
        options=option or None,
        protocol=protocol,
        ballot_via=via,
        requested_by=requested_by,
    )
    console.print(decision_id)


@app.command("vote")
def vote(
    decision_id: str,
    choice: str,
    voter: str = typer.Option(..., "--as", help="The voting agent"),
    round_: int = typer.Option(1, "--round", help="The round voted in"),
    rationale: str = typer.Option("", help="Why"),
) -> None:
    """Publish CastVote for one voter."""
    _publish(decision_id, CastVote, voter=voter, choice=choice, round=round_, rationale=rationale)


@app.command("resolve")
def resolve(
    decision_id: str,
    choice: str,
    resolved_by: str = typer.Option(getpass.getuser(), "--as", help="Who decides"),
    comment: str = typer.Option("", help="Why"),
) -> None:
    """A human decides an escalated decision (ResolveDecision)."""
    _publish(decision_id, ResolveDecision, choice=choice, resolved_by=resolved_by, comment=comment)


@app.command("judge")
def judge(
    decision_id: str,
    correct_choice: str,
    judged_by: str = typer.Option(getpass.getuser(), "--as", help="Who judges"),
    comment: str = typer.Option("", help="How it was found out"),
) -> None:
    """Say which answer turned out right (JudgeDecision): the voters' track records, and so their weights, follow."""
    _publish(decision_id, JudgeDecision, correct_choice=correct_choice, judged_by=judged_by, comment=comment)


@app.command("list")
def list_decisions(
    status: str | None = typer.Option(None, help="Only decisions in this status (open, reached, escalated)"),
    limit: int = typer.Option(50, help="Show at most this many, newest first"),
    as_json: bool = typer.Option(False, "--json", help="Print JSON rows"),
) -> None:
    """Decisions from the read model, newest first."""
    rows = _query(
        "SELECT * FROM decisions WHERE (%s::text IS NULL OR status = %s) ORDER BY created_at DESC NULLS LAST LIMIT %s",
        status,
        status,
        limit,
    )
    if as_json:
        console.print_json(json.dumps(rows, default=str))
        return
    table = Table("decision", "tier", "status", "choice", "protocol", "round", "question", title="decisions")
    for row in rows:
        table.add_row(
            escape(row["decision_id"]),
            escape(row["tier"] or ""),
            escape(row["status"] or ""),
            escape(row["choice"] or ""),
            escape(row["decided_protocol"] or row["protocol_override"] or ""),
            str(row["current_round"] or ""),
            escape((row["question"] or "")[:60]),
        )
    console.print(table)


@app.command("show")
def show(decision_id: str, as_json: bool = typer.Option(False, "--json", help="Print JSON")) -> None:
    """One decision with its full audit trail: rounds, every vote (weight, rationale, counted or not), debate."""
    rows = _query("SELECT * FROM decisions WHERE decision_id = %s", decision_id)
    if not rows:
        fail(f"no decision {decision_id!r} in the read models")
    decision = rows[0]
    rounds = _query("SELECT * FROM decision_rounds WHERE decision_id = %s ORDER BY round", decision_id)
    votes = _query(
        "SELECT * FROM decision_votes WHERE decision_id = %s ORDER BY round, recorded_at, voter", decision_id
    )
    debate = _query(
        "SELECT * FROM decision_contributions WHERE decision_id = %s ORDER BY round, updated_at, agent", decision_id
    )
    if as_json:
        whole = {"decision": decision, "rounds": rounds, "votes": votes, "contributions": debate}
        console.print_json(json.dumps(whole, default=str))
        return
    console.print(f"[bold]decision[/] {escape(decision_id)}  [bold]tier[/] {escape(decision['tier'] or '')}")
    console.print(f"[bold]question[/] {escape(decision['question'] or '')}")
    console.print(
        f"[bold]status[/] {escape(decision['status'] or '')}  [bold]choice[/] {escape(decision['choice'] or '-')}"
    )
    if decision["decided_by"]:
        console.print(
            f"[bold]decided by[/] {escape(decision['decided_by'])} ({escape(decision['decided_protocol'] or '')})"
        )
    if decision["reason"]:
        console.print(f"[bold]reason[/] {escape(decision['reason'])}")
    console.print(f"[bold]electorate[/] {escape(', '.join(decision['electorate'] or []))}")
    round_table = Table("round", "kind", "protocol", "closed because", "outcome", "tally", title="rounds")
    for row in rounds:
        round_table.add_row(
            str(row["round"]),
            escape(row["kind"] or ""),
            escape(row["protocol"] or ""),
            escape(row["why"] or ""),
            escape(row["outcome_choice"] or ""),
            escape(json.dumps(row["round_tally"]) if row["round_tally"] else ""),
        )
    console.print(round_table)
    vote_table = Table("round", "voter", "choice", "weight", "status", "rationale / reason", title="votes")
    for row in votes:
        note = row["rationale"] or row["reason"] or ""
        weight = "" if row["weight"] is None else f"{row['weight']:.3f}"
        vote_table.add_row(
            str(row["round"]),
            escape(row["voter"]),
            escape(row["choice"]),
            weight,
            escape(row["status"] or ""),
            escape(note),
        )
    console.print(vote_table)
    if debate:
        debate_table = Table("round", "phase", "agent", "position", "text", title="debate")
        for row in debate:
            debate_table.add_row(
                str(row["round"]),
                escape(row["phase"]),
                escape(row["agent"]),
                escape(row["position"] or ""),
                escape((row["text"] or "")[:80]),
            )
        console.print(debate_table)
