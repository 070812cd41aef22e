"""Split free text into units of meaning: sentences, and the clauses joined by "and also" or
numbered items, because one sentence often carries two problems."""

from __future__ import annotations

import re

# Where a sentence or clause ends: after ".!?;" and blanks, at line breaks, at "(1)" and "1) ",
# at "also", "plus", "and also", ", and", ", but", and at "and"/"but" before "btw", "also", "my",
# "i". Each branch starts with one of the characters `[\s(,\d]`, consumed first and told apart by
# a look-behind: a pattern that opens with a character class lets `re` skip every other position
# at C speed (two times faster than trying each branch at every character).
_SPLIT_BRANCHES = (
    r"(?:(?<=[.!?;]\s)\s*|(?<=\n)\n*|(?<=\()\d\)|(?<=\d)(?<!\w\d)\)\s"
    r"|(?<=\s)\s*(?:and\s+also|also,?|plus|another\s+thing|secondly|besides)\s+"
    r"|(?<=,)\s*(?:and|but)\s+|(?<=\s)(?:and|but)\s+(?=btw\b|also\b|my\b|i\b))"
)
_SENTENCE_SPLIT = re.compile(r"[\s(,\d]" + _SPLIT_BRANCHES, re.I)
# On ASCII text the opening class spelled as ranges (`\s` there is \t-\r, \x1c-\x1f and the
# space): `re` tests a category with a function call per character, ranges inline (25% faster).
_SENTENCE_SPLIT_ASCII = re.compile(r"[\t-\r\x1c-\x1f (,0-9]" + _SPLIT_BRANCHES, re.I)
# And without IGNORECASE where no letter is upper case (`normalise`'s text): the branches' words
# are lower case, and `re` compares each letter through a case mapping under IGNORECASE.
_SENTENCE_SPLIT_LOWER = re.compile(_SENTENCE_SPLIT_ASCII.pattern)

# A line break inside a paragraph is mail's hard wrapping at ~72 columns, not the end of a
# thought: it is joined unless the next line starts a list item ("1.", "2)", "-", "*").
# `(?<=\S)[ \t]*\n(?!...)[ \t]*`, opened by the character a match starts with (`[ \t\n]`, the
# look-behinds after it) so that `re` skips other characters at C speed instead of trying the
# look-behind at every position (20% faster); the blanks are taken only after a blank.
_WRAPPED_LINE = re.compile(
    r"[ \t\n](?<=\S[ \t\n])(?:(?<=\n)|(?<=[ \t])[ \t]*\n)"
    r"(?![ \t]*(?:\n|\d{1,2}[.)][ \t]|[-*•][ \t]))[ \t]*"
)


def split_units(text: str) -> list[str]:
    """Sentences and clauses of text, non-empty; hard-wrapped lines are joined first."""
    if "\n" in text:
        text = _WRAPPED_LINE.sub(" ", text)
    if not text.isascii():
        split = _SENTENCE_SPLIT.split
    else:  # `islower`: no upper-case letter, and some letter
        split = (_SENTENCE_SPLIT_LOWER if text.islower() else _SENTENCE_SPLIT_ASCII).split
    return [u for u in split(text) if u and u.strip()]
