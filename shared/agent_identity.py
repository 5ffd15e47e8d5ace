"""Per-agent identity: the name an agent's events carry and the credential that proves it.

An agent is the ``agent_id`` it registered with. Its reports (``TaskStarted``/``TaskSucceeded``/``TaskFailed``)
carry ``producer = agent-runtime/<agent_id>`` and, when the deployment has an identity secret, an HMAC-SHA256
signature of the record value in the ``architect-agent-signature`` header, keyed by the agent's token:

    token(agent) = HMAC-SHA256(ARCHITECT_AGENT_IDENTITY_SECRET, "architect-agent:" + agent_id)

The assigner holds the secret and verifies; an agent runtime holds either the tokens of the agents it hosts
(``ARCHITECT_AGENT_TOKENS``) or, in a single-tenant deployment, the secret itself. One agent's token cannot
sign for another, so a runtime can only report for the agents whose tokens it was given. Pure functions.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Literal

SIGNATURE_HEADER = "architect-agent-signature"
#: Event types an agent reports about its work; only the assigner turns them into facts on the tasks topic.
REPORT_TYPES = frozenset({"TaskStarted", "TaskSucceeded", "TaskFailed"})
SignatureVerdict = Literal["valid", "invalid", "missing", "unchecked"]


class AgentTokensError(ValueError):
    """``ARCHITECT_AGENT_TOKENS`` is malformed; the message never contains a token."""


def producer_name(agent_id: str) -> str:
    """The envelope ``producer`` of events an agent emits."""
    return f"agent-runtime/{agent_id}"


def agent_token(secret: str, agent_id: str) -> str:
    """The credential of ``agent_id`` under the deployment's identity secret."""
    return hmac.new(secret.encode(), f"architect-agent:{agent_id}".encode(), hashlib.sha256).hexdigest()


def sign(token: str, value: bytes) -> bytes:
    """The signature header value of a record value, by an agent holding ``token``."""
    return hmac.new(token.encode(), value, hashlib.sha256).hexdigest().encode()


def verify(secret: str | None, agent_id: str, value: bytes | None, signature: bytes | None) -> SignatureVerdict:
    """Whether ``signature`` over ``value`` is ``agent_id``'s; ``unchecked`` when there is no secret."""
    if secret is None:
        return "unchecked"
    if not signature:
        return "missing"
    expected = sign(agent_token(secret, agent_id), value or b"")
    return "valid" if hmac.compare_digest(expected, signature) else "invalid"


def parse_tokens(spec: str) -> dict[str, str]:
    """``agent1=token1,agent2=token2`` as a map; errors name the entry's position, never a token."""
    tokens: dict[str, str] = {}
    for position, entry in enumerate((e.strip() for e in spec.split(",")), start=1):
        if not entry:
            continue
        agent_id, equals, token = entry.partition("=")
        if not equals or not agent_id.strip() or not token.strip():
            raise AgentTokensError(f"entry {position} of ARCHITECT_AGENT_TOKENS is not of the form agent=token")
        tokens[agent_id.strip()] = token.strip()
    return tokens


def tokens_for(agent_ids: list[str], secret: str | None, configured: Mapping[str, str]) -> dict[str, str]:
    """The token each hosted agent signs with: a configured one, else derived from the secret when present."""
    tokens = {agent_id: configured[agent_id] for agent_id in agent_ids if agent_id in configured}
    if secret is not None:
        for agent_id in agent_ids:
            tokens.setdefault(agent_id, agent_token(secret, agent_id))
    return tokens
