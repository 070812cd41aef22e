"""Read a candidate's message: the new text, the entities it names, and its tone.

Entities come from what the sender wrote, signature included (it often carries the MCP ID or
the country), but never from quoted reply history, which repeats older messages.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from bot.privacy.masking import find_codes, mask_all, mask_secret
from bot.text.quoting import split_signature, strip_history
from bot.text.regions import alias_table
from bot.text.tone import read_signals
from bot.types import Entities, ParsedMessage

# --- entity patterns (compiled once, at import: they are constants, not configuration) -------

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MCP_ID = re.compile(
    r"\b(?:mcp(?:[\s_-]*id)?|member[\s_-]*(?:id|number)|candidate[\s_-]*(?:id|number)|id)"
    r"\b[\s#:.=]*(?:(?:no\.?|number|is|was)\b)?[\s#:.=]*(\d{4,10})(?![\d-])",
    re.IGNORECASE,
)
# The character before a code is checked in Python: a leading look-behind would run at every
# position of the text and costs more than the rest of the pattern.
_EXAM_FULL = re.compile(r"0?(7[01])[ \t]?[-–_.]?[ \t]?(\d{3})(?![\d]|[ \t]?[-/.]?\d)")
_NOT_BEFORE_CODE = frozenset("0123456789.-/")
_EXAM_BARE = re.compile(r"\b(6\d{2})\b(?![\d]|[.,:/-]\d|\s*(?:%|am|pm|days?|weeks?))")
_NOT_BEFORE_BARE = frozenset("0123456789.-/$£€#:")
_EXAM_CONTEXT = re.compile(
    r"\b(?:exams?|beta|betas|tests?|retake|cert|transcript)\b", re.IGNORECASE
)
_LIVE_CONTEXT = re.compile(r"\blive\b|\bnon-?beta\b", re.IGNORECASE)
_PROMETRIC = re.compile(r"\bprom(?:[ae]?t?r?[iy][ckx]s?|tric)\b", re.IGNORECASE)
_VUE = re.compile(r"\b(?:p[ea]a?rson[\s-]*vue|pearsonvue|vue|pearson)\b", re.IGNORECASE)
_US_ABBREV = re.compile(r"(?<![A-Za-z.])US(?![A-Za-z])")
_QUOTED = re.compile(r"\"([^\"\n]{6,200})\"|“([^”\n]{6,200})”|(?<!\w)'([^'\n]{6,200})'(?!\w)")
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
_DATE_ISO = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_DATE_DMY = re.compile(
    rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTH}(?:,?\s+(\d{{4}}))?\b", re.I
)
_DATE_MDY = re.compile(rf"\b{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?", re.I)
_DATE_RELATIVE = re.compile(r"\b(today|yesterday)\b", re.IGNORECASE)


_WORD = re.compile(r"[a-zà-ÿ]+")


def _build_place_table() -> tuple[dict[tuple[str, ...], str], frozenset[str], int]:
    """Place names keyed by their words: "U.K." and "uk" differ, "asia/pacific" and "asia
    pacific" do not. Looking words up is much faster than one regex of 200 alternatives."""
    table = {tuple(_WORD.findall(alias)): name for alias, name in alias_table().items()}
    return table, frozenset(k[0] for k in table), max(len(k) for k in table)


_PLACES, _PLACE_FIRST_WORDS, _PLACE_MAX_WORDS = _build_place_table()
_PLACE_SINGLES = frozenset(k[0] for k in _PLACES if len(k) == 1)
_PLACE_MULTI = tuple(frozenset(k) for k in _PLACES if len(k) > 1)


def _may_name_a_place(words: set[str]) -> bool:
    return not words.isdisjoint(_PLACE_SINGLES) or any(k <= words for k in _PLACE_MULTI)


_MONTH_WORDS = frozenset(_MONTHS) | {"today", "yesterday"}
_MCP_WORDS = frozenset({"mcp", "id", "member", "candidate"})


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


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


def _exams(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for m in _EXAM_FULL.finditer(text):
        if m.start() and text[m.start() - 1] in _NOT_BEFORE_CODE:
            continue
        found.append((m.start(), f"{m.group(1)}-{m.group(2)}"))
    for m in _EXAM_BARE.finditer(text):
        if m.start() and text[m.start() - 1] in _NOT_BEFORE_BARE:
            continue
        window = text[max(0, m.start() - 30) : m.end() + 30]
        if _EXAM_CONTEXT.search(window):
            # The beta desk hears about betas; a bare number is the beta unless "live" is said.
            prefix = "70" if _LIVE_CONTEXT.search(window) else "71"
            found.append((m.start(), f"{prefix}-{m.group(1)}"))
    return _unique([code for _, code in sorted(found)])


_VUE_WORDS = frozenset({"vue", "pearson", "pearsonvue", "parson", "paerson"})


def _providers(text: str, lowered: str, words: set[str]) -> list[str]:
    found = []
    if "prom" in lowered:
        found += [(m.start(), "prometric") for m in _PROMETRIC.finditer(text)]
    if not words.isdisjoint(_VUE_WORDS):
        found += [(m.start(), "vue") for m in _VUE.finditer(text)]
    return _unique([name for _, name in sorted(found)])


def _regions(text: str, words: set[str]) -> list[str]:
    found: list[tuple[int, str]] = []
    if _may_name_a_place(words):
        spans = [(m.start(), m.group(0)) for m in _WORD.finditer(text.lower())]
        i = 0
        while i < len(spans):
            if spans[i][1] not in _PLACE_FIRST_WORDS:
                i += 1
                continue
            for n in range(min(_PLACE_MAX_WORDS, len(spans) - i), 0, -1):
                name = _PLACES.get(tuple(w for _, w in spans[i : i + n]))
                if name is not None:
                    found.append((spans[i][0], name))
                    i += n - 1
                    break
            i += 1
    for m in _US_ABBREV.finditer(text):
        # In an all-caps sentence "US" is the pronoun; only take it among lower-case words.
        around = text[max(0, m.start() - 12) : m.end() + 12]
        if sum(c.islower() for c in around) > sum(c.isupper() for c in around):
            found.append((m.start(), "United States"))
    return _unique([name for _, name in sorted(found)])


def _error_messages(text: str) -> list[str]:
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


def _dates(text: str, today: date, words: set[str]) -> list[date]:
    found: list[tuple[int, date | None, bool]] = []
    if "-" in text:
        for m in _DATE_ISO.finditer(text):
            iso = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
            found.append((m.start(), iso, False))
    if words.isdisjoint(_MONTH_WORDS):
        return [d for _, d, _ in found if d is not None]
    for m in _DATE_DMY.finditer(text):
        year = int(m.group(3)) if m.group(3) else today.year
        day = _safe_date(year, _MONTHS[m.group(2).lower()], int(m.group(1)))
        found.append((m.start(), day, not m.group(3)))
    for m in _DATE_MDY.finditer(text):
        year = int(m.group(3)) if m.group(3) else today.year
        day = _safe_date(year, _MONTHS[m.group(1).lower()], int(m.group(2)))
        found.append((m.start(), day, not m.group(3)))
    for m in _DATE_RELATIVE.finditer(text):
        delta = 0 if m.group(1).lower() == "today" else 1
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


def parse_message(text: str, *, today: date | None = None) -> ParsedMessage:
    """Take a message apart: new text, entities (codes masked), dates and tone signals."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", " ")
    head, _history = strip_history(text)
    new_text, _signature = split_signature(head)

    lowered = head.lower()
    words = set(_WORD.findall(lowered))
    emails = [(m.span(), m.group(0)) for m in _EMAIL.finditer(head)] if "@" in head else []
    scan = _blank(head, [span for span, _ in emails])
    mcp = []
    if not words.isdisjoint(_MCP_WORDS):
        mcp = [(m.span(1), m.group(1)) for m in _MCP_ID.finditer(scan)]
        scan = _blank(scan, [span for span, _ in mcp])
    # Codes by the one rule the log filter and every output mask with (any case, any spacing).
    codes = find_codes(scan)
    scan = _blank(scan, [span for span, _ in codes])
    secret_codes = _unique([code for _, code in sorted(codes)])

    errors = _error_messages(head)
    if secret_codes:
        errors = [mask_all(e, secret_codes) for e in errors]
        new_text = mask_all(new_text, secret_codes)

    entities = Entities(
        exams=_exams(scan),
        providers=_providers(scan, lowered, words),
        regions=_regions(scan, words),
        mcp_ids=_unique([value for _, value in mcp]),
        emails=_unique([value.lower() for _, value in emails]),
        voucher_codes=_unique([mask_secret(c) for c in secret_codes]),
        error_messages=errors,
    )
    return ParsedMessage(
        new_text=new_text.strip(),
        entities=entities,
        signals=read_signals(new_text, words if new_text is head else None),
        dates=_dates(head, today or date.today(), words),
        secret_codes=secret_codes,
    )
