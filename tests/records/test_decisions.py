"""Answer or escalate, from the facts; answers rendered from the issue's template."""

from datetime import UTC, date, datetime

import pytest

from bot.intake.decisions import decide
from bot.records.checks import run_check
from bot.records.identify import Identification
from tests.records.conftest import TODAY, records

VOUCHERS = (
    "{% if facts.owed > 0 %}{{ candidate.name }}: {{ facts.owed }} owed.{% else %}"
    "All {{ facts.issued }} issued, the latest on {{ facts.last_issued_at }}.{% endif %}"
)
CODES = "You are invited{% if exam %} to {{ exam.code }}{% endif %}. {{ facts }}"


def check(name, recs, catalogue, exams=()):  # type: ignore[no-untyped-def]
    return run_check(name, recs, catalogue=catalogue, exams=exams, today=TODAY)


def known(recs) -> Identification:  # type: ignore[no-untyped-def]
    return Identification(candidate=recs, via="email")


def go(issue, result, who, template=VOUCHERS, unavailable=False):  # type: ignore[no-untyped-def]
    return decide(issue_id=issue, check=result, identification=who, answer_template=template,
                  entities={"exams": []}, records_unavailable=unavailable)  # fmt: skip


def test_a_voucher_owed_escalates_with_the_count(catalogue) -> None:
    recs = records(attempts=[("71-621", date(2026, 3, 2), "pass")])
    decision = go("voucher-missing", check("vouchers", recs, catalogue), known(recs))
    assert decision.action == "escalate" and decision.reason == "1 voucher(s) owed"
    assert decision.answer == "Priya Raman: 1 owed."


def test_every_voucher_issued_is_answered_from_the_template(catalogue) -> None:
    recs = records(
        attempts=[("71-621", date(2026, 3, 2), "pass")],
        vouchers=[{"code": "ABCD-7Q2K", "issued_at": date(2026, 4, 2)}],
    )
    decision = go("voucher-missing", check("vouchers", recs, catalogue), known(recs))
    assert (decision.action, decision.answer) == (
        "answer",
        "All 1 issued, the latest on 2026-04-02.",
    )


def test_an_unidentified_candidate_is_asked_for_the_mcp_id(catalogue) -> None:
    decision = go("voucher-missing", check("vouchers", None, catalogue), Identification())
    assert decision.action == "ask-id" and "MCP ID" in (decision.answer or "")
    ambiguous = go("voucher-missing", check("vouchers", None, catalogue),
                   Identification(ambiguous=["1234567", "7654321"]))  # fmt: skip
    assert ambiguous.action == "ask-id" and "1234567, 7654321" in ambiguous.reason


@pytest.mark.parametrize(
    ("issue", "action"),
    [("not-a-request", "none"), (None, "escalate")],
)
def test_thanks_need_nothing_and_unknown_issues_go_to_a_person(issue, action) -> None:
    assert go(issue, None, None).action == action


def test_an_unexpected_registration_always_escalates(catalogue) -> None:
    recs = records(registrations=[{"exam": "71-621", "provider": "vue", "created_by": "candidate",
                                   "created_at": datetime(2026, 11, 1, tzinfo=UTC)}])  # fmt: skip
    result = check("registrations", recs, catalogue, ["71-621"])
    decision = go(
        "unexpected-registration", result, known(recs), "Created by {{ facts.created_by }}."
    )
    assert (decision.action, decision.answer) == ("escalate", "Created by candidate.")


def test_a_code_request_never_gets_the_code(catalogue) -> None:
    recs = records(invitations=[{"campaign": "wave-1", "exam": "71-621", "status": "sent",
                                 "sent_at": datetime(2026, 1, 5, tzinfo=UTC),
                                 "promo_code": "PROMO-SECRET-9XYZ"}])  # fmt: skip
    result = check("invitations", recs, catalogue, ["71-621"])
    decision = go("registration-code-request", result, known(recs), CODES)
    assert decision.action == "escalate"  # the owner resends it privately
    assert "9XYZ" not in (decision.answer or "") and "code" not in (decision.answer or "")
    not_invited = go("registration-code-request", check("invitations", records(), catalogue),
                     known(records()), "The beta is by invitation.")  # fmt: skip
    assert (not_invited.action, not_invited.answer) == ("answer", "The beta is by invitation.")


def test_results_within_the_window_are_answered_and_overdue_escalated(catalogue) -> None:
    template = "Expected {{ facts.expected_from }} to {{ facts.expected_by }} for {{ exam.code }}."
    recent = records(attempts=[("71-621", date(2026, 11, 2), "pending")])
    decision = go("results-pending", check("results", recent, catalogue), known(recent), template)
    assert decision.answer == "Expected 2026-12-14 to 2026-12-28 for 71-621."
    assert decision.action == "answer"
    late = records(attempts=[("71-621", date(2026, 3, 2), "pending")])
    assert (
        go("results-pending", check("results", late, catalogue), known(late)).action == "escalate"
    )


def test_exam_availability_needs_no_candidate(catalogue) -> None:
    result = check("availability", None, catalogue, ["71-630"])
    decision = go("exam-not-available", result, Identification(), "Opens {{ exam.opens_on }}.")
    assert (decision.action, decision.answer) == ("answer", "Opens 2026-12-07.")


def test_a_template_that_fails_is_escalated_not_half_sent(catalogue) -> None:
    recs = records(attempts=[("71-621", date(2026, 3, 2), "pass")],
                   vouchers=[{"code": "ABCD-7Q2K", "issued_at": date(2026, 4, 2)}])  # fmt: skip
    result = check("vouchers", recs, catalogue)
    decision = go("voucher-missing", result, known(recs), "{{ facts.owed.__class__.__mro__ }}")
    assert decision.action == "escalate" and decision.answer is None


def test_invitation_not_received_pending_is_answered_sent_is_resent(catalogue) -> None:
    def invited(status: str):  # type: ignore[no-untyped-def]
        return records(invitations=[{"campaign": "wave-2", "exam": "71-622", "status": status,
                                     "sent_at": None if status == "pending" else
                                     datetime(2026, 11, 1, tzinfo=UTC)}])  # fmt: skip

    for status, action in (("pending", "answer"), ("sent", "escalate"), ("bounced", "escalate")):
        recs = invited(status)
        result = check("invitations", recs, catalogue, ["71-622"])
        assert go("invitation-not-received", result, known(recs), "ok").action == action
