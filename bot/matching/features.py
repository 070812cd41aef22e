"""What the learned matcher reads: normalised text, its word and character n-grams, and the
parser's features (entities, error text, sentence mood, tone).

Training (`bot.matching.training`, scikit-learn) and inference (`bot.matching.model`, numpy)
both start here, so they see the same terms: training hands `word_terms` and `char_terms` to
scikit-learn's vectoriser as its analysers; inference finds the same character n-grams by
hashing code points with numpy (`char_hash` is the one hash, in Python for the vocabulary).
"""

from __future__ import annotations

import functools
import itertools
import re
import unicodedata

import numpy as np
from rapidfuzz import fuzz

from bot.matching.lexicon import SYNONYMS
from bot.text.folding import blank_ascii, letter_runs, translate_non_ascii
from bot.text.normalize import join_wrapped_lines, split_units
from bot.text.sentences import ASK, NEG, REQ, segmenter, sentence_mood
from bot.types import ParsedMessage

CHAR_MIN, CHAR_MAX = 3, 5
MAX_CHARS = 6_000  # a longer message is a paste; its opening carries the request
MAX_SENTENCES = 24
# A character n-gram's bucket: a polynomial over its code points modulo 2**32 (numpy's uint32
# arithmetic wraps the same way), a salt per length, then multiplicative hashing to BUCKET_BITS
# bits. The model learns buckets (the hashing trick), so a bucket never needs its n-grams back.
HASH_BASE = 1_000_003
HASH_MIX = 0x9E3779B1
HASH_SALT = {3: 0x3C6EF372, 4: 0xA54FF53A, 5: 0x510E527F}
BUCKET_BITS = 20
_MASK = (1 << 32) - 1

# Accents stripped by one `str.translate` (Latin letters: "código" -> "codigo", "prüfung" ->
# "prufung"); other scripts are kept as they are.
_ACCENTS = {
    c: unicodedata.normalize("NFKD", chr(c)).encode("ascii", "ignore").decode() or None
    for c in range(0xC0, 0x250)
    if unicodedata.normalize("NFKD", chr(c)) != chr(c)
}
_ACCENTS.update({ord("ß"): "ss", ord("’"): "'"})  # and "`" -> "'" (`normalise`: ASCII)
# An exam code; not after a digit, dot, dash or slash (checked in `_exam`: a pattern opening
# with a look-behind is searched character by character, one opening with "0" or "7" is not).
_EXAM = re.compile(r"(?:07|7)([01])[ \t]?[-–_.]?[ \t]?\d{3}(?!\d)")
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_URL = re.compile(r"https?://\S+|www\.\S+")
# Patterns that open with a character class, so `re` skips to where they can start at C speed
# (`\d+` opens with a repeat and is tried at every position).
_DIGITS = re.compile(r"\d\d*")
# `\d` is a Unicode category to `re`, each character tested by a function call; on ASCII text
# (4 messages in 5) digits are turned to "0" by a byte translation instead (`_zero_digits`).
_DIGITS_AS_ZERO = bytes(48 if 48 <= c <= 57 else c for c in range(256))
_SYNONYM_WORDS = frozenset(SYNONYMS)
_LETTERS = re.compile(r"[a-z]+")
_NEGATED = re.compile(r"n't\b")
WORD = re.compile(r"\w\w+")  # a word: scikit-learn's default token
_PROGRAM_ERROR = "a program error occurred"

# The parser's features, in column order; each is 0 or 1 (times DENSE_WEIGHT in the vector).
DENSE = (
    "exam_beta", "exam_live", "exams_several", "provider", "error_text", "program_error",
    "mcp_id", "code", "thanks", "angry", "chasing", "waiting", "asks", "denies", "requests",
    "question_mark", "short", "region",
)  # fmt: skip
DENSE_WEIGHT = 0.5


@functools.lru_cache(maxsize=1024)
def _synonyms(words: frozenset[str]) -> re.Pattern[str]:
    """A pattern of just the lexicon words a message has (one of them all is many times slower):
    `\b(?:longest|...|shortest)\b`, each word testing the boundary before it after it, so the
    pattern opens with the words' first letters and `re` skips to them at C speed (a leading
    `\b` is tried at every position)."""
    ordered = [re.escape(w) for w in sorted(words, key=lambda w: (-len(w), w))]
    return re.compile("(?:" + "|".join(rf"{w}(?<!\w{w})" for w in ordered) + r")\b")


def _exam(match: re.Match[str]) -> str:
    at = match.start()
    if at and (match.string[at - 1].isdecimal() or match.string[at - 1] in ".-/"):
        return match.group(0)
    return " examlive " if match.group(1) == "0" else " exambeta "


def normalise(text: str) -> str:
    """Lower case, accents stripped, exam codes as `exambeta`/`examlive`, addresses and links
    out, digits as 0, other languages' domain words in English; line breaks are kept (they
    separate sentences)."""
    text = text[:MAX_CHARS].lower()
    if "`" in text:  # first: no accent's ASCII letters hold one
        text = text.replace("`", "'")
    text = translate_non_ascii(text, _ACCENTS)
    text = text.replace("\x00", " ")
    if "http" in text or "www." in text:
        text = _URL.sub(" ", text)
    if "@" in text:
        text = _EMAIL.sub(" email ", text)
    if "7" in text:
        text = _EXAM.sub(_exam, text)
    text = _zero_digits(text) if text.isascii() else _DIGITS.sub("0", text)
    if "n't" in text:
        text = _NEGATED.sub(" not", text)
    present = _SYNONYM_WORDS.intersection(letter_runs(text, _LETTERS))
    if present:
        text = _synonyms(frozenset(present)).sub(lambda m: SYNONYMS[m.group(0)], text)
    return _one_blank(text)


def _one_blank(text: str) -> str:
    """Each run of blanks and tabs as one space: tabs as blanks, then pairs of blanks halved
    until none is left. `str.replace` finds a pair at C speed; a pattern stopped at every blank
    (most words end in one), which cost a fifth of normalising."""
    if "\t" in text:
        text = text.replace("\t", " ")
    while "  " in text:
        text = text.replace("  ", " ")
    return text


def _zero_digits(text: str) -> str:
    """`_DIGITS.sub("0", text)` on ASCII text: every digit as "0" by one byte translation,
    then runs of "0" halved until none is left (a pattern stopped at every digit)."""
    text = blank_ascii(text, _DIGITS_AS_ZERO)
    while "00" in text:
        text = text.replace("00", "0")
    return text


def flat(text: str) -> str:
    """One line, single spaces: the form the n-grams are taken from."""
    return " ".join(text.split())


def word_terms(text: str) -> list[str]:
    """Words of two or more characters and adjacent pairs (scikit-learn's default tokens)."""
    words = WORD.findall(text)
    return words + [f"{a} {b}" for a, b in itertools.pairwise(words)]


def char_terms(text: str) -> list[str]:
    """Character 3- to 5-grams of flat text, across word boundaries."""
    return [
        text[i : i + n] for n in range(CHAR_MIN, CHAR_MAX + 1) for i in range(len(text) - n + 1)
    ]


def char_hash(term: str) -> int:
    """The bucket of one character n-gram (the Python twin of `char_buckets`)."""
    h = 0
    for c in term:
        h = (h * HASH_BASE + ord(c)) & _MASK
    h = (h + HASH_SALT[len(term)]) & _MASK
    return ((h * HASH_MIX) & _MASK) >> (32 - BUCKET_BITS)


_B = np.uint32(HASH_BASE)
_B2 = np.uint32((HASH_BASE * HASH_BASE) & _MASK)
_MIX = np.uint32(HASH_MIX)
_SHIFT = np.uint32(32 - BUCKET_BITS)
_SALTS = {n: np.uint32(v) for n, v in HASH_SALT.items()}


def char_buckets(text: str) -> np.ndarray:
    """The buckets of `char_terms(text)`, in the same order, computed with numpy at once."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
    if len(codes) < CHAR_MIN:
        return np.empty(0, dtype=np.uint32)
    h3 = codes[:-2] * _B2 + codes[1:-1] * _B + codes[2:]
    h4 = h3[:-1] * _B + codes[3:]
    h5 = h4[:-1] * _B + codes[4:]
    out = np.concatenate((h3 + _SALTS[3], h4 + _SALTS[4], h5 + _SALTS[5]))
    out *= _MIX
    out >>= _SHIFT
    return out


def segments(parsed: ParsedMessage, text: str) -> tuple[str, list[tuple[int, int]], list[int]]:
    """The whole message (flat), its sentences as spans of it (at most MAX_SENTENCES) and each
    sentence's mood bits."""
    norm = normalise(text)
    whole = flat(norm)
    if norm.isascii():
        # Most messages: one pass in C (bot/text/_sentences.c) does what the loop below does,
        # three Python calls a sentence fewer; tests hold both to the plain patterns.
        spans, moods = segmenter().segment(join_wrapped_lines(norm), whole, MAX_SENTENCES)
        return whole, spans, moods
    spans, moods = [], []
    cursor = 0
    for unit in split_units(norm):
        unit = " ".join(unit.split())
        at = whole.find(unit, cursor)
        words = WORD.findall(unit) if at >= 0 else None
        if not words:
            continue
        spans.append((at, at + len(unit)))
        moods.append(sentence_mood(unit, words))
        cursor = at + len(unit)
        if len(spans) == MAX_SENTENCES:
            break
    return whole, spans, moods


def dense(parsed: ParsedMessage, whole: str, moods: list[int]) -> list[float]:
    """The parser's features of a message, in DENSE order."""
    return row_features(message_features(parsed), whole, moods)


def message_features(parsed: ParsedMessage) -> list[float]:
    """The features that are the same for the message and each of its sentences (those of a
    row's own text left at 0): computed once when several rows of a message are scored."""
    e, s = parsed.entities, parsed.signals
    beta = sum(x.startswith("71") for x in e.exams)
    values = (
        beta > 0, len(e.exams) > beta, len(e.exams) > 1, bool(e.providers),
        bool(e.error_messages), False, bool(e.mcp_ids), bool(e.voucher_codes), s.thanks,
        s.angry, s.chasing > 0, bool(s.waiting_days), False, False, False, False, False,
        bool(e.regions),
    )  # fmt: skip
    return [DENSE_WEIGHT * float(v) for v in values]


_ROW_ONLY = [DENSE.index(name) for name in
             ("program_error", "asks", "denies", "requests", "question_mark", "short")]  # fmt: skip


def row_features(message: list[float], whole: str, moods: list[int]) -> list[float]:
    """A row's features: `message_features` with those of the row's text (`whole`, a message
    or one sentence of it, and its moods)."""
    mood = 0
    for m in moods:
        mood |= m
    program_error = "error" in whole and (
        fuzz.partial_ratio(_PROGRAM_ERROR, whole, score_cutoff=88) > 0
    )
    own = (
        program_error, bool(mood & ASK), bool(mood & NEG), bool(mood & REQ), "?" in whole,
        whole.count(" ") < 6,
    )  # fmt: skip
    row = message.copy()
    for at, value in zip(_ROW_ONLY, own, strict=True):
        row[at] = DENSE_WEIGHT * float(value)
    return row
