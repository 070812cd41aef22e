"""Turn free text into comparable tokens: lower case, entity placeholders, stems, synonyms.

Knowledge examples and incoming messages go through the same functions, so "I never got the
invite for 071-621 at Pearson VUE" and "the invitation for the exam never arrived" share tokens.
"""

from __future__ import annotations

import re

from bot.matching.lexicon import STOPWORDS, SYNONYMS
from bot.text.regions import DESK_REGIONS, alias_table

# Entity mentions become the word the knowledge examples use for them.
_EXAM_CODE = re.compile(r"(?<![\d.\-/])0?7[01][ \t]?[-–_.]?[ \t]?\d{3}(?!\d)|\b\d{2}-\dxx\b", re.I)
_PROVIDER = re.compile(
    r"\b(?:p[ea]a?rson[\s-]*vue|pearsonvue|vue|pearson|prom(?:[ae]?t?r?[iy][ckx]s?|tric))\b", re.I
)
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"https?://\S+|www\.\S+", re.I)
_NEGATED = re.compile(r"n['’`]t\b", re.I)
_CANNOT = re.compile(r"\bcan['’`]?t\b|\bcannot\b|\bwon['’`]t\b", re.I)
_TOKEN = re.compile(r"[a-z]+")
_DIGIT = re.compile(r"\d")

# Units of meaning: sentences, and the clauses joined by "and also" or numbered items, because
# one sentence often carries two problems.
_SENTENCE_SPLIT = re.compile(
    r"(?<=[.!?;])\s+|\n+|\(\d\)|\b\d\)\s|\s+(?:and\s+also|also,?|plus|another\s+thing|secondly|besides)\s+"
    r"|,\s*(?:and|but)\s+|\s(?:and|but)\s+(?=btw\b|also\b|my\b|i\b)",
    re.I,
)

# A line break inside a paragraph is mail's hard wrapping at ~72 columns, not the end of a
# thought: it is joined unless the next line starts a list item ("1.", "2)", "-", "*").
_WRAPPED_LINE = re.compile(r"(?<=\S)[ \t]*\n(?![ \t]*(?:\n|\d{1,2}[.)][ \t]|[-*•][ \t]))[ \t]*")

_ALIASES = alias_table()
_DESK = frozenset(_ALIASES[a] for a in _ALIASES) & frozenset(DESK_REGIONS)
# Country names become "xcountry", desk regions "deskregion": naming a country is weak evidence
# of a restriction, while the word "country" ("not offered in my country") is strong.
_PLACE_WORDS = {
    a: ("deskregion" if _ALIASES[a] in _DESK else "xcountry")
    for a in _ALIASES
    if " " not in a and "." not in a and "/" not in a and "-" not in a
}
_PLACE_PAIRS = {
    a: ("deskregion" if _ALIASES[a] in _DESK else "xcountry") for a in _ALIASES if a.count(" ") == 1
}
_PAIR_STARTS = frozenset(a.split(" ")[0] for a in _PLACE_PAIRS)


def stem(word: str) -> str:
    """A light suffix stripper: enough to join plural, past and -ing forms of one word."""
    if len(word) <= 4:
        return word
    for suffix, repl in (
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
    ):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                continue
            if suffix == "es" and not word.endswith(("ses", "xes", "zes", "ches", "shes")):
                continue
            word = word[: -len(suffix)] + repl
            break
    if len(word) > 5 and word.endswith("e"):
        word = word[:-1]
    return word


def prepare(text: str) -> str:
    """Lower-case text with entity mentions replaced by the words the examples use."""
    text = text.lower()
    # Each substitution runs only when its cheap hint is present: most messages have no URL,
    # no e-mail address and no contraction.
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" email ", text)
    if _DIGIT.search(text):
        text = _EXAM_CODE.sub(" exam ", text)
    if "vue" in text or "prom" in text or "rson" in text:
        text = _PROVIDER.sub(" provider ", text)
    if "can" in text or "won" in text:
        text = _CANNOT.sub(" can not ", text)
    if "n't" in text or "n’t" in text or "n`t" in text:
        text = _NEGATED.sub(" not", text)
    return text


def split_units(prepared: str) -> list[str]:
    """Sentences and clauses of prepared text, non-empty; hard-wrapped lines are joined first."""
    if "\n" in prepared:
        prepared = _WRAPPED_LINE.sub(" ", prepared)
    return [u for u in _SENTENCE_SPLIT.split(prepared) if u and u.strip()]


def raw_words(unit: str) -> list[str]:
    return _TOKEN.findall(unit)


def canonical(word: str) -> list[str]:
    """One raw word to its canonical tokens (empty for stop words)."""
    place = _PLACE_WORDS.get(word)
    if place is not None:
        return [place]
    mapped = SYNONYMS.get(word)
    if mapped is not None:
        return mapped.split(" ")
    if word in STOPWORDS:
        return []
    stemmed = stem(word)
    mapped = SYNONYMS.get(stemmed)
    return mapped.split(" ") if mapped is not None else [stemmed]


def join_place_pairs(words: list[str]) -> list[str]:
    """Fold two-word place names ("united kingdom", "north america") into their placeholder."""
    if not _PAIR_STARTS.intersection(words):
        return words
    out: list[str] = []
    i = 0
    while i < len(words):
        pair = f"{words[i]} {words[i + 1]}" if i + 1 < len(words) else ""
        if pair in _PLACE_PAIRS:
            out.append(_PLACE_PAIRS[pair])
            i += 2
        else:
            out.append(words[i])
            i += 1
    return out
