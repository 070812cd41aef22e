"""What the program owes a candidate: vouchers earned and their scope, results, certifications."""

import re
from collections.abc import Sequence
from datetime import date, timedelta
from typing import Any

from bot.privacy.masking import mask_secret
from bot.records.catalogue import Catalogue, exam_facts
from bot.records.result import CheckResult, and_join, iso, no_records, plural
from bot.records.schemas import AttemptRow, CandidateRecords, VoucherRow

DEFAULT_RESULTS_WEEKS = (6, 8)


def vouchers(
    records: CandidateRecords | None, *, today: date, vouchers_per_beta_exam: int = 1, **_: Any
) -> CheckResult:
    """Entitled = beta exams taken (each once) x vouchers per exam; owed = entitled - issued."""
    if records is None:
        return no_records("vouchers")
    first_taken: dict[str, date] = {}
    for attempt in sorted(records.attempts, key=lambda a: a.taken_on):
        if attempt.beta and attempt.taken_on <= today:
            first_taken.setdefault(attempt.exam, attempt.taken_on)
    issued = sorted(records.vouchers, key=lambda v: v.issued_at)
    entitled = len(first_taken) * vouchers_per_beta_exam
    owed = max(0, entitled - len(issued))
    facts: dict[str, Any] = {
        "taken": len(first_taken),
        "beta_exams": [{"exam": e, "taken_on": iso(d)} for e, d in first_taken.items()],
        "entitled": entitled,
        "issued": len(issued),
        "owed": owed,
        "vouchers": [_voucher_facts(v) for v in issued],
    }
    if issued:
        facts["last_issued_at"] = iso(issued[-1].issued_at)
    took = and_join([f"{e} ({iso(d)})" for e, d in first_taken.items()])
    line = f"took {took} in the beta" if first_taken else "no beta exam taken on record"
    if issued:
        dates = and_join([f"{iso(v.issued_at)} ({mask_secret(v.code)})" for v in issued])
        line += f"; {plural(len(issued), 'voucher')} issued on {dates}"
    else:
        line += "; no voucher issued"
    line += f"; {owed} owed"
    reason = f"{owed} voucher(s) owed" if owed else "every voucher earned has been issued"
    return CheckResult("vouchers", facts, [line], settles=True, escalate=owed > 0, reason=reason)


def _voucher_facts(voucher: VoucherRow) -> dict[str, Any]:
    return {
        "code": mask_secret(voucher.code),
        "issued_at": iso(voucher.issued_at),
        "for_exam": voucher.for_exam,
        "scope": "any" if voucher.any_exam else voucher.scope,
        "redeemed_at": iso(voucher.redeemed_at),
    }


def voucher_scope(
    records: CandidateRecords | None, *, catalogue: Catalogue, exams: Sequence[str] = (), **_: Any
) -> CheckResult:
    """Does any unredeemed voucher cover the exam asked about?"""
    if records is None:
        return no_records("voucher_scope")
    open_ = [v for v in records.vouchers if v.redeemed_at is None]
    redeemed = len(records.vouchers) - len(open_)
    # the exam to spend it on: a live one (a message also names the beta that earned it)
    named = list(dict.fromkeys(exams))
    asked = [e for e in named if not getattr(catalogue.get(e), "beta", e.startswith("71-"))]
    asked = asked or named
    facts: dict[str, Any] = {"unredeemed": len(open_), "redeemed": redeemed, "exams": asked}
    exam = asked[0] if asked else None
    if not open_:
        what = f"all {plural(redeemed, 'voucher')} redeemed" if redeemed else "no voucher on record"
        facts["covers"] = False
        return CheckResult(
            "voucher_scope",
            facts,
            [what],
            settles=True,
            escalate=False,
            reason=what,
            exam=exam_facts(catalogue.get(exam)) if exam else None,
        )
    covering = [v for v in open_ if exam and v.covers(exam)]
    shown = covering[0] if covering else open_[0]
    facts |= {"code": mask_secret(shown.code), "scope": "any" if shown.any_exam else shown.scope}
    scope_text = "any exam" if shown.any_exam else ", ".join(shown.scope)
    line = f"unredeemed voucher {mask_secret(shown.code)} is valid for {scope_text}"
    if exam:
        facts["covers"] = bool(covering)
        line += f"; {'covers' if covering else 'does not cover'} {exam}"
    return CheckResult(
        "voucher_scope",
        facts,
        [line],
        settles=True,
        escalate=False,
        reason=line,
        exam=exam_facts(catalogue.get(exam)) if exam else None,
    )


def results(
    records: CandidateRecords | None,
    *,
    catalogue: Catalogue,
    exams: Sequence[str] = (),
    today: date,
    **_: Any,
) -> CheckResult:
    """Expected window = attempt date + the catalogue's weeks; overdue only after the window."""
    if records is None:
        return no_records("results")
    betas = [a for a in records.attempts if a.beta]
    if exams:
        betas = [a for a in betas if a.exam in exams]
    if not betas:
        what = "no beta attempt on record" + (f" for {and_join(list(exams))}" if exams else "")
        return CheckResult("results", {"attempts": []}, [what], False, False, what)
    rows = [_window(a, catalogue, today) for a in sorted(betas, key=lambda a: a.taken_on)]
    primary = next((r for r in rows if r["overdue"]), None)
    primary = primary or next((r for r in reversed(rows) if r["result"] == "pending"), rows[-1])
    lines = [_window_line(r) for r in rows]
    overdue = [r["exam"] for r in rows if r["overdue"]]
    reason = f"results overdue for {and_join(overdue)}" if overdue else "results within window"
    facts = {**primary, "attempts": rows}
    exam = exam_facts(catalogue.get(primary["exam"]))
    return CheckResult("results", facts, lines, True, bool(overdue), reason, exam=exam)


def _window(attempt: AttemptRow, catalogue: Catalogue, today: date) -> dict[str, Any]:
    entry = catalogue.get(attempt.exam)
    low, high = DEFAULT_RESULTS_WEEKS
    if entry is not None and entry.results_weeks_min is not None:
        low, high = entry.results_weeks_min, entry.results_weeks_max or entry.results_weeks_min
    expected_by = attempt.taken_on + timedelta(weeks=high)
    return {
        "exam": attempt.exam,
        "provider": attempt.provider,
        "taken_on": iso(attempt.taken_on),
        "result": attempt.result,
        "expected_from": iso(attempt.taken_on + timedelta(weeks=low)),
        "expected_by": iso(expected_by),
        "overdue": attempt.result == "pending" and today > expected_by,
    }


def _window_line(row: dict[str, Any]) -> str:
    line = f"took {row['exam']} on {row['taken_on']}: "
    if row["result"] != "pending":
        return line + f"result {row['result']}"
    line += f"result pending, expected {row['expected_from']} to {row['expected_by']}"
    return line + (" (overdue)" if row["overdue"] else "")


def certifications(
    records: CandidateRecords | None, *, catalogue: Catalogue, **_: Any
) -> CheckResult:
    """Passed exams that no granted certification names (by exam code or its live counterpart)."""
    if records is None:
        return no_records("certifications")
    passed = list(dict.fromkeys(a.exam for a in records.attempts if a.result == "pass"))
    names = [c.certification for c in records.certifications]
    missing = [e for e in passed if not any(_names(e, catalogue) & _codes_in(n) for n in names)]
    facts = {"passed": passed, "certifications": names, "missing": missing}
    held = ", ".join(names) or "none"
    lines = [f"passed: {', '.join(passed) or 'none'}; certifications: {held}"]
    if missing:
        lines.append(f"no certification for passed {and_join(missing)}")
        reason = f"passed {and_join(missing)} without a certification"
    else:
        reason = "every passed exam has its certification" if passed else "no passed exam"
    return CheckResult("certifications", facts, lines, not missing, bool(missing), reason)


def _names(exam: str, catalogue: Catalogue) -> set[str]:
    entry = catalogue.get(exam)
    counterpart = getattr(entry, "live_counterpart", None) if entry else None
    live = counterpart or ("70-" + exam[3:] if exam.startswith("71-") else exam)
    return {exam, live}


def _codes_in(name: str) -> set[str]:
    return {f"{a}-{b}" for a, b in re.findall(r"\b0?(\d{2})-(\d{3})\b", name)}
