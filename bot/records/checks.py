"""The entitlement checks: pure functions of one candidate's records, the exam catalogue, the exams
the message mentions and today's date. Knowledge files name a check; `run_check` dispatches.

Every check handles `records=None` (no candidate) and empty records; codes are masked in facts.
"""

from collections.abc import Callable, Sequence
from datetime import date

from bot.records.access_checks import availability, invitations, registrations, restriction
from bot.records.catalogue import Catalogue
from bot.records.entitlement_checks import certifications, results, voucher_scope, vouchers
from bot.records.result import CHECK_NAMES, CheckResult
from bot.records.schemas import CandidateRecords

CHECKS: dict[str, Callable[..., CheckResult]] = {
    "registrations": registrations,
    "invitations": invitations,
    "restriction": restriction,
    "availability": availability,
    "vouchers": vouchers,
    "voucher_scope": voucher_scope,
    "results": results,
    "certifications": certifications,
}
assert tuple(CHECKS) == CHECK_NAMES


def run_check(
    name: str,
    records: CandidateRecords | None,
    *,
    catalogue: Catalogue,
    exams: Sequence[str] = (),
    today: date,
    vouchers_per_beta_exam: int = 1,
) -> CheckResult:
    """Run the check a knowledge file names; an unknown name is a programming error."""
    try:
        check = CHECKS[name]
    except KeyError:
        raise ValueError(f"unknown check {name!r} (known: {', '.join(CHECKS)})") from None
    return check(
        records,
        catalogue=catalogue,
        exams=list(exams),
        today=today,
        vouchers_per_beta_exam=vouchers_per_beta_exam,
    )


def run_all_checks(
    records: CandidateRecords | None,
    *,
    catalogue: Catalogue,
    exams: Sequence[str] = (),
    today: date,
    vouchers_per_beta_exam: int = 1,
) -> dict[str, CheckResult]:
    return {
        name: run_check(
            name,
            records,
            catalogue=catalogue,
            exams=exams,
            today=today,
            vouchers_per_beta_exam=vouchers_per_beta_exam,
        )
        for name in CHECKS
    }
