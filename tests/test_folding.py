"""The folded text reads as IGNORECASE reads the original, and the word tests that skip a tone
pattern never skip one that would match."""

import re
import sys
from contextlib import contextmanager

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from bot.matching.features import _ACCENTS
from bot.privacy.masking import _FOLD
from bot.text import quoting, tone
from bot.text.folding import fold, translate_non_ascii, words_of

_EVERY_CHARACTER = "".join(chr(c) for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF)


def test_fold_keeps_every_position():
    assert len(fold(_EVERY_CHARACTER)) == len(_EVERY_CHARACTER)


def test_fold_matches_as_ignorecase_for_every_character():
    folded = fold(_EVERY_CHARACTER)
    for pattern in [*"abcdefghijklmnopqrstuvwxyz", r"\w", r"\s", r"\d", r"[a-zà-ÿ]", "é", "ü"]:
        assert [m.start() for m in re.finditer(pattern, _EVERY_CHARACTER, re.I)] == [
            m.start() for m in re.finditer(pattern, folded)
        ], pattern


_GATES = (
    "_may_be_angry", "_may_count_messages", "_may_count_times", "_may_lack_answer", "_may_wait",
    "_may_thank", "_may_shout",
)  # fmt: skip


@contextmanager
def _ungated():
    saved = {name: getattr(tone, name) for name in (*_GATES, "_may_follow_up")}
    for name in saved:
        setattr(tone, name, lambda *_: True)
    try:
        yield
    finally:
        for name, gate in saved.items():
            setattr(tone, name, gate)


_PIECES = [
    "still", "yet", "no", "one", "body", "nobody", "never", "got", "had", "answer", "answers",
    "sent", "emailed", "e-mail", "emails", "messages", "times", "second", "third", "5th", "2nd",
    "time", "request", "for", "since", "been", "more than", "waiting", "the last", "a", "an",
    "three", "12", "day", "days", "weeks", "month", "ago", "now", "already", "follow", "up",
    "following", "followups", "any", "updates", "news", "as", "you", "suggested", "my", "earlier",
    "re:", "i", "phoned", "them", "thank", "thanks", "thx", "it", "worked", "works", "all",
    "good", "received", "fed", "sick", "of", "make", "your", "minds", "ridiculous", "shameful",
    "scam", "İ", "ı", "ſ", "÷", "K", "SENT", "Still", " ", " ", "  ", "\n", "-", ",", ".", "!",
    "?", "'", "1", "WHY", "NOBODY", "ANSWERS", "MCP", "ÉTÉ",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_tone_gates_never_skip_a_match(pieces):
    text = "".join(pieces)
    gated = tone.read_signals(text)
    assert gated == tone.read_signals(text, words_of(fold(text + " and more")))
    with _ungated():
        assert tone.read_signals(text) == gated


@settings(max_examples=2000, deadline=None)
@given(
    st.lists(
        st.sampled_from(["ABC", "ABCD", "AB", "A", "x", " ", "1", "_", "É", "\ud800", "ÀBC", "Zz"]),
        max_size=20,
    ).map("".join)
)
@example("ABC ABC\nABCD")
@example("É\ud800ABC ABC 1ABC ABC")
def test_shouting_gate_passes_every_text_with_three_capitalised_words(text):
    if len(tone._CAPS_WORD.findall(text)) >= 3:
        assert tone._may_shout(text)


# Translating only the non-ASCII runs is the whole translation, for the tables it is used with.
_TABLES = {"accents": _ACCENTS, "code characters": _FOLD}
_MIXED = [
    "", "plain ascii, nothing to do", "código de prüfung", "Straße: GRÜẞE aus Köln ß",
    "naïve café’s résumé — “quoted” it’s", "मेरा वाउचर नहीं आया 71-621 please", "日本語のテキスト",
    "voucher 🎟️ never came 😡😡", "IN26\u20139F3D\u00a07Q2K\u200b", "ＡＢＣＤ－１２３４",
    "ǅemal Łukasz Øre Ærø ĳssel", "e\u0301 combining", "Ñandú\nséptimo\tpaso", "`back`tick’",
    "\x00\x7f\x80\xff", "ıİſ", "Ελληνικά και русский", "mixed é" * 50,
]  # fmt: skip


@pytest.mark.parametrize("table", _TABLES.values(), ids=_TABLES.keys())
@pytest.mark.parametrize("text", _MIXED)
def test_non_ascii_runs_translate_as_the_whole_text(table, text):
    assert translate_non_ascii(text, table) == text.translate(table)


@pytest.mark.parametrize("table", _TABLES.values(), ids=_TABLES.keys())
def test_the_tables_map_no_ascii_character(table):
    assert all(c > 0x7F for c in table)


_SCRIPTS = st.text(
    st.one_of(
        st.characters(max_codepoint=0x7F),
        st.characters(min_codepoint=0xA0, max_codepoint=0x24F),  # Latin-1 and Latin Extended
        st.sampled_from("ß’`“”—ıİſ\u00a0\u200b\u2013\uff10\uff21\uff41"),
        st.characters(min_codepoint=0x900, max_codepoint=0x97F),  # Devanagari
        st.characters(min_codepoint=0x1F300, max_codepoint=0x1FAFF),  # emoji
        st.characters(codec="utf-8"),
    ),
    max_size=80,
)


@settings(max_examples=500, deadline=None)
@given(_SCRIPTS)
def test_non_ascii_runs_translate_as_the_whole_text_for_any_text(text):
    for table in _TABLES.values():
        assert translate_non_ascii(text, table) == text.translate(table)


@settings(max_examples=300, deadline=None)
@given(_SCRIPTS)
def test_normalise_strips_accents_as_one_translation_did(text):
    # `normalise` once translated the whole text by one table that also held "`"
    before = text.translate({**_ACCENTS, ord("`"): "'"})
    assert translate_non_ascii(text.replace("`", "'"), _ACCENTS) == before


# Reply headers of every kind, then written in any case, with the characters IGNORECASE reads
# as other letters ("ſ" as "s", "ı" and "İ" as "i", the Kelvin sign as "k").
_HEADERS = [
    "On Mon, 3 May 2026, Ann Lee <ann@x.org> wrote:", "On Monday Ann Lee\nwrote:",
    "-- Original Message --", "---Forwarded   Message-----", "______________",
    "From: Ann\nTo: desk\nSent: Monday", "From: Ann\nDate: Monday", "Le lundi, Ann a écrit :",
    "Am Montag schrieb Ann Lee:", "El lunes, Ann escribió:",
]  # fmt: skip
_ODD_CASE = {"s": "ſ", "i": "ı", "I": "İ", "k": "\u212a"}


@settings(max_examples=2000, deadline=None)
@given(st.sampled_from(_HEADERS), st.lists(st.integers(0, 2), min_size=60, max_size=60),
       st.sampled_from(["", "hello\n", "x\n\n"]))  # fmt: skip
def test_the_history_gate_never_skips_a_header(header, changes, before):
    changed = "".join(
        (c, c.swapcase(), _ODD_CASE.get(c, c))[how] for c, how in zip(header, changes, strict=False)
    )
    text = before + changed + "\nolder text"
    if quoting._HISTORY_START.search(text):
        assert quoting._may_hold_history(fold(text))


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_words_of_ascii_text_are_the_runs_of_the_word_pattern(text):
    assert words_of(text) == set(re.findall(r"[a-zà-öø-ÿ]+", text))
