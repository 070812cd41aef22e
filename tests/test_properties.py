"""Any input gives an answer or a clear error, never a crash."""

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.matching.matcher import Classification
from bot.text.parse import parse_message

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


def _valid(result: Classification, matcher) -> None:
    assert result.issue is None or result.issue in matcher.kb.issues
    assert 0.0 <= result.confidence <= 1.0
    assert all(i.id in matcher.kb.issues for i in result.issues)


@SETTINGS
@given(st.text())
def test_any_unicode_text(matcher, text):
    _valid(matcher.classify(text), matcher)


@SETTINGS
@given(st.binary())
def test_binary_junk_decoded_leniently(matcher, data):
    _valid(matcher.classify(data.decode("utf-8", errors="replace")), matcher)


@SETTINGS
@given(
    st.lists(
        st.sampled_from(
            ["voucher", "71-621", "Prometric", "VUE", "!!!", "\n> ", "On Mon wrote:\n", "-- \n",
             "MCP ID 1234567", "code ABCD-1234", '"error"', "India", "US", "thanks", " ", "621"]
        ),
        max_size=40,
    )
)  # fmt: skip
def test_domain_shaped_fragments(matcher, parts):
    _valid(matcher.classify("".join(parts)), matcher)


def test_empty_input(matcher):
    result = matcher.classify("")
    assert result.issue is None and result.issues == []


def test_one_megabyte_of_text_is_answered_quickly(matcher):
    text = ("My voucher for 71-621 never arrived at Prometric. " * 21000)[:1_000_000]
    started = time.perf_counter()
    result = matcher.classify(text)
    assert result.issue == "voucher-missing"
    assert time.perf_counter() - started < 10


def test_one_megabyte_of_a_single_word():
    assert parse_message("a" * 1_000_000).entities.exams == []
