"""How every benchmark reports: titled tables headed by the machine, as text on stdout and as markdown."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.machine import Machine


@dataclass
class ResultTable:
    """Rows of figures under named columns; the first ``text_columns`` are left-aligned, figures right-aligned."""

    title: str
    columns: Sequence[str]
    text_columns: int = 1
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        """Append one row; cells are shown with ``str``."""
        if len(cells) != len(self.columns):
            raise ValueError(f"expected {len(self.columns)} cells, got {len(cells)}")
        self.rows.append([str(cell) for cell in cells])

    def render(self) -> str:
        """The table as aligned text, notes below it."""
        widths = [max(len(row[i]) for row in [list(self.columns), *self.rows]) for i in range(len(self.columns))]

        def line(cells: Sequence[str]) -> str:
            return "  ".join(
                cell.ljust(width) if i < self.text_columns else cell.rjust(width)
                for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        return "\n".join([self.title, rule, line(self.columns), rule, *(line(row) for row in self.rows), *self.notes])

    def markdown(self) -> str:
        """The table in GitHub markdown: bold title, pipes, figures right-aligned, notes as a list below."""

        def line(cells: Sequence[str]) -> str:
            return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

        alignment = ["---" if i < self.text_columns else "---:" for i in range(len(self.columns))]
        lines = [f"**{self.title}**", "", line(self.columns), line(alignment), *(line(row) for row in self.rows)]
        if self.notes:
            lines += ["", *(f"- {note}" for note in self.notes)]
        return "\n".join(lines)


@dataclass
class Outcome:
    """What one benchmark measured: its tables for people, its summary figures for machines."""

    bench: str
    machine: Machine
    tables: list[ResultTable]
    summary: dict[str, Any]


def publish_results(outcome: Outcome) -> Outcome:
    """Print the machine header, the tables and a one-line JSON summary (the last line of stdout)."""
    print()
    print("=" * 100)
    print(f"bench.{outcome.bench}")
    for header in outcome.machine.lines():
        print(header)
    print("=" * 100)
    for table in outcome.tables:
        print(table.render())
        print()
    print(json.dumps({"bench": outcome.bench, **outcome.summary, "machine": outcome.machine.to_dict()}, default=str))
    sys.stdout.flush()
    return outcome


def rate(count: float, seconds: float) -> float:
    """``count`` per second, 0 for an empty interval."""
    return count / seconds if seconds > 0 else 0.0


def thousands(value: float) -> str:
    """A number rounded to an integer, with thousands separators: 123,456."""
    return f"{value:,.0f}"
