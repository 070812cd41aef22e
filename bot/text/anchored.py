"""Patterns tried only where a match can start: before one of a few words, found with `str.find`.

A pattern that begins with `\\b(?:word|word|...)` has no literal prefix, so `re` tries it at every
position of the text: about 25 µs per 1,000 characters, for each pattern. But every match of such
a pattern starts at one of its lead words, standing whole in the folded text (bot/text/folding.py),
and a literal word is found at C speed. So the parser lists, once per text, where the few lead
words that the text holds stand, and tries the pattern only there. Tried in text order, skipping
what an earlier match used up, that gives the very matches `finditer` gives, provided the list of
lead words is complete; tests/test_anchored.py checks each pattern against its plain scan.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field


def _whole_word(word: str) -> re.Pattern[str]:
    # The look-behind comes last so the word stays a literal prefix, which `re` finds at C speed.
    return re.compile(rf"{re.escape(word)}(?!\w)(?<!\w{re.escape(word)})")


def _word_start(prefix: str) -> re.Pattern[str]:
    return re.compile(rf"{re.escape(prefix)}(?<!\w{re.escape(prefix)})")


@dataclass
class Index:
    """A folded text and its words, with where each asked-for word starts, found once."""

    low: str
    words: set[str] | frozenset[str]
    _starts: dict[str, list[int]] = field(default_factory=dict)
    _digits: list[int] | None = None

    def starts(self, word: str, finder: re.Pattern[str]) -> list[int]:
        found = self._starts.get(word)
        if found is None:
            found = self._starts[word] = [m.start() for m in finder.finditer(self.low)]
        return found

    def digit_runs(self) -> list[int]:
        """Where a run of digits starts after a non-word character (as `\\b\\d` matches)."""
        if self._digits is None:
            low = self.low
            if low.isascii():
                found = []
                for digit in "0123456789":
                    at = low.find(digit)
                    while at >= 0:
                        if at == 0 or not (low[at - 1].isalnum() or low[at - 1] == "_"):
                            found.append(at)
                        at = low.find(digit, at + 1)
                self._digits = sorted(found)
            else:
                self._digits = [m.start() for m in _DIGIT_RUN.finditer(low)]
        return self._digits


_DIGIT_RUN = re.compile(r"\d(?<!\w\d)")


class Anchored:
    """`pattern`, tried only at its lead words, at words starting with its lead prefixes, and
    (with `digits`) where a run of digits starts.

    `words`: every match may start with one of these as a whole word (a non-word character or the
    end follows it in every match). `prefixes`: or with a word that begins with one of these.
    `digits`: or at a run of digits (a set of words: only when the text holds one of them, as a
    digit branch like `\\d{1,2}(?:st|nd)\\s` needs). The pattern itself tests the boundary before
    its first word (`\\b`); a match never starts anywhere else, and it is never empty.
    """

    def __init__(
        self,
        pattern: re.Pattern[str],
        *,
        words: Iterable[str] = (),
        prefixes: Iterable[str] = (),
        digits: bool | Iterable[str] = False,
    ) -> None:
        self.pattern = pattern
        self._words = {w: _whole_word(w) for w in words}
        # intersected with a text's words: most texts hold one or two of a pattern's lead words,
        # and looping over all of them (up to 27) cost more than the searches
        self._word_set = frozenset(self._words)
        self._prefixes = {p: _word_start(p) for p in prefixes}
        self._digits = digits if isinstance(digits, bool) else frozenset(digits)

    def _candidates(self, index: Index) -> list[int]:
        starts: list[int] = []
        for word in self._word_set.intersection(index.words):
            starts += index.starts(word, self._words[word])
        for prefix, finder in self._prefixes.items():
            if prefix in index.low:
                starts += index.starts("*" + prefix, finder)
        if self._digits is True or (self._digits and not index.words.isdisjoint(self._digits)):
            starts += index.digit_runs()
        starts.sort()
        return starts

    def finditer(self, index: Index) -> Iterator[re.Match[str]]:
        """What `pattern.finditer(index.low)` yields."""
        end = 0
        match = self.pattern.match
        for at in self._candidates(index):
            if at < end:
                continue
            m = match(index.low, at)
            if m:
                yield m
                end = m.end()

    def search(self, index: Index) -> re.Match[str] | None:
        """What `pattern.search(index.low)` finds."""
        return next(self.finditer(index), None)
