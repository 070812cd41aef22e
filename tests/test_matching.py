"""The learned matcher: known issues, several at once, thanks, unknowns, other languages,
determinism, and a numpy vectoriser that is scikit-learn's, replayed."""

from pathlib import Path

import pytest

from bot.matching.matcher import Matcher, get_matcher
from bot.text.normalize import split_units
from bot.text.sentences import ASK, NEG, REQ, sentence_mood
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


def test_explanation_names_the_deciding_phrases_and_features(matcher):
    result = matcher.classify('It says "A program error occurred" at the last step')
    assert result.issue == "registration-program-error"
    found = {(e.kind, e.detail) for e in result.explanation}
    assert ("feature", "program_error") in found
    assert any(kind == "phrase" and "error" in detail for kind, detail in found)


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


@pytest.mark.parametrize(
    ("text", "issues"),
    [
        ("I registered for 71-630 at VUE last week and got the confirmation. Now the invitation "
         "says the code is invalid when I try to reschedule.", ["promo-code-rejected"]),
        ("My results for 71-624 came in, I passed, but my transcript does not show the MCTS.",
         ["transcript-missing-certification"]),
        ("I took 71-621 in March and the results came in May. Still no voucher though.",
         ["voucher-missing"]),
        ("I am registered for 71-628 on Friday. The site now says the exam is not available, "
         "what happened?", ["exam-not-available"]),
        ("Prometric says my country is excluded from 71-631. I got the invite from you anyway.",
         ["region-restricted"]),
        ("I failed 71-622 and the result came quickly. Can I retake it at VUE?",
         ["retake-registration-blocked"]),
        ("I am already registered for the 71-623 retake at Prometric but they now say I must "
         "phone.", ["retake-registration-blocked"]),
    ],
)  # fmt: skip
def test_context_sentences_add_no_second_issue(matcher, text, issues):
    """What the sender did or received ("I registered", "the results came") is context."""
    assert [i.id for i in matcher.classify(text).issues] == issues


def test_context_does_not_take_the_main_issue(matcher):
    """The question outweighs the context; the second stage (chosen out of fold, where context
    mentions often are further issues) may still list the issue the context names after it."""
    text = "I received my results and a voucher. When will the 71-640 beta open?"
    assert matcher.classify(text).issue == "exam-not-available"


def test_a_second_problem_in_its_own_sentence_is_still_reported(matcher):
    result = matcher.classify(
        "someone booked 71-629 for me at VUE, it wasn't me. also my results for 71-621 are late"
    )
    assert {i.id for i in result.issues} == {"unexpected-registration", "results-pending"}


def test_a_pronoun_reads_with_the_sentence_before(matcher):
    result = matcher.classify("I got my beta voucher in May. Is it valid for 70-640 as well?")
    assert [i.id for i in result.issues] == ["voucher-scope"]


def test_hard_wrapped_mail_lines_are_one_sentence_and_list_items_stay_apart():
    text = "I took the beta in May, but the voucher never\narrived.\n1. first item\n2. second"
    units = [u.strip() for u in split_units(text)]
    assert "the voucher never arrived." in units
    assert "first item" in units and "second" in units


def test_an_opening_thanks_in_a_long_message_is_no_crash_and_no_thank_you(matcher):
    # Five sentences: no whole-message reading, so "thanks" and "not" reach the thank-you issue
    # only as a signal and a negative.
    result = matcher.classify(
        "Thanks for the quick answer last time. I sat the 71-628 beta in January. The program "
        "promised a free voucher to every participant. I have not received anything yet. "
        "Could you please check?"
    )
    assert result.issue == "voucher-missing"


@pytest.mark.parametrize(
    ("sentence", "mood"),
    [
        ("I received the invitation for 71-630 in January", 0),
        ("my voucher never arrived", NEG),
        ("is it valid for 70-640?", ASK),
        ("please send the promo code", REQ),
        ("the site shows an error at the last step", REQ),
        ("I failed 71-622 in April", 0),  # an exam result, a fact
        ("where is my voucher", ASK | REQ),
    ],
)
def test_sentence_mood(sentence, mood):
    assert sentence_mood(sentence, sentence.lower().rstrip("?").split()) == mood


def test_search_results_are_not_exam_results(matcher):
    result = matcher.classify("The search on the VUE site gives no results for 71-633.")
    assert "results-pending" not in [i.id for i in result.issues]


def test_a_long_signal_carries_a_second_issue_in_a_terse_clause(matcher):
    result = matcher.classify(
        "never got my voucher for 71-621. the retake of 71-624 is blocked too: 'register more "
        "than once'"
    )
    assert {i.id for i in result.issues} == {"retake-registration-blocked", "voucher-missing"}
