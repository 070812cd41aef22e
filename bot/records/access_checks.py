"""Whether a candidate can sit an exam: registrations, invitations, region restrictions and the
exam's opening date."""

from collections.abc import Sequence
from datetime import UTC, date, datetime
from typing import Any

from bot.privacy.masking import mask_secret
from bot.records.catalogue import Catalogue, exam_facts
from bot.records.result import CheckResult, and_join, iso, no_records
from bot.records.schemas import CandidateRecords


def _asked(records: CandidateRecords, exams: Sequence[str], candidates: list[str]) -> list[str]:
    """The exams the message mentions, or else the ones the records hold (first seen first)."""
    return list(dict.fromkeys(exams)) or list(dict.fromkeys(candidates))


def availability(
    records: CandidateRecords | None,
    *,
    catalogue: Catalogue,
    exams: Sequence[str] = (),
    today: date,
    **_: Any,
) -> CheckResult:
    """Opening date against today: not yet open settles; open (or unknown) escalates."""
    if not exams:
        what = "no exam named"
        return CheckResult("availability", {"exams": []}, [what], False, False, what)
    code = exams[0]
    entry = catalogue.get(code)
    if entry is None:
        what = f"{code} is not in the exam catalogue"
        facts = {"exam": code, "known": False}
        return CheckResult("availability", facts, [what], False, True, what)
    facts = {"exam": code, "known": True, "opens_on": iso(entry.opens_on), "open": False}
    if entry.opens_on is None:
        what = f"{code} has no opening date in the catalogue"
        return CheckResult("availability", facts, [what], False, True, what, exam=exam_facts(entry))
    facts["open"] = entry.opens_on <= today
    if facts["open"]:
        what = f"{code} opened on {iso(entry.opens_on)}: it should be available"
    else:
        what = f"{code} opens on {iso(entry.opens_on)} (not yet open)"
    return CheckResult(
        "availability",
        facts,
        [what],
        not facts["open"],
        facts["open"],
        what,
        exam=exam_facts(entry),
    )


def restriction(
    records: CandidateRecords | None, *, catalogue: Catalogue, exams: Sequence[str] = (), **_: Any
) -> CheckResult:
    """Restricted for this exam in the candidate's country? Since when? Invited anyway?"""
    if records is None:
        return no_records("restriction")
    country = records.candidate.country
    asked = _asked(records, exams, [i.exam for i in records.invitations])
    if not asked:
        what = f"no exam named; country {country}"
        return CheckResult("restriction", {"country": country}, [what], False, False, what)
    code = asked[0]
    rule = next((r for r in records.restrictions if r.exam == code and r.country == country), None)
    invites = [i for i in records.invitations if i.exam == code and i.status != "pending"]
    facts: dict[str, Any] = {"exam": code, "country": country, "restricted": rule is not None}
    facts["invited"] = bool(invites)
    if rule is None:
        what = f"{code} is not restricted in {country}"
        info = exam_facts(catalogue.get(code))
        return CheckResult("restriction", facts, [what], True, False, what, info)
    facts["since"] = iso(rule.since)
    line = f"{code} is restricted in {country} since {iso(rule.since)}"
    reason = "restricted; not invited"
    if invites:
        sent = min((i.sent_at.date() for i in invites if i.sent_at), default=None)
        facts["invited_at"] = iso(sent)
        facts["invited_before_restriction"] = bool(sent and sent < rule.since)
        when = "before the restriction" if facts["invited_before_restriction"] else "anyway"
        line += f"; invited {when} (sent {iso(sent) or 'date unknown'})"
        reason = f"restricted but invited {when}"
    return CheckResult(
        "restriction", facts, [line], True, bool(invites), reason, exam_facts(catalogue.get(code))
    )


def registrations(
    records: CandidateRecords | None, *, catalogue: Catalogue, exams: Sequence[str] = (), **_: Any
) -> CheckResult:
    """Which registrations exist for the exam: who created them, when, and whether scheduled."""
    if records is None:
        return no_records("registrations")
    regs = [r for r in records.registrations if not exams or r.exam in exams]
    regs.sort(key=lambda r: r.created_at)
    exam = exams[0] if exams else (regs[-1].exam if regs else None)
    rows = [
        {
            "exam": r.exam,
            "provider": r.provider,
            "created_by": r.created_by,
            "created_at": _when(r.created_at),
            "scheduled_for": _when(r.scheduled_for) if r.scheduled_for else None,
        }
        for r in regs
    ]
    facts: dict[str, Any] = {"registered": bool(regs), "registrations": rows}
    info = exam_facts(catalogue.get(exam)) if exam else None
    if not regs:
        what = "no registration on record" + (f" for {and_join(list(exams))}" if exams else "")
        return CheckResult("registrations", facts, [what], True, False, what, info)
    facts |= rows[-1]
    lines = [
        f"registered for {r['exam']} at {r['provider']} by {r['created_by']} on "
        f"{r['created_at'][:10]}; "
        + (f"scheduled for {r['scheduled_for'][:10]}" if r["scheduled_for"] else "not scheduled")
        for r in rows
    ]
    others = [r for r in rows if r["created_by"] != "candidate"]
    reason = f"{len(others)} registration(s) not made by the candidate" if others else lines[-1]
    return CheckResult("registrations", facts, lines, True, False, reason, info)


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def invitations(
    records: CandidateRecords | None, *, catalogue: Catalogue, exams: Sequence[str] = (), **_: Any
) -> CheckResult:
    """On the invitation list? Sent when, from which campaign? Bounced?"""
    if records is None:
        return no_records("invitations")
    invites = [i for i in records.invitations if not exams or i.exam in exams]
    far_past = date.min
    invites.sort(key=lambda i: (i.sent_at.date() if i.sent_at else far_past, i.campaign))
    rows = [
        {
            "campaign": i.campaign,
            "exam": i.exam,
            "status": i.status,
            "sent_at": iso(i.sent_at),
            "promo_code": mask_secret(i.promo_code),
            "retake": "retake" in i.campaign.lower(),
        }
        for i in invites
    ]
    exam = exams[0] if exams else (rows[-1]["exam"] if rows else None)
    info = exam_facts(catalogue.get(exam)) if exam else None
    facts: dict[str, Any] = {"on_list": bool(rows), "invitations": rows}
    if not rows:
        what = "not on any invitation list" + (f" for {and_join(list(exams))}" if exams else "")
        return CheckResult("invitations", facts, [what], False, False, what, info)
    primary = rows[-1]
    facts |= {k: primary[k] for k in ("campaign", "exam", "status", "sent_at", "retake")}
    lines = [
        f"invited to {r['exam']} ({r['campaign']}): {r['status']}"
        + (f" on {r['sent_at']}" if r["sent_at"] else "")
        for r in rows
    ]
    bounced = primary["status"] == "bounced"
    reason = "invitation bounced: resend needed" if bounced else lines[-1]
    return CheckResult("invitations", facts, lines, True, bounced, reason, info)
