"""User domain files: YAML operators and methods, validated with messages that say where the mistake is.

```yaml
operators:
  - name: lint                # unique; letters, digits, '_' and '-'
    capability: code          # what an agent must be able to do
    tier: worker              # worker | manager | approval (default worker)
    preconditions: [code_written]
    effects: [linted]
    removes: []
  - {name: roll_back_deployment, capability: deploy}
  - {name: smoke_test, capability: test}
methods:
  - name: implement_feature_linted
    task: implement_feature   # the abstract task (goal type) it decomposes
    when:                     # optional; all tests must pass
      facts: [repo_exists]
      absent_facts: [frozen]
      params: {language: python}          # equal to
      params_not: {skip_lint: true}       # not equal to (missing counts as not equal)
    ordering: partial         # sequential (default: each step after the previous) | partial
    steps:
      - {id: design, task: design}
      - {id: code, task: code, depends_on: [design]}
      - {id: lint, task: lint, depends_on: [code]}
      - {id: tests, task: tests, depends_on: [code]}
      - {id: review, task: review, depends_on: [lint, tests], requires_approval: true}
      - {id: deploy, task: deploy_staging, depends_on: [review], inputs: {target: "${environment}"},
         saga: release, compensation: roll_back_deployment}   # steps of one saga run as a saga
      - {id: smoke, task: smoke_test, depends_on: [deploy], saga: release}
```
User methods are tried before the base domain's methods for the same task.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.orchestrator.htn.builtin_domain import builtin_domain
from services.orchestrator.htn.conditions import Condition
from services.orchestrator.htn.domain import Domain
from services.orchestrator.htn.methods import Method, MethodStep
from services.orchestrator.htn.operators import Operator
from services.orchestrator.htn.problems import DomainProblem, InvalidDomain

_Name = Annotated[str, Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_-]+$")]


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OperatorSpec(_Spec):
    """An entry of `operators:`."""

    name: _Name
    capability: Annotated[str, Field(min_length=1, max_length=100)]
    tier: Literal["worker", "manager", "approval"] = "worker"
    preconditions: list[str] = []
    effects: list[str] = []
    removes: list[str] = []

    def build(self) -> Operator:
        """The Operator this entry describes."""
        return Operator(
            self.name,
            self.capability,
            self.tier,
            frozenset(self.preconditions),
            frozenset(self.effects),
            frozenset(self.removes),
        )


class ConditionSpec(_Spec):
    """A method's `when:` block."""

    facts: list[str] = []
    absent_facts: list[str] = []
    params: dict[str, Any] = {}
    params_not: dict[str, Any] = {}

    def build(self) -> Condition:
        """The Condition this block describes."""
        return Condition(frozenset(self.facts), frozenset(self.absent_facts), self.params, self.params_not)


class StepSpec(_Spec):
    """A step of a method."""

    id: _Name
    task: _Name
    depends_on: list[str] = []
    requires_approval: bool = False
    saga: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=60)] | None = None
    inputs: dict[str, Any] = {}
    compensation: _Name | None = None

    def build(self) -> MethodStep:
        """The MethodStep this entry describes."""
        return MethodStep(
            self.id,
            self.task,
            tuple(self.depends_on),
            self.requires_approval,
            self.saga,
            dict(self.inputs),
            self.compensation,
        )


class MethodSpec(_Spec):
    """An entry of `methods:`."""

    name: _Name
    task: _Name
    when: ConditionSpec = ConditionSpec()
    ordering: Literal["sequential", "partial"] = "sequential"
    candidate: bool = False
    steps: Annotated[list[StepSpec], Field(min_length=1)]

    def build(self) -> Method:
        """The Method this entry describes."""
        return Method(
            self.name,
            self.task,
            tuple(step.build() for step in self.steps),
            self.when.build(),
            self.ordering,
            self.candidate,
        )


class DomainSpec(_Spec):
    """A whole domain file."""

    operators: list[OperatorSpec] = []
    methods: list[MethodSpec] = []


def load_domain_file(path: str | Path, base: Domain | None = None) -> Domain:
    """Read a YAML domain file and return `base` (default: the built-in domain) extended with it.

    Raises `InvalidDomain` whose messages start with the file path and name the method, step and field.
    """
    path = Path(path)
    return load_domain_text(path.read_text(encoding="utf-8"), base=base, source=str(path))


def load_domain_text(text: str, base: Domain | None = None, source: str = "<domain>") -> Domain:
    """Like `load_domain_file` for YAML text; `source` names it in error messages."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise InvalidDomain([DomainProblem(f"not valid YAML: {error}")], source) from None
    return load_domain_dict({} if data is None else data, base=base, source=source)


def load_domain_dict(data: Any, base: Domain | None = None, source: str = "<domain>") -> Domain:
    """Like `load_domain_file` for already parsed data (e.g. a learned method stored in an event)."""
    base = builtin_domain() if base is None else base
    if not isinstance(data, dict):
        message = "expected a mapping with 'operators' and/or 'methods'"
        raise InvalidDomain([DomainProblem(message)], source)
    try:
        spec = DomainSpec.model_validate(data)
    except ValidationError as error:
        raise InvalidDomain([_locate(item, data) for item in error.errors()], source) from None
    try:
        return base.extended(
            (operator.build() for operator in spec.operators), (method.build() for method in spec.methods)
        )
    except InvalidDomain as error:
        raise InvalidDomain(error.problems, source) from None


def _locate(error: Any, data: dict[str, Any]) -> DomainProblem:
    """Turn a pydantic error location like ('methods', 1, 'steps', 0, 'task') into names."""
    loc = list(error["loc"])
    message = error["msg"]
    if len(loc) < 2 or loc[0] not in ("operators", "methods") or not isinstance(loc[1], int):
        return DomainProblem(message, field=".".join(map(str, loc)) or None)
    section, index, rest = loc[0], loc[1], loc[2:]
    entry = _item(data.get(section), index)
    label = str(entry.get("name") or f"#{index + 1}")
    step = None
    if section == "methods" and len(rest) >= 2 and rest[0] == "steps" and isinstance(rest[1], int):
        step = str(_item(entry.get("steps"), rest[1]).get("id") or f"#{rest[1] + 1}")
        rest = rest[2:]
    field = ".".join(map(str, rest)) or None
    if section == "operators":
        return DomainProblem(message, operator=label, field=field)
    return DomainProblem(message, method=label, step=step, field=field)


def _item(items: Any, index: int) -> dict[str, Any]:
    if isinstance(items, list) and index < len(items) and isinstance(items[index], dict):
        return items[index]
    return {}
