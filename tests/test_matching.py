"""The matcher: known issues, several at once, thanks, unknowns, determinism."""

from pathlib import Path

import pytest

from bot.matching import Matcher, get_matcher
from tests.conftest import KNOWLEDGE_DIR


@pytest.mark.parametrize(
    ("text", "issue"),
    [
        ("my voucher never arrived, I took 071-621 and 71-622 at Prometric", "voucher-missing"),
        ('Prometric says "A program error occurred" when I register', "registration-program-error"),
        ("The provider says I cannot register more than once for the retake",
         "retake-registration-blocked"),
        ("Can I use my beta voucher for 70-640?", "voucher-scope"),
        ("When do the 71-623 beta results come out?", "results-pending"),
        ("I never registered for 71-624 but Prometric sent me a confirmation",
         "unexpected-registration"),
        ("thanks, that worked", "not-a-request"),
    ],
)  # fmt: skip
def test_known_issues_are_recognised(matcher, text, issue):
    result = matcher.classify(text)
    assert result.issue == issue
    assert result.issues[0].id == issue
    assert 0.0 < result.confidence <= 1.0


def test_a_message_with_two_problems_reports_both(matcher):
    result = matcher.classify(
        "The promo code from my invitation is rejected by VUE. Also my voucher for 71-621 "
        "never arrived."
    )
    ids = [i.id for i in result.issues]
    assert set(ids) >= {"promo-code-rejected", "voucher-missing"}
    assert [i.score for i in result.issues] == sorted(
        (i.score for i in result.issues), reverse=True
    )


def test_a_closing_thanks_does_not_make_a_request_a_thank_you(matcher):
    result = matcher.classify("When will I get my beta result for 71-632? Thanks")
    assert result.issue == "results-pending"
    assert "not-a-request" not in [i.id for i in result.issues]


def test_off_topic_is_unknown(matcher):
    result = matcher.classify("What's the Wi-Fi password on the third floor?")
    assert result.issue is None
    assert result.issues == []


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "...", "12345"])
def test_empty_or_wordless_input_is_unknown(matcher, text):
    assert matcher.classify(text).issue is None


def test_classification_is_deterministic(knowledge):
    text = "vue rejects my code and I never got the invite for 71-630, 3rd time asking!!!"
    first = Matcher(knowledge).classify(text)
    second = Matcher(knowledge).classify(text)
    assert first.model_dump() == second.model_dump()


def test_explanation_names_the_deciding_phrases(matcher):
    result = matcher.classify('It says "A program error occurred" at the last step')
    kinds = {(e.issue, e.kind) for e in result.explanation}
    assert ("registration-program-error", "signal") in kinds
    assert ("registration-program-error", "example") in kinds


def test_typos_are_forgiven(matcher):
    assert matcher.classify("my vouncher never arived").issue == "voucher-missing"


def test_entities_and_signals_travel_with_the_result(matcher):
    result = matcher.classify("I have sent 5 emails!!! No voucher for 71-621 at Pearson VUE.")
    assert result.entities.exams == ["71-621"]
    assert result.entities.providers == ["vue"]
    assert result.signals.chasing == 5 and result.signals.angry


def test_contract_has_exactly_the_documented_fields(matcher):
    contract = matcher.classify("no voucher").contract()
    assert list(contract) == ["issue", "confidence", "issues", "entities"]
    assert list(contract["entities"]) == [
        "exams", "providers", "regions", "mcp_ids", "emails", "voucher_codes", "error_messages"
    ]  # fmt: skip


def test_get_matcher_builds_once_per_directory():
    assert get_matcher(KNOWLEDGE_DIR) is get_matcher(Path(str(KNOWLEDGE_DIR)))
