"""What a check returns: facts, the lines a human reads, whether they settle the question."""

from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

CHECK_NAMES = (
    "registrations",
    "invitations",
    "restriction",
    "availability",
    "vouchers",
    "voucher_scope",
    "results",
    "certifications",
)


@dataclass(frozen=True)
class CheckResult:
    """`facts` are JSON-safe with codes masked; `summary` lines go on the ticket as they are.

    `settles`: the facts answer the candidate's question. `escalate`: a person must act (`reason`
    says why). `exam`: the catalogue entry the check looked at, for answer templates.
    """

    name: str
    facts: dict[str, Any]
    summary: list[str]
    settles: bool
    escalate: bool
    reason: str
    exam: dict[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def no_records(name: str, what: str = "no records for this candidate") -> CheckResult:
    """No candidate to check: nothing settled, nothing to escalate on the records' account."""
    return CheckResult(name, {"found": False}, [what], settles=False, escalate=False, reason=what)


def unavailable_result(name: str, reason: str) -> CheckResult:
    """The records could not be read: a fact on the ticket, escalated, never an answer."""
    return CheckResult(
        name=name,
        facts={"records_unavailable": True, "reason": reason},
        summary=[f"records unavailable: {reason}"],
        settles=False,
        escalate=True,
        reason="records unavailable",
    )


def iso(value: date | datetime | None) -> str | None:
    """Dates as `2026-04-02`; timestamps by their UTC date too (what a reader needs)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date().isoformat()
    return value.isoformat()


def and_join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")
