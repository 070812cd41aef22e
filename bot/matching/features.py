"""What the learned matcher reads: normalised text, its word and character n-grams, and the
parser's features (entities, error text, sentence mood, tone).

Training (`bot.matching.training`, scikit-learn) and inference (`bot.matching.model`, numpy)
both start here, so they see the same terms: training hands `word_terms` and `char_terms` to
scikit-learn's vectoriser as its analysers; inference finds the same character n-grams by
hashing code points with numpy (`char_hash` is the one hash, in Python for the vocabulary).
"""

from __future__ import annotations

import itertools
import re
import unicodedata

from rapidfuzz import fuzz

from bot.matching.lexicon import SYNONYMS
from bot.text.normalize import split_units
from bot.text.sentences import ASK, NEG, REQ, sentence_mood
from bot.types import ParsedMessage

CHAR_MIN, CHAR_MAX = 3, 5
MAX_CHARS = 6_000  # a longer message is a paste; its opening carries the request
MAX_SENTENCES = 24
# The hash of a character n-gram: a polynomial over its code points, modulo 2**64, plus its
# length times a constant (so n-grams of different lengths never share a key by construction).
HASH_BASE = 1_000_003
HASH_LENGTH = 0x9E3779B97F4A7C15
_MASK = (1 << 64) - 1

# Accents stripped by one `str.translate` (Latin letters: "código" -> "codigo", "prüfung" ->
# "prufung"); other scripts are kept as they are.
_ACCENTS = {
    c: unicodedata.normalize("NFKD", chr(c)).encode("ascii", "ignore").decode() or None
    for c in range(0xC0, 0x250)
    if unicodedata.normalize("NFKD", chr(c)) != chr(c)
}
_ACCENTS.update({ord("ß"): "ss", ord("’"): "'", ord("`"): "'"})
_EXAM = re.compile(r"(?<![\d.\-/])0?(7[01])[ \t]?[-–_.]?[ \t]?\d{3}(?!\d)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"https?://\S+|www\.\S+")
_DIGITS = re.compile(r"\d+")
_SYNONYM = re.compile(r"\b(?:" + "|".join(sorted(SYNONYMS, key=len, reverse=True)) + r")\b")
_SYNONYM_WORDS = frozenset(SYNONYMS)
_LETTERS = re.compile(r"[a-z]+")
_NEGATED = re.compile(r"n't\b")
_SPACES = re.compile(r"[ \t]+")
_WORD = re.compile(r"\w\w+")
_PROGRAM_ERROR = "a program error occurred"

# The parser's features, in column order; each is 0 or 1 (times DENSE_WEIGHT in the vector).
DENSE = (
    "exam_beta", "exam_live", "exams_several", "provider", "error_text", "program_error",
    "mcp_id", "code", "thanks", "angry", "chasing", "waiting", "asks", "denies", "requests",
    "question_mark", "short",
)  # fmt: skip
DENSE_WEIGHT = 0.5


def _exam(match: re.Match[str]) -> str:
    return " examlive " if match.group(1) == "70" else " exambeta "


def normalise(text: str) -> str:
    """Lower case, accents stripped, exam codes as `exambeta`/`examlive`, addresses and links
    out, digits as 0, other languages' domain words in English; line breaks are kept (they
    separate sentences)."""
    text = text[:MAX_CHARS].lower().translate(_ACCENTS).replace("\x00", " ")
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" email ", text)
    text = _EXAM.sub(_exam, text)
    text = _DIGITS.sub("0", text)
    if "n't" in text:
        text = _NEGATED.sub(" not", text)
    if not _SYNONYM_WORDS.isdisjoint(_LETTERS.findall(text)):
        text = _SYNONYM.sub(lambda m: SYNONYMS[m.group(0)], text)
    return _SPACES.sub(" ", text)


def flat(text: str) -> str:
    """One line, single spaces: the form the n-grams are taken from."""
    return " ".join(text.split())


def word_terms(text: str) -> list[str]:
    """Words of two or more characters and adjacent pairs (scikit-learn's default tokens)."""
    words = _WORD.findall(text)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def char_terms(text: str) -> list[str]:
    """Character 3- to 5-grams of flat text, across word boundaries."""
    return [
        text[i : i + n] for n in range(CHAR_MIN, CHAR_MAX + 1) for i in range(len(text) - n + 1)
    ]


def char_hash(term: str) -> int:
    h = 0
    for c in term:
        h = (h * HASH_BASE + ord(c)) & _MASK
    return (h + len(term) * HASH_LENGTH) & _MASK


def segments(parsed: ParsedMessage, text: str) -> tuple[str, list[tuple[int, int]], list[int]]:
    """The whole message (flat), its sentences as spans of it (at most MAX_SENTENCES) and each
    sentence's mood bits."""
    norm = normalise(text)
    whole = flat(norm)
    spans: list[tuple[int, int]] = []
    cursor = 0
    for unit in split_units(norm):
        unit = flat(unit)
        at = whole.find(unit, cursor) if _WORD.search(unit) else -1
        if at >= 0:  # a sentence is always found; a separator-only piece is skipped
            spans.append((at, at + len(unit)))
            cursor = at + len(unit)
            if len(spans) == MAX_SENTENCES:
                break
    moods = [sentence_mood(whole[a:b], _WORD.findall(whole[a:b])) for a, b in spans]
    return whole, spans, moods


def dense(parsed: ParsedMessage, whole: str, moods: list[int]) -> list[float]:
    """The parser's features of a message, in DENSE order."""
    e, s = parsed.entities, parsed.signals
    mood = 0
    for m in moods:
        mood |= m
    beta = sum(x.startswith("71") for x in e.exams)
    program_error = "error" in whole and (
        fuzz.partial_ratio(_PROGRAM_ERROR, whole, score_cutoff=88) > 0
    )
    values = (
        beta > 0, len(e.exams) > beta, len(e.exams) > 1, bool(e.providers),
        bool(e.error_messages), program_error, bool(e.mcp_ids), bool(e.voucher_codes),
        s.thanks, s.angry, s.chasing > 0, bool(s.waiting_days), bool(mood & ASK),
        bool(mood & NEG), bool(mood & REQ), "?" in whole, whole.count(" ") < 6,
    )  # fmt: skip
    return [DENSE_WEIGHT * float(v) for v in values]
