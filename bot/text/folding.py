"""Lower-cased text that case-sensitive patterns read exactly as `re.IGNORECASE` reads the original,
and its words, which tell cheaply which patterns can match at all.

Python's `re` is several times slower with IGNORECASE: every letter is compared through a
case-mapping call, and an alternation can no longer skip the alternatives whose first letter
differs. So the parser lower-cases a message once and matches patterns of lower-case literals
against it. `str.lower()` agrees with the regex engine's case folding for every character but
three (tests/test_folding.py checks all of Unicode): "İ" lowers to two characters, and "ı" and
"ſ" match "i" and "s" under IGNORECASE. Folding those three first keeps every position, so a
span in the folded text is the same span of the original.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_FOLD = str.maketrans({"İ": "i", "ı": "i", "ſ": "s"})
# Letters of the words: Latin-1 letters too, but not the division sign between them.
WORD = re.compile(r"[a-zà-öø-ÿ]+")
_NON_ASCII = re.compile(r"[^\x00-\x7f]+")
# ASCII characters other than a-z, as blanks: on ASCII text, the runs of a pattern whose ASCII
# letters are a-z are what `str.split` leaves of the text translated by this (a third faster
# than `findall`).
_ASCII_NON_LETTERS = bytes(c if 97 <= c <= 122 else 32 for c in range(256))


def fold(text: str) -> str:
    """`text` lower-cased, position for position, as the regex engine folds case."""
    low = text.lower()
    if len(low) == len(text) and "ı" not in text and "ſ" not in text:
        return low
    return text.translate(_FOLD).lower()


def words_of(folded: str) -> set[str]:
    """The words of a folded text. A pattern's literal word bounded by `\\b` on both sides only
    matches where that word is in this set, so a missing word skips the pattern exactly."""
    return set(letter_runs(folded, WORD))


def letter_runs(text: str, pattern: re.Pattern[str]) -> list[str]:
    """`pattern.findall(text)` for a pattern of letter runs (`[a-z]+`, `WORD`): on ASCII text
    without `findall`."""
    if text.isascii():
        return blank_ascii(text, _ASCII_NON_LETTERS).split()
    return pattern.findall(text)


def blank_ascii(text: str, table: bytes) -> str:
    """`text` (ASCII) translated by a 256-byte table, through bytes: `bytes.translate` reads the
    table inline, where `str.translate` looks each character up in a mapping (under callgrind,
    about a fifth of the instructions, the encoding and decoding included)."""
    return text.encode().translate(table).decode()


def translate_non_ascii(text: str, table: Mapping[int, str | None]) -> str:
    """`text.translate(table)` for a table of non-ASCII characters only, translating just the
    text's runs of non-ASCII characters: `str.translate` reads a string that holds one
    character past ASCII through the table character by character (a dictionary look-up
    each), about three times slower on a message of a few accents or curly quotes."""
    if text.isascii():
        return text
    return _NON_ASCII.sub(lambda run: run.group().translate(table), text)
