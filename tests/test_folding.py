"""The folded text reads as IGNORECASE reads the original, and the word tests that skip a tone
pattern never skip one that would match."""

import re
import sys
from contextlib import contextmanager

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.text import tone
from bot.text.folding import fold, words_of

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
    "_may_thank",
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
    "?", "'", "1",
]  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=30))
def test_tone_gates_never_skip_a_match(pieces):
    text = "".join(pieces)
    gated = tone.read_signals(text)
    assert gated == tone.read_signals(text, words_of(fold(text + " and more")))
    with _ungated():
        assert tone.read_signals(text) == gated
