"""Who wrote this message? An MCP id in the text, then the Slack user, then the sender's address.

Two candidates matching the same key is reported as ambiguous, never guessed. A message naming
more than a handful of MCP ids is about none of them, and none is looked up: one mail naming
20,000 would otherwise cost 20,000 lookups (requests to the program's records API).
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

from bot.records.schemas import CandidateRecords
from bot.records.source import AmbiguousCandidate, RecordsSource, RecordsUnavailable

Via = Literal["mcp_id", "slack_user_id", "email"]
MAX_NAMED = 5  # distinct MCP ids a message may name and still be about one of them


@dataclass(frozen=True)
class Identification:
    """`candidate` is None when nobody (or more than one) matched; `ambiguous` lists the MCP ids
    that matched the same key; `via` names the key that identified the candidate."""

    candidate: CandidateRecords | None = None
    via: Via | None = None
    ambiguous: list[str] = field(default_factory=list)
    unavailable: str | None = None  # why the records could not be read

    @property
    def mcp_id(self) -> str | None:
        return self.candidate.mcp_id if self.candidate else None


def identify(
    source: RecordsSource,
    *,
    sender_email: str | None = None,
    slack_user_id: str | None = None,
    mcp_ids: Sequence[str] = (),
) -> Identification:
    """Try each key in turn; the first that matches exactly one candidate wins."""
    named = list(dict.fromkeys(mcp_ids))
    if len(named) > MAX_NAMED:
        return Identification()  # about too many people to be about one
    try:
        known = sorted({m for mcp in named for m in source.find(mcp_id=mcp)})
        if len(known) > 1:
            return Identification(via="mcp_id", ambiguous=known)
        if known:
            return _found(source, known[0], "mcp_id")
        for via, key in (("slack_user_id", slack_user_id), ("email", sender_email)):
            if not key:
                continue
            kwargs = {"slack_user_id": key} if via == "slack_user_id" else {"email": key}
            found = source.find(**kwargs)
            if len(found) > 1:
                return Identification(via=via, ambiguous=found)  # type: ignore[arg-type]
            if found:
                return _found(source, found[0], via)  # type: ignore[arg-type]
    except AmbiguousCandidate as exc:
        return Identification(ambiguous=exc.mcp_ids)
    except RecordsUnavailable as exc:
        return Identification(unavailable=str(exc))
    return Identification()


def _found(source: RecordsSource, mcp_id: str, via: Via) -> Identification:
    records = source.get(mcp_id)
    return Identification(candidate=records, via=via if records else None)
