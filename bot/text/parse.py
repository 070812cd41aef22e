"""Read a candidate's message: the new text, the entities it names, and its tone.

Entities come from what the sender wrote, signature included (it often carries the MCP ID or
the country), but never from quoted reply history, which repeats older messages.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterator
from datetime import date, timedelta

from bot.privacy.masking import find_codes, mask_all, mask_secret
from bot.text.anchored import Anchored, Index
from bot.text.folding import WORD, fold, words_of
from bot.text.quoting import split_signature, strip_history
from bot.text.regions import alias_table
from bot.text.tone import read_signals
from bot.types import Entities, ParsedMessage

# --- entity patterns (compiled once, at import: they are constants, not configuration) -------
# Patterns of lower-case words read the folded text (bot/text/folding.py): matched
# case-sensitively there, they find what IGNORECASE finds in the original, several times faster.
# A pattern that starts at a word boundary before a digit tests the boundary after the first
# digit (`6(?<!\w6)` for `\b6`), so the engine only stops where that digit is.

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
# The part after the "@": where it fails, no start before that "@" can match (a start's run
# cannot pass an "@"), so that "@" is skipped instead of tried from every position before it.
_EMAIL_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)+\b")
_MCP_ID = re.compile(
    r"\b(?:mcp(?:[\s_-]*id)?|member[\s_-]*(?:id|number)|candidate[\s_-]*(?:id|number)|id)"
    r"\b[\s#:.=]*(?:(?:no\.?|number|is|was)\b)?[\s#:.=]*(\d{4,10})(?![\d-])"
)
# The character before a code is checked in Python: a leading look-behind would run at every
# position of the text and costs more than the rest of the pattern.
_EXAM_FULL = re.compile(r"0?(7[01])[ \t]?[-–_.]?[ \t]?(\d{3})(?![\d]|[ \t]?[-/.]?\d)")
_NOT_BEFORE_CODE = frozenset("0123456789.-/")
_EXAM_BARE = re.compile(r"(6(?<!\w6)\d{2})\b(?![\d]|[.,:/-]\d|\s*(?:%|am|pm|days?|weeks?))")
_NOT_BEFORE_BARE = frozenset("0123456789.-/$£€#:")
_EXAM_CONTEXT = re.compile(r"\b(?:exams?|beta|betas|tests?|retake|cert|transcript)\b")
_LIVE_CONTEXT = re.compile(r"\blive\b|\bnon-?beta\b")
_PROMETRIC = re.compile(r"\bprom(?:[ae]?t?r?[iy][ckx]s?|tric)\b")
_VUE = re.compile(r"\b(?:p[ea]a?rson[\s-]*vue|pearsonvue|vue|pearson)\b")
_US_ABBREV = re.compile(r"(?<![A-Za-z.])US(?![A-Za-z])")
# The third form is `(?<!\w)'…'`, with the look-behind after the quote: every form then
# starts with its quote mark, and the engine only stops at quote marks.
_QUOTED = re.compile(r"\"([^\"\n]{6,200})\"|“([^”\n]{6,200})”|'(?<!\w')([^'\n]{6,200})'(?!\w)")
_QUOTE_MARKS = ('"', "“", "'")
_ERRORISH = re.compile(
    r"\b(?:error|errors|invalid|not|cannot|can't|unable|fail\w*|occurred|denied|expired|exist|"
    r"allowed|found|available|eligible|sorry|problem|only|once|already)\b",
    re.IGNORECASE,
)
_MONTHS = {
    m: i + 1
    for i, names in enumerate(
        [("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
         ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
         ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"),
         ("dec", "december")]
    )
    for m in names
}  # fmt: skip
_MONTH = r"(" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_DATE_ISO = re.compile(r"(\d(?<!\w\d)\d{3})-(\d{2})-(\d{2})\b")
_DATE_DMY = re.compile(
    rf"(\d(?<!\w\d)\d?)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b"
)
# On ASCII text, the same patterns opening with `[0-9]`: `re` tests the Unicode `\d` by a
# function call at every character it skips, a range inline.
_DATE_ISO_ASCII = re.compile(r"([0-9](?<!\w[0-9])[0-9]{3})-([0-9]{2})-([0-9]{2})\b")
_DATE_DMY_ASCII = re.compile(
    rf"([0-9](?<!\w[0-9])[0-9]?)(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+([0-9]{{4}}))?\b"
)
_DATE_MDY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?")
_DATE_RELATIVE = re.compile(r"\b(today|yesterday)\b")

# Patterns that begin at a word boundary, tried only where their first word stands
# (bot/text/anchored.py). Prefixes, not whole words, where a match's first word may run on
# ("MCPID", "pearsonvue") or where the text read is the blanked copy, whose words are not counted.
_MCP_ID_AT = Anchored(_MCP_ID, prefixes=("mcp", "member", "candidate", "id"))
_PROMETRIC_AT = Anchored(_PROMETRIC, prefixes=("prom",))
_VUE_AT = Anchored(_VUE, prefixes=("vue", "person", "parson", "pearson", "paarson"))
_DATE_MDY_AT = Anchored(_DATE_MDY, words=_MONTHS)
# An address is a run of these characters before its "@".
_EMAIL_CHARS = frozenset(".+-_")


def _build_place_table() -> tuple[dict[tuple[str, ...], str], frozenset[str], int]:
    """Place names keyed by their words: "U.K." and "uk" differ, "asia/pacific" and "asia
    pacific" do not. Looking words up is much faster than one regex of 200 alternatives."""
    table = {tuple(WORD.findall(alias)): name for alias, name in alias_table().items()}
    return table, frozenset(k[0] for k in table), max(len(k) for k in table)


_PLACES, _PLACE_FIRST_WORDS, _PLACE_MAX_WORDS = _build_place_table()
_PLACE_SINGLES = frozenset(k[0] for k in _PLACES if len(k) == 1)


def _multi_word_places() -> dict[str, tuple[frozenset[str], ...]]:
    """The names of several words, by their first word: a text without that word holds none of
    them (27 subset tests a message cost more than the rest of `_may_name_a_place`)."""
    by_first: dict[str, tuple[frozenset[str], ...]] = {}
    for key in _PLACES:
        if len(key) > 1:
            by_first[key[0]] = (*by_first.get(key[0], ()), frozenset(key))
    return by_first


_PLACE_MULTI = _multi_word_places()
_PLACE_MULTI_FIRST = frozenset(_PLACE_MULTI)


def _may_name_a_place(words: set[str]) -> bool:
    return not words.isdisjoint(_PLACE_SINGLES) or any(
        k <= words for first in _PLACE_MULTI_FIRST.intersection(words) for k in _PLACE_MULTI[first]
    )


_MONTH_WORDS = frozenset(_MONTHS)


def _unique(items: list[str]) -> list[str]:
    # most lists are empty or of one: no dictionary for them
    return list(dict.fromkeys(items)) if len(items) > 1 else list(items)


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace spans with spaces so later patterns cannot match inside them."""
    if not spans:
        return text
    pieces, cursor = [], 0
    for start, end in sorted(spans):
        start = max(start, cursor)
        pieces += [text[cursor:start], " " * max(0, end - start)]
        cursor = max(cursor, end)
    pieces.append(text[cursor:])
    return "".join(pieces)


def _iso_dates(low: str) -> Iterator[re.Match[str]]:
    """`_DATE_ISO.finditer(low)` (its ASCII twin on ASCII text), tried only four characters
    before each "-": every match has its first dash there, where the scan stopped at every
    digit of the text (exam codes and MCP IDs are full of them)."""
    pattern = _DATE_ISO_ASCII if low.isascii() else _DATE_ISO
    end, at = 0, low.find("-", 4)
    while at >= 0:
        m = pattern.match(low, at - 4) if at - 4 >= end else None
        if m:
            yield m
            end = m.end()
        at = low.find("-", at + 1)


def _full_codes(text: str) -> Iterator[re.Match[str]]:
    """`_EXAM_FULL.finditer(text)`, tried only where a match can start: at a "7", or at the "0"
    before it. A scan of every position costs ten times more on a long mail."""
    end = 0
    at = text.find("7")
    while at >= 0:
        m = _EXAM_FULL.match(text, at - 1) if at > end and text[at - 1] == "0" else None
        m = m or _EXAM_FULL.match(text, at)
        if m:
            yield m
            end = m.end()
        at = text.find("7", max(at + 1, end))


def _exams(text: str, low: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for m in _full_codes(text):
        if m.start() and text[m.start() - 1] in _NOT_BEFORE_CODE:
            continue
        found.append((m.start(), f"{m.group(1)}-{m.group(2)}"))
    for m in _EXAM_BARE.finditer(text):
        if m.start() and text[m.start() - 1] in _NOT_BEFORE_BARE:
            continue
        window = low[max(0, m.start() - 30) : m.end() + 30]
        if _EXAM_CONTEXT.search(window):
            # The beta desk hears about betas; a bare number is the beta unless "live" is said.
            prefix = "70" if _LIVE_CONTEXT.search(window) else "71"
            found.append((m.start(), f"{prefix}-{m.group(1)}"))
    return _unique([code for _, code in sorted(found)])


def _emails(text: str) -> list[re.Match[str]]:
    """`_EMAIL.finditer(text)`, searched from the run of address characters before each "@"
    instead of from every position: no match can start before that run."""
    found: list[re.Match[str]] = []
    end, at = 0, text.find("@")
    while at >= 0:
        if _EMAIL_DOMAIN.match(text, at + 1) is None:
            at = text.find("@", at + 1)
            continue
        start = at
        while start > end and (text[start - 1].isalnum() or text[start - 1] in _EMAIL_CHARS):
            start -= 1
        m = _EMAIL.search(text, start)
        if m is None:
            break
        found.append(m)
        end = m.end()
        at = text.find("@", end)
    return found


def _providers(low: str, words: set[str]) -> list[str]:
    found = []
    index = Index(low, words)
    if "prom" in low:
        found += [(m.start(), "prometric") for m in _PROMETRIC_AT.finditer(index)]
    # Every spelling the pattern knows holds "vue", but for the word "pearson" alone.
    if "vue" in low or "pearson" in words:
        found += [(m.start(), "vue") for m in _VUE_AT.finditer(index)]
    return _unique([name for _, name in sorted(found)])


def _word_starts(low: str, word: str) -> Iterator[int]:
    """Where `word` stands as a whole word in the folded text."""
    at = low.find(word)
    while at >= 0:
        after = at + len(word)
        if (at == 0 or not WORD.match(low, at - 1)) and not WORD.match(low, after):
            yield at
        at = low.find(word, after)


def _regions(text: str, low: str, words: set[str]) -> list[str]:
    found: list[tuple[int, str]] = []
    if _may_name_a_place(words):
        # Walk from each word a place name can start with (found by `str.find`, not by reading
        # every word of a long mail); the longest name there wins and its words are used up.
        starts = sorted(at for w in words & _PLACE_FIRST_WORDS for at in _word_starts(low, w))
        used_up_to = 0
        for at in starts:
            if at < used_up_to:
                continue
            following = list(itertools.islice(WORD.finditer(low, at), _PLACE_MAX_WORDS))
            for n in range(len(following), 0, -1):
                name = _PLACES.get(tuple(m.group(0) for m in following[:n]))
                if name is not None:
                    found.append((at, name))
                    used_up_to = following[n - 1].end()
                    break
    if "US" in text:
        for m in _US_ABBREV.finditer(text):
            # In an all-caps sentence "US" is the pronoun; only take it among lower-case words.
            around = text[max(0, m.start() - 12) : m.end() + 12]
            if sum(c.islower() for c in around) > sum(c.isupper() for c in around):
                found.append((m.start(), "United States"))
    return _unique([name for _, name in sorted(found)])


def _error_messages(text: str) -> list[str]:
    if not any(mark in text for mark in _QUOTE_MARKS):
        return []
    messages = []
    for m in _QUOTED.finditer(text):
        quoted = (m.group(1) or m.group(2) or m.group(3)).strip().rstrip(".")
        if _ERRORISH.search(quoted):
            messages.append(quoted)
    return _unique(messages)


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _dates(low: str, today: date | None, words: set[str]) -> list[date]:
    found: list[tuple[int, date | None, bool]] = []
    named = not words.isdisjoint(_MONTH_WORDS)
    relative = "today" in words or "yesterday" in words
    if named or relative:
        # the clock only where a date may be relative to it: reading it costs more than the
        # rest of this for most messages
        today = today or date.today()
    ascii = low.isascii()
    if "-" in low:
        for m in _iso_dates(low):
            iso = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            found.append((m.start(), iso, False))
    if named:
        for m in (_DATE_DMY_ASCII if ascii else _DATE_DMY).finditer(low):
            year = int(m.group(3)) if m.group(3) else today.year
            day = _safe_date(year, _MONTHS[m.group(2)], int(m.group(1)))
            found.append((m.start(), day, not m.group(3)))
        for m in _DATE_MDY_AT.finditer(Index(low, words)):
            year = int(m.group(3)) if m.group(3) else today.year
            day = _safe_date(year, _MONTHS[m.group(1)], int(m.group(2)))
            found.append((m.start(), day, not m.group(3)))
    if relative:
        for m in _DATE_RELATIVE.finditer(low):
            delta = 0 if m.group(1) == "today" else 1
            found.append((m.start(), today - timedelta(days=delta), False))
    dates = []
    for _, found_date, yearless in sorted(found, key=lambda x: x[0]):
        if found_date is None:
            continue
        # A date written without a year is recent: a month ahead at most, else last year's.
        if yearless and found_date > today + timedelta(days=62):
            found_date = _safe_date(found_date.year - 1, found_date.month, found_date.day)
        if found_date is not None:
            dates.append(found_date)
    return list(dict.fromkeys(dates))


def _may_name_an_mcp_id(low: str, words: set[str]) -> bool:
    # "mcp", "member" and "candidate" may run on ("MCPID"); "id" is a word of its own.
    return "id" in words or "mcp" in low or "member" in low or "candidate" in low


def parse_message(text: str, *, today: date | None = None) -> ParsedMessage:
    """Take a message apart: new text, entities (codes masked), dates and tone signals."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\x00" in text:
        text = text.replace("\x00", " ")
    # Folded once: the head and the new text are most often the text itself (the same object),
    # and a slice of a folded text is not always the folded slice (a final "Σ" folds by what
    # follows it), so a part is folded anew only when it is not the whole.
    folded = fold(text)
    head, _history = strip_history(text, folded)
    low = folded if head is text else fold(head)
    new_text, _signature = split_signature(head, low)

    words = words_of(low)
    emails = [(m.span(), m.group(0)) for m in _emails(head)]
    scan = _blank(head, [span for span, _ in emails])
    mcp = []
    if _may_name_an_mcp_id(low, words):
        scan_low = fold(scan)
        mcp = [(m.span(1), m.group(1)) for m in _MCP_ID_AT.finditer(Index(scan_low, words))]
        scan = _blank(scan, [span for span, _ in mcp])
    # Codes by the one rule the log filter and every output mask with (any case, any spacing).
    codes = find_codes(scan)
    scan = _blank(scan, [span for span, _ in codes])
    scan_low = fold(scan) if scan is not head else low
    secret_codes = _unique([code for _, code in sorted(codes)])

    errors = _error_messages(head)
    if secret_codes:
        errors = [mask_all(e, secret_codes) for e in errors]
        new_text = mask_all(new_text, secret_codes)

    entities = Entities(
        exams=_exams(scan, scan_low),
        providers=_providers(scan_low, words),
        regions=_regions(scan, scan_low, words),
        mcp_ids=_unique([value for _, value in mcp]),
        emails=_unique([value.lower() for _, value in emails]),
        voucher_codes=_unique([mask_secret(c) for c in secret_codes]),
        error_messages=errors,
    )
    return ParsedMessage(
        new_text=new_text.strip(),
        entities=entities,
        # The new text begins the head, so the head's words serve, unless codes were masked.
        signals=read_signals(
            new_text,
            None if secret_codes else words,
            low=low if new_text is head else None,
        ),
        dates=_dates(low, today, words),
        secret_codes=secret_codes,
    )
