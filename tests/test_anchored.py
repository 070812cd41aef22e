"""A pattern tried only at its lead words finds what its plain scan finds, match for match."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import parse, tone
from bot.text.anchored import Anchored, Index
from bot.text.folding import fold, words_of

_TONE = [value for value in vars(tone).values() if isinstance(value, Anchored)]
_PARSE = [value for value in vars(parse).values() if isinstance(value, Anchored)]
# The follow-up pattern as it was, with its reply-subject branch, which tone.py reads apart.
_FOLLOW_UP_WHOLE = re.compile(tone._FOLLOW_UP.pattern[:-1] + r"|^\s*re:)", re.MULTILINE)


def _pieces(patterns: list[re.Pattern[str]]) -> list[str]:
    """Every word the patterns spell, their parts, digits and the characters around words."""
    words = {w for p in patterns for w in re.findall(r"[a-z]+", p.pattern)}
    # Drop the letters of escapes (`\s`, `\b`, `\d`) and keep the rest whole and split.
    words -= {"s", "b", "d", "w"}
    parts = {w[:n] for w in words for n in (1, 2, 3) if len(w) > n}
    marks = [" ", "  ", "\n", "\t", "-", ".", ",", "!", "?", ":", "'", "_", "re:", "e-mail"]
    numbers = ["1", "2", "12", "123", "1234", "5th", "2nd", "٣", "²"]
    return sorted(words | parts) + marks + numbers + ["é", "İ", "ı", "ſ", "K", "SENT", "Still"]


_PIECES = _pieces([a.pattern for a in _TONE + _PARSE] + [_FOLLOW_UP_WHOLE, parse._EMAIL])
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=40).map("".join)


def _texts_around(pattern: re.Pattern[str]) -> st.SearchStrategy[str]:
    """Texts holding matches of `pattern` among other words, so matches are found, overlap and
    stand next to characters that break them."""
    parts = st.one_of(st.from_regex(pattern, fullmatch=True), st.sampled_from(_PIECES))
    return st.lists(parts, max_size=12).map("".join)


def _found(matches):
    return [(m.span(), m.groups()) for m in matches]


@pytest.mark.parametrize("anchored", _TONE + _PARSE, ids=lambda a: a.pattern.pattern[:30])
@settings(max_examples=200, deadline=None)
@given(data=st.data(), more=_TEXTS)
def test_anchored_pattern_finds_what_its_scan_finds(anchored, data, more):
    text = data.draw(_texts_around(anchored.pattern))
    low = fold(text)
    assert _found(anchored.finditer(Index(low, words_of(low)))) == _found(
        anchored.pattern.finditer(low)
    )
    # The words of a longer text that begins with this one (as parse_message passes) serve too.
    wider = Index(low, words_of(fold(text + " " + more)))
    assert _found(anchored.finditer(wider)) == _found(anchored.pattern.finditer(low))


@settings(max_examples=500, deadline=None)
@given(text=_texts_around(_FOLLOW_UP_WHOLE))
def test_follow_up_read_as_its_whole_pattern(text):
    low = fold(text)
    index = Index(low, words_of(low))
    split = bool(tone._FOLLOW_UP_AT.search(index) or tone._reply_subject(low))
    assert split == bool(_FOLLOW_UP_WHOLE.search(low))


@pytest.mark.parametrize(
    "text",
    ["re: voucher", "Re: Re: 71-621", "hello\nRE: still", "  re: no", "x\n re: no", "are: you"],
)
def test_reply_subject_only_at_a_line_start(text):
    low = fold(text)
    assert tone._reply_subject(low) == bool(_FOLLOW_UP_WHOLE.search(low))


def test_digit_runs_as_the_regex_finds_them():
    for text in ["a1 b22 _3 4x 5-6 ٣4 x٣ 2026-11-03", "no digits", "9", "x9 9x"]:
        expected = [m.start() for m in re.finditer(r"\b\d", text)]
        assert Index(text, set()).digit_runs() == expected


@settings(max_examples=300, deadline=None)
@given(text=_texts_around(parse._EMAIL))
def test_addresses_found_from_each_at_sign_as_by_a_scan(text):
    assert _found(parse._emails(text)) == _found(parse._EMAIL.finditer(text))
