"""The blackboard as one runtime sees it: the last findings of each goal, and findings in a backend's output.

Workers share findings peer to peer (SEED-NOTES 1, hybrid coordination): a backend lists them in its output
under ``findings``, the runtime posts each as ``FindingPosted``, and every runtime keeps the most recent ones
per goal to hand to the next task of that goal.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Mapping
from typing import Any

from shared.events.catalogue.work import FindingPosted

FINDINGS_KEY = "findings"


class MalformedFindings(ValueError):
    """The output's ``findings`` are not a list of ``{"topic": str, "content": object}``."""


def findings_in(output: Mapping[str, Any], *, goal_id: str, task_id: str, agent_id: str) -> tuple[FindingPosted, ...]:
    """The findings a backend's output shares (none when it has no ``findings`` key)."""
    raw = output.get(FINDINGS_KEY)
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise MalformedFindings(f"'{FINDINGS_KEY}' must be a list, got {type(raw).__name__}")
    findings = []
    for index, item in enumerate(raw):
        if not isinstance(item, Mapping) or not isinstance(item.get("topic"), str) or not item["topic"]:
            raise MalformedFindings(f"{FINDINGS_KEY}[{index}] needs a non-empty string 'topic'")
        content = item.get("content", {})
        if not isinstance(content, Mapping):
            raise MalformedFindings(f"{FINDINGS_KEY}[{index}].content must be an object")
        findings.append(
            FindingPosted(goal_id=goal_id, task_id=task_id, agent_id=agent_id, topic=item["topic"], content=content)
        )
    return tuple(findings)


class Blackboard:
    """The last ``per_goal`` findings of at most ``max_goals`` goals (the least recently posted-to goes first).

    Findings are de-duplicated by event id, so a redelivered ``FindingPosted`` is kept once.
    """

    def __init__(self, per_goal: int = 20, max_goals: int = 1000) -> None:
        if per_goal < 0 or max_goals < 1:
            raise ValueError("per_goal must be non-negative and max_goals positive")
        self.per_goal = per_goal
        self.max_goals = max_goals
        self._goals: OrderedDict[str, deque[tuple[str, FindingPosted]]] = OrderedDict()

    def post(self, event_id: str, finding: FindingPosted) -> bool:
        """Remember a finding; False when it was already known or nothing is kept."""
        if self.per_goal == 0:
            return False
        recent = self._goals.get(finding.goal_id)
        if recent is None:
            recent = self._goals[finding.goal_id] = deque(maxlen=self.per_goal)
        elif any(known == event_id for known, _ in recent):
            return False
        recent.append((event_id, finding))
        self._goals.move_to_end(finding.goal_id)
        while len(self._goals) > self.max_goals:
            self._goals.popitem(last=False)
        return True

    def recent(self, goal_id: str) -> tuple[dict[str, Any], ...]:
        """The goal's recent findings, oldest first, as plain JSON objects."""
        return tuple(
            {"agent_id": f.agent_id, "task_id": f.task_id, "topic": f.topic, "content": dict(f.content)}
            for _, f in self._goals.get(goal_id, ())
        )
