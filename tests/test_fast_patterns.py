"""The patterns rewritten for speed (they open with a character class, so `re` skips to where
they can start) split and normalise exactly as the plain patterns they replace."""

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.matching import features
from bot.matching.features import normalise, segments
from bot.matching.lexicon import SYNONYMS
from bot.privacy import masking
from bot.text import _sentences, folding, normalize, parse, quoting
from bot.text.folding import letter_runs
from bot.text.sentences import (
    _PLEASE,
    COMPLAINT,
    NEG,
    NEGATION,
    QUESTION_OPENERS,
    segmenter,
    sentence_mood,
)

# The plain patterns, as they read before the rewrite: the specification of the fast ones.
_PLAIN_SPLIT = re.compile(
    r"(?<=[.!?;])\s+|\n+|\(\d\)|\b\d\)\s|\s+(?:and\s+also|also,?|plus|another\s+thing|secondly|besides)\s+"
    r"|,\s*(?:and|but)\s+|\s(?:and|but)\s+(?=btw\b|also\b|my\b|i\b)",
    re.I,
)
_PLAIN_WRAPPED_LINE = re.compile(
    r"(?<=\S)[ \t]*\n(?![ \t]*(?:\n|\d{1,2}[.)][ \t]|[-*•][ \t]))[ \t]*"
)
_PLAIN_SPACES = re.compile(r"[ \t]+")
_PLAIN_DIGITS = re.compile(r"\d+")

# Pieces that meet every branch, and the characters that case-insensitive matching and the
# Unicode classes treat apart (dotless i, long s, Arabic-Indic digits, no-break space).
_PIECES = [
    " ", "  ", "\t", "\n", "\n\n", ".", "!", "?", ";", ",", "(", ")", "1", "23", "٣", "²",
    "a", "x", "_", "and", "AND", "also", "also,", "but", "plus", "another", "thing",
    "secondly", "besides", "btw", "my", "i", "I", "ı", "İ", "ſ", "\u00a0", "é", "`",
]  # fmt: skip
_TEXTS = st.lists(st.sampled_from(_PIECES), max_size=30).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_TEXTS)
def test_sentences_split_as_the_plain_pattern_splits(text):
    assert normalize._SENTENCE_SPLIT.split(text) == _PLAIN_SPLIT.split(text)


@settings(max_examples=2000, deadline=None)
@given(_TEXTS)
def test_blanks_and_digits_fold_as_the_plain_patterns_fold(text):
    assert features._one_blank(text) == _PLAIN_SPACES.sub(" ", text)
    assert features._DIGITS.sub("0", text) == _PLAIN_DIGITS.sub("0", text)


@settings(max_examples=1000, deadline=None)
@given(st.text(alphabet=st.sampled_from(["a", "B", " ", "`", "’", "é", "ß", "ü", "7", "1"])))
def test_ascii_text_skips_the_accent_table_with_the_same_result(text):
    # `through_table` has been through the accent table already: normalising it again takes
    # the table's path for non-ASCII text and the shortcut for ASCII text
    through_table = text.lower().translate(features._ACCENTS)
    assert normalise(text) == normalise(through_table)
    if text.isascii():
        assert "`" not in normalise(text)


# Every ASCII character, and pieces of the patterns' branches: the ASCII twins of the patterns
# that read `\s`, `\d` or `\w` must find what the Unicode ones find on any ASCII text.
_ASCII_TEXTS = st.lists(
    st.sampled_from([p for p in _PIECES if p.isascii()] + [chr(c) for c in range(128)]),
    max_size=40,
).map("".join)


@settings(max_examples=3000, deadline=None)
@given(_ASCII_TEXTS)
def test_digits_of_ascii_text_turn_to_zero_as_the_unicode_pattern_turns_them(text):
    assert features._zero_digits(text) == features._DIGITS.sub("0", text)


@settings(max_examples=4000, deadline=None)
@given(_TEXTS, st.booleans())
def test_units_split_as_the_plain_patterns_split(text, lower):
    text = text.lower() if lower else text
    joined = _PLAIN_WRAPPED_LINE.sub(" ", text)
    expected = [u for u in _PLAIN_SPLIT.split(joined) if u and u.strip()]
    assert normalize.split_units(text) == expected


def test_units_split_at_any_digit_of_an_item():
    assert normalize.split_units("x (٣) y") == ["x ", " y"]  # "٣" is `\d`, not `[0-9]`


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from([*_PIECES, "-", "*", "•", "1.", "12)", "\r", "\x0b"]),
                max_size=30).map("".join))  # fmt: skip
def test_wrapped_lines_join_as_the_plain_pattern_joins(text):
    assert normalize._WRAPPED_LINE.sub(" ", text) == _PLAIN_WRAPPED_LINE.sub(" ", text)


_DATE_PIECES = st.sampled_from(
    ["2026", "05", "5", "31", "-", " ", "x", "_", "1st", "3rd", "of", "may", "june", "sept.",
     ",", "a1", "b2c", "7q2k", "Z9"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_DATE_PIECES, max_size=20).map("".join))
def test_ascii_date_patterns_and_the_code_hint_find_what_the_unicode_ones_find(text):
    assert masking._may_mix(text) == bool(masking._MIXED_HINT.search(text))
    for fast, plain in [(parse._DATE_ISO_ASCII, parse._DATE_ISO),
                        (parse._DATE_DMY_ASCII, parse._DATE_DMY)]:  # fmt: skip
        assert [m.groups() for m in fast.finditer(text)] == [
            m.groups() for m in plain.finditer(text)
        ]
        assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(["2026", "05", "5", "31", "-", "--", " ", "x", "_", "٣", "7q2k"]),
                max_size=20).map("".join))  # fmt: skip
def test_iso_dates_tried_before_each_dash_are_those_finditer_finds(text):
    for low in (text, text + "é"):  # the ASCII twin and the Unicode pattern
        plain = parse._DATE_ISO_ASCII if low.isascii() else parse._DATE_ISO
        assert [m.span() for m in parse._iso_dates(low)] == [m.span() for m in plain.finditer(low)]


_SIGN_OFF_PIECES = st.sampled_from(
    ["\n", " ", "\t", ",", ".", "!", "Regards", "regards", "best", "Kind", "thanks", "Thanks",
     "you", "thank you", "cheers", "Ann", "Lee", "br", "tia", "x", "sincerely", "yours truly"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_SIGN_OFF_PIECES, max_size=24).map("".join), st.integers(0, 40), st.integers(0, 80))
def test_sign_offs_tried_at_line_starts_are_those_finditer_finds(text, start, end):
    for pattern, read in [
        (quoting._CLOSING_LINE, text.lower()),
        (quoting._CLOSING_WITH_NAME, text),
    ]:
        found = [
            m.span() for m in quoting._at_line_starts(pattern, read, start, min(end, len(read)))
        ]
        assert found == [m.span() for m in pattern.finditer(read, start, min(end, len(read)))]


@settings(max_examples=2000, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_letter_runs_are_the_letter_pattern_runs(text):
    for pattern in (features._LETTERS, folding.WORD):  # normalise's and words_of's
        assert letter_runs(text, pattern) == pattern.findall(text)


def _plain_sentences(text: str, whole: str, limit: int) -> tuple[list, list]:
    """What the compiled `Segmenter.segment` stands for, with the plain split pattern."""
    spans: list[tuple[int, int]] = []
    moods: list[int] = []
    cursor = 0
    for unit in (u for u in _PLAIN_SPLIT.split(text) if u and u.strip()):
        unit = " ".join(unit.split())
        at = whole.find(unit, cursor)
        words = features.WORD.findall(unit)
        if at >= 0 and words and len(spans) < limit:
            spans.append((at, at + len(unit)))
            moods.append(sentence_mood(unit, words))
            cursor = at + len(unit)
    return spans, moods


def _plain_segments(text: str) -> tuple[str, list[tuple[int, int]], list[int]]:
    """`segments` read the plain way: the plain patterns on the normalised text."""
    norm = normalise(text)
    whole = features.flat(norm)
    joined = _PLAIN_WRAPPED_LINE.sub(" ", norm)
    return whole, *_plain_sentences(joined, whole, features.MAX_SENTENCES)


_MOOD_PIECES = [
    *_PIECES, "not", "no", "is", "can", "please", "pls", "error", "help", "where", "didn't",
    "-", "_", "x_y", "a1", "?", "I can", "é", "ü", "\u00a0", ". ", "\n\n",
]  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(st.sampled_from(_MOOD_PIECES), max_size=40).map("".join))
def test_segments_read_the_sentences_and_moods_the_plain_way_reads(text):
    assert segments(None, text) == _plain_segments(text)  # type: ignore[arg-type]


_LOWER_ASCII_TEXTS = st.lists(
    st.sampled_from(
        [p for p in _MOOD_PIECES if p.isascii() and p == p.lower()]
        + ["and also", "another  thing", "also, ", "and\tmy", "but i'm", "but btw", ",and ",
           "x1) ", "1) ", "(7)", "\x0b", "\x1c", "\r", "\f", "where", "kindly", "resend", "when?"]
        + [chr(c) for c in range(128) if not "A" <= chr(c) <= "Z"]
    ),
    max_size=40,
).map("".join)  # fmt: skip


@settings(max_examples=4000, deadline=None)
@given(_LOWER_ASCII_TEXTS, st.one_of(st.none(), _LOWER_ASCII_TEXTS), st.integers(1, 30))
def test_compiled_sentences_are_what_the_plain_patterns_and_moods_read(text, other, limit):
    # `whole` is the text single-spaced, as `segments` passes it, or any text: the sentences are
    # looked for in it as `str.find` looks
    whole = features.flat(text) if other is None else other
    assert segmenter().segment(text, whole, limit) == _plain_sentences(text, whole, limit)


def test_compiled_sentences_refuse_what_they_cannot_read():
    for text in ("caf\u00e9 is closed", "Upper case"):
        with pytest.raises(ValueError):
            segmenter().segment(text, "x", 3)
    with pytest.raises(TypeError):
        segmenter().segment("text", None, 3)
    for words in (["x" * 17], ["caf\u00e9"], [3], [""]):
        with pytest.raises(ValueError):
            _sentences.Segmenter(words, [], [])
    # the cached reader is shared by the process: it is initialised once, and only whole
    reader = _sentences.Segmenter(["not"], [], [])
    with pytest.raises(TypeError):
        reader.__init__(["no"], ["x" * 17], [])
    assert reader.segment("not here. no there", "not here. no there", 5)[1] == [NEG, 0]
    with pytest.raises(TypeError):
        _sentences.Segmenter.__new__(_sentences.Segmenter).segment("no", "no", 1)
    # a limit past the machine's integers is no limit, as it is for the plain reading
    assert reader.segment("ab", "ab", 2**70) == ([(0, 2)], [0])
    assert reader.segment("ab", "ab", -(2**70)) == ([], [])
    assert all(len(w) > 1 for w in NEGATION | COMPLAINT | QUESTION_OPENERS | _PLEASE)


_SOME_SYNONYMS = [*sorted(SYNONYMS)[::7], "examen", "exame", "exames", "pls", "nicht"]


@settings(max_examples=2000, deadline=None)
@given(
    st.sets(st.sampled_from(_SOME_SYNONYMS), min_size=1, max_size=5),
    st.lists(st.sampled_from([*_SOME_SYNONYMS, " ", "x", "_", "1", "é", "-", "n"]), max_size=20),
)
def test_synonym_patterns_find_what_the_plain_word_pattern_finds(words, pieces):
    text = "".join(pieces)
    plain = re.compile(r"\b(?:" + "|".join(sorted(words, key=lambda w: (-len(w), w))) + r")\b")
    fast = features._synonyms(frozenset(words))
    assert [m.span() for m in fast.finditer(text)] == [m.span() for m in plain.finditer(text)]


_CODE_PIECES = st.sampled_from(
    ["code", "CODE", "Code", " ", "is", "was", ":", "=", "'", '"', "x9k2p7q1", "AB12-CD34",
     "-", "1", "a", "_", "İ", "é", "decode", "codes", "\n", "7Q2K", "Z"]
)  # fmt: skip


@settings(max_examples=3000, deadline=None)
@given(st.lists(_CODE_PIECES, max_size=20).map("".join))
def test_codes_after_the_word_and_the_mixed_hint_are_what_the_patterns_find(text):
    found = masking._after_word_code(text, text.lower())
    assert [m.span(1) for m in found] == [m.span(1) for m in masking.CODE_AFTER_WORD.finditer(text)]
    assert masking._may_mix(text) == bool(masking._MIXED_HINT.search(text))


def test_only_the_letters_of_code_match_them_ignoring_case():
    # `_after_word_code` finds "code" in the lower-cased text: no other character may match it
    others = "".join(chr(c) for c in range(0x110000) if not 0xD800 <= c <= 0xDFFF)
    assert {c.lower() for c in re.findall("(?i)[code]", others)} == set("code")
