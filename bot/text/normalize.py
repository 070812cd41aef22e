"""Split free text into units of meaning: sentences, and the clauses joined by "and also" or
numbered items, because one sentence often carries two problems."""

from __future__ import annotations

import re

# Where a sentence or clause ends: after ".!?;" and blanks, at line breaks, at "(1)" and "1) ",
# at "also", "plus", "and also", ", and", ", but", and at "and"/"but" before "btw", "also", "my",
# "i". Each branch starts with one of the characters `[\s(,\d]`, consumed first and told apart by
# a look-behind: a pattern that opens with a character class lets `re` skip every other position
# at C speed (two times faster than trying each branch at every character). The branches, in the
# plain pattern's order; `re` passes over a branch that opens with a literal or a class without
# entering it when the next character differs, so "(1)" and "1) " open with their second
# character (their look-behinds after it), and the two branches of words after a blank share
# one look-behind.
_STOP = r"(?<=[.!?;]\s)\s*"
_BREAK = r"(?<=\n)\n*"
_ITEM = r"\d(?<=\(\d)\)"  # "(1)"
_NUMBERED = r"\)(?<=\d\))(?<!\w\d\))\s"  # "1) ", not "x1) "
_WORDS = (
    r"(?<=\s)(?:\s*(?:and\s+also|also,?|plus|another\s+thing|secondly|besides)\s+"
    r"|(?:and|but)\s+(?=btw\b|also\b|my\b|i\b))"
)
_COMMA = r"(?<=,)\s*(?:and|but)\s+"
_SPLIT_BRANCHES = "(?:" + "|".join((_STOP, _BREAK, _ITEM, _NUMBERED, _WORDS, _COMMA)) + ")"
_SENTENCE_SPLIT = re.compile(r"[\s(,\d]" + _SPLIT_BRANCHES, re.I)


# A line break inside a paragraph is mail's hard wrapping at ~72 columns, not the end of a
# thought: it is joined unless the next line starts a list item ("1.", "2)", "-", "*").
# `(?<=\S)[ \t]*\n(?!...)[ \t]*`, opened by the character a match starts with (`[ \t\n]`, the
# look-behinds after it) so that `re` skips other characters at C speed instead of trying the
# look-behind at every position (20% faster); the blanks are taken only after a blank.
_WRAPPED_LINE = re.compile(
    r"[ \t\n](?<=\S[ \t\n])(?:(?<=\n)|(?<=[ \t])[ \t]*\n)"
    r"(?![ \t]*(?:\n|\d{1,2}[.)][ \t]|[-*•][ \t]))[ \t]*"
)


def join_wrapped_lines(text: str) -> str:
    """Text with its hard-wrapped lines joined, as `split_units` reads it."""
    return _WRAPPED_LINE.sub(" ", text) if "\n" in text else text


def split_units(text: str) -> list[str]:
    """Sentences and clauses of text, non-empty; hard-wrapped lines are joined first. (Most
    messages are split by the compiled twin of this, `bot/text/_sentences.c`.)"""
    return [u for u in _SENTENCE_SPLIT.split(join_wrapped_lines(text)) if u and u.strip()]
