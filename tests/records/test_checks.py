"""Every check on its edge cases: no records, repeated attempts, redeemed vouchers, a restriction
added after the invitation, results exactly at the window's edge."""

from datetime import UTC, date, datetime, timedelta

import pytest

from bot.records.checks import CHECKS, run_check
from bot.records.result import CHECK_NAMES
from tests.records.conftest import TODAY, records


def run(name, recs, catalogue, exams=(), today=TODAY, per=1):  # type: ignore[no-untyped-def]
    return run_check(name, recs, catalogue=catalogue, exams=exams, today=today,
                     vouchers_per_beta_exam=per)  # fmt: skip


def voucher(code: str, issued: date, redeemed: date | None = None, scope: str = "any") -> dict:
    return {"code": code, "issued_at": issued, "scope": scope, "redeemed_at": redeemed}


# --- every check -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_every_check_survives_no_candidate_and_empty_records(name, catalogue) -> None:
    for recs in (None, records()):
        result = run(name, recs, catalogue)
        assert result.name == name
        assert result.summary and all(isinstance(line, str) for line in result.summary)
        assert not result.escalate or name == "availability"


def test_run_check_refuses_an_unknown_name(catalogue) -> None:
    with pytest.raises(ValueError, match="unknown check 'voucher'"):
        run("voucher", records(), catalogue)


def test_the_check_names_are_the_knowledge_files_names() -> None:
    assert set(CHECKS) == {
        "registrations", "invitations", "restriction", "availability",
        "vouchers", "voucher_scope", "results", "certifications",
    }  # fmt: skip


# --- vouchers --------------------------------------------------------------------------------


def test_two_betas_one_voucher_owes_one_and_escalates(catalogue) -> None:
    recs = records(
        attempts=[("71-621", date(2026, 3, 2), "pass"), ("71-622", date(2026, 3, 9), "fail")],
        vouchers=[voucher("ABCD-EFGH-7Q2K", date(2026, 4, 2))],
    )
    result = run("vouchers", recs, catalogue)
    assert (result.facts["entitled"], result.facts["issued"], result.facts["owed"]) == (2, 1, 1)
    assert result.escalate and result.settles
    assert result.summary == [
        "took 71-621 (2026-03-02) and 71-622 (2026-03-09) in the beta; "
        "1 voucher issued on 2026-04-02 (****-7Q2K); 1 owed"
    ]
    assert "ABCD-EFGH-7Q2K" not in str(result.to_dict())


def test_several_attempts_at_the_same_beta_earn_one_voucher(catalogue) -> None:
    recs = records(
        attempts=[("71-621", date(2026, 3, 2), "fail"), ("71-621", date(2026, 5, 4), "pass"),
                  ("71-621", date(2026, 6, 1), "pass", True, "vue")],
        vouchers=[voucher("VOUCH-0001", date(2026, 4, 2))],
    )  # fmt: skip
    result = run("vouchers", recs, catalogue)
    assert (result.facts["taken"], result.facts["owed"]) == (1, 0)
    assert not result.escalate
    assert result.facts["beta_exams"] == [{"exam": "71-621", "taken_on": "2026-03-02"}]


def test_redeemed_vouchers_still_count_as_issued(catalogue) -> None:
    recs = records(
        attempts=[("71-621", date(2026, 3, 2), "pass")],
        vouchers=[voucher("VOUCH-0001", date(2026, 4, 2), redeemed=date(2026, 5, 1))],
    )
    result = run("vouchers", recs, catalogue)
    assert (result.facts["issued"], result.facts["owed"]) == (1, 0)
    assert result.facts["vouchers"][0]["redeemed_at"] == "2026-05-01"


def test_live_exams_earn_no_voucher_and_the_rate_is_configurable(catalogue) -> None:
    recs = records(attempts=[("70-621", date(2026, 3, 2), "pass", False),
                             ("71-622", date(2026, 3, 9), "pass")])  # fmt: skip
    assert run("vouchers", recs, catalogue, per=2).facts["entitled"] == 2
    assert run("vouchers", recs, catalogue, per=2).facts["owed"] == 2


def test_no_beta_taken_owes_nothing_and_says_so(catalogue) -> None:
    result = run("vouchers", records(), catalogue)
    assert (result.facts["entitled"], result.facts["issued"], result.facts["owed"]) == (0, 0, 0)
    assert result.summary == ["no beta exam taken on record; no voucher issued; 0 owed"]


# --- voucher scope ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "asked", "covers"),
    [("any", "70-622", True), ("70-621;70-622", "70-622", True), ("70-621", "70-640", False)],
)
def test_voucher_scope_answers_whether_the_exam_is_covered(catalogue, scope, asked, covers) -> None:
    recs = records(vouchers=[voucher("SCOPE-1234", date(2026, 4, 2), scope=scope)])
    result = run("voucher_scope", recs, catalogue, exams=[asked])
    assert result.facts["covers"] is covers
    assert result.facts["code"] == "****-1234"
    assert result.settles and not result.escalate


def test_a_redeemed_voucher_covers_nothing(catalogue) -> None:
    recs = records(vouchers=[voucher("USED-1234", date(2026, 4, 2), redeemed=date(2026, 6, 1))])
    result = run("voucher_scope", recs, catalogue, exams=["70-621"])
    assert result.facts["covers"] is False
    assert result.summary == ["all 1 voucher redeemed"]


def test_voucher_scope_prefers_the_voucher_that_covers(catalogue) -> None:
    recs = records(vouchers=[voucher("NARROW-0001", date(2026, 4, 2), scope="70-640"),
                             voucher("WIDE-0002", date(2026, 4, 9))])  # fmt: skip
    result = run("voucher_scope", recs, catalogue, exams=["70-621"])
    assert (result.facts["covers"], result.facts["scope"]) == (True, "any")


# --- results ---------------------------------------------------------------------------------


def test_results_exactly_at_the_window_edge_are_not_overdue(catalogue) -> None:
    taken = date(2026, 9, 30)
    recs = records(attempts=[("71-621", taken, "pending")])
    at_edge = run("results", recs, catalogue, today=taken + timedelta(weeks=8))
    assert at_edge.facts["expected_by"] == "2026-11-25"
    assert not at_edge.facts["overdue"] and not at_edge.escalate
    day_after = run("results", recs, catalogue, today=taken + timedelta(weeks=8, days=1))
    assert day_after.facts["overdue"] and day_after.escalate


def test_results_window_comes_from_the_catalogue(catalogue) -> None:
    recs = records(attempts=[("71-630", date(2026, 9, 1), "pending")])
    result = run("results", recs, catalogue)
    assert (result.facts["expected_from"], result.facts["expected_by"]) == (
        "2026-10-13", "2026-11-10")  # fmt: skip
    assert result.exam and result.exam["code"] == "71-630"


def test_a_result_that_is_in_settles_without_escalating(catalogue) -> None:
    recs = records(attempts=[("71-621", date(2026, 3, 2), "pass")])
    result = run("results", recs, catalogue, exams=["71-621"])
    assert result.facts["result"] == "pass" and result.settles and not result.escalate


def test_several_attempts_report_the_overdue_one(catalogue) -> None:
    recs = records(attempts=[("71-621", date(2026, 3, 2), "pending"),
                             ("71-622", date(2026, 11, 2), "pending")])  # fmt: skip
    result = run("results", recs, catalogue)
    assert result.facts["exam"] == "71-621" and result.escalate
    assert len(result.summary) == 2 and result.summary[0].endswith("(overdue)")


def test_no_attempt_for_the_exam_asked_settles_nothing(catalogue) -> None:
    recs = records(attempts=[("71-621", date(2026, 3, 2), "pending")])
    result = run("results", recs, catalogue, exams=["71-622"])
    assert not result.settles and not result.escalate
    assert result.summary == ["no beta attempt on record for 71-622"]


# --- restriction -----------------------------------------------------------------------------


def _invite(exam: str, sent: datetime | None, status: str = "sent", campaign: str = "wave-1"):  # type: ignore[no-untyped-def]
    return {"campaign": campaign, "exam": exam, "sent_at": sent, "status": status,
            "promo_code": "PROMO-SECRET-9XYZ"}  # fmt: skip


def test_restricted_and_not_invited_is_answered(catalogue) -> None:
    recs = records(restrictions=[("71-621", date(2026, 2, 1))])
    result = run("restriction", recs, catalogue, exams=["71-621"])
    assert (result.facts["restricted"], result.facts["since"]) == (True, "2026-02-01")
    assert result.settles and not result.escalate


def test_a_restriction_added_after_the_invitation_escalates(catalogue) -> None:
    recs = records(
        invitations=[_invite("71-621", datetime(2026, 1, 5, 9, tzinfo=UTC))],
        restrictions=[("71-621", date(2026, 2, 1))],
    )
    result = run("restriction", recs, catalogue, exams=["71-621"])
    assert result.escalate and result.facts["invited"]
    assert result.facts["invited_before_restriction"] is True
    assert "invited before the restriction" in result.summary[0]


def test_invited_after_the_restriction_is_invited_anyway(catalogue) -> None:
    recs = records(
        invitations=[_invite("71-621", datetime(2026, 3, 5, 9, tzinfo=UTC))],
        restrictions=[("71-621", date(2026, 2, 1))],
    )
    result = run("restriction", recs, catalogue, exams=["71-621"])
    assert result.escalate and result.facts["invited_before_restriction"] is False
    assert result.reason == "restricted but invited anyway"


def test_another_country_or_exam_is_not_restricted(catalogue) -> None:
    recs = records(restrictions=[("71-622", date(2026, 2, 1))])
    result = run("restriction", recs, catalogue, exams=["71-621"])
    assert result.facts["restricted"] is False and result.settles and not result.escalate


# --- invitations -----------------------------------------------------------------------------


def test_a_bounced_invitation_escalates_for_a_resend(catalogue) -> None:
    recs = records(invitations=[_invite("71-621", datetime(2026, 1, 5, tzinfo=UTC), "bounced")])
    result = run("invitations", recs, catalogue, exams=["71-621"])
    assert (result.facts["status"], result.escalate) == ("bounced", True)
    assert "PROMO-SECRET-9XYZ" not in str(result.to_dict())
    assert result.facts["invitations"][0]["promo_code"] == "****-9XYZ"


def test_the_latest_invitation_is_the_one_reported(catalogue) -> None:
    recs = records(invitations=[
        _invite("71-621", datetime(2026, 1, 5, tzinfo=UTC)),
        _invite("71-621", datetime(2026, 6, 1, tzinfo=UTC), campaign="retake-2026", status="sent"),
    ])  # fmt: skip
    result = run("invitations", recs, catalogue, exams=["71-621"])
    assert (result.facts["campaign"], result.facts["retake"]) == ("retake-2026", True)
    assert result.facts["sent_at"] == "2026-06-01"


def test_not_on_the_list_settles_nothing(catalogue) -> None:
    recs = records(invitations=[_invite("71-622", datetime(2026, 1, 5, tzinfo=UTC))])
    result = run("invitations", recs, catalogue, exams=["71-621"])
    assert result.facts["on_list"] is False and not result.settles


# --- registrations ---------------------------------------------------------------------------


def test_registrations_show_who_created_them_and_when(catalogue) -> None:
    recs = records(registrations=[
        {"exam": "71-621", "provider": "vue", "created_at": datetime(2026, 11, 20, 14, tzinfo=UTC),
         "created_by": "agent", "scheduled_for": None},
    ])  # fmt: skip
    result = run("registrations", recs, catalogue, exams=["71-621"])
    assert result.facts["registered"] and result.facts["created_by"] == "agent"
    assert result.summary == ["registered for 71-621 at vue by agent on 2026-11-20; not scheduled"]
    assert result.reason == "1 registration(s) not made by the candidate"


def test_no_registration_for_the_exam(catalogue) -> None:
    result = run("registrations", records(), catalogue, exams=["71-621"])
    assert result.facts["registered"] is False
    assert result.summary == ["no registration on record for 71-621"]


# --- certifications --------------------------------------------------------------------------


def test_a_passed_beta_without_its_certification_escalates(catalogue) -> None:
    recs = records(
        attempts=[("71-621", date(2026, 3, 2), "pass"), ("71-622", date(2026, 3, 9), "pass"),
                  ("71-622", date(2026, 1, 9), "fail")],
        certifications=[("MCTS: Enterprise Desktops (70-622)", date(2026, 5, 1))],
    )  # fmt: skip
    result = run("certifications", recs, catalogue)
    assert result.facts["missing"] == ["71-621"] and result.escalate
    assert result.facts["passed"] == ["71-621", "71-622"]


def test_pending_and_failed_exams_need_no_certification(catalogue) -> None:
    recs = records(attempts=[("71-621", date(2026, 3, 2), "pending"),
                             ("71-622", date(2026, 3, 9), "fail")])  # fmt: skip
    result = run("certifications", recs, catalogue)
    assert result.facts["missing"] == [] and not result.escalate


# --- availability ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exam", "today", "open_", "escalate"),
    [
        ("71-630", date(2026, 12, 6), False, False),  # the day before it opens: answered
        ("71-630", date(2026, 12, 7), True, True),  # opening day: it should be listed
        ("71-621", TODAY, True, True),
        ("71-640", TODAY, False, True),  # no opening date in the catalogue
    ],
)
def test_availability_against_the_opening_date(catalogue, exam, today, open_, escalate) -> None:
    result = run("availability", None, catalogue, exams=[exam], today=today)
    assert (result.facts["open"], result.escalate) == (open_, escalate)


def test_an_exam_missing_from_the_catalogue_escalates(catalogue) -> None:
    result = run("availability", records(), catalogue, exams=["71-699"])
    assert result.escalate and result.facts["known"] is False


def test_voucher_scope_looks_at_the_live_exam_not_the_beta_that_earned_it(catalogue) -> None:
    recs = records(vouchers=[voucher("SCOPE-1234", date(2026, 4, 2), scope="70-621")])
    result = run("voucher_scope", recs, catalogue, exams=["71-621", "70-640"])
    assert result.facts["exams"] == ["70-640"] and result.facts["covers"] is False
