"""Voting protocols: pure functions from one round of votes to an :class:`Outcome`.

Every protocol cleans the round the same way (:mod:`.ballot`: duplicates count once, equivocators are
flagged and dropped, outsiders ignored) and reports its tally, reasons and flagged voters.
"""

from services.consensus.protocols.ballot import Ballot
from services.consensus.protocols.bft import BftCommit, commit_quorum, tolerated_faults
from services.consensus.protocols.leader import LeaderTieBreak, elect_leader
from services.consensus.protocols.majority import Majority
from services.consensus.protocols.outcome import Outcome
from services.consensus.protocols.spec import ProtocolKind, ProtocolSpec
from services.consensus.protocols.supermajority import Supermajority
from services.consensus.protocols.threshold import Basis, parse_fraction
from services.consensus.protocols.unanimity import Unanimity
from services.consensus.protocols.vote import Vote
from services.consensus.protocols.voting_protocol import VotingProtocol
from services.consensus.protocols.weighted import Weighted

__all__ = [
    "Ballot",
    "Basis",
    "BftCommit",
    "LeaderTieBreak",
    "Majority",
    "Outcome",
    "ProtocolKind",
    "ProtocolSpec",
    "Supermajority",
    "Unanimity",
    "Vote",
    "VotingProtocol",
    "Weighted",
    "commit_quorum",
    "elect_leader",
    "parse_fraction",
    "tolerated_faults",
]
