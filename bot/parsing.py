"""Read a candidate's message: the new text, the entities it names, and its tone.

Entities come from what the sender wrote, signature included (it often carries the MCP ID or
the country), but never from quoted reply history, which repeats older messages.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

from pydantic import BaseModel, Field

from bot.privacy import mask_all, mask_secret
from bot.regions import alias_table
from bot.reply_text import split_signature, strip_history
from bot.tone import Signals, read_signals


class Entities(BaseModel):
    """What a message names; the field set is the public `classify --json` contract."""

    exams: list[str] = Field(default_factory=list)
    providers: list[str] = Field(default_factory=list)
    regions: list[str] = Field(default_factory=list)
    mcp_ids: list[str] = Field(default_factory=list)
    emails: list[str] = Field(default_factory=list)
    voucher_codes: list[str] = Field(default_factory=list)  # masked: `****-7Q2K`
    error_messages: list[str] = Field(default_factory=list)


class ParsedMessage(BaseModel):
    """A message taken apart. `secret_codes` holds raw codes and is never serialised."""

    new_text: str
    entities: Entities
    signals: Signals
    dates: list[date] = Field(default_factory=list)
    secret_codes: list[str] = Field(default_factory=list, exclude=True, repr=False)


# --- entity patterns (compiled once, at import: they are constants, not configuration) -------

_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
_MCP_ID = re.compile(
    r"\b(?:mcp(?:[\s_-]*id)?|member[\s_-]*(?:id|number)|candidate[\s_-]*(?:id|number)|id)"
    r"\b[\s#:.=]*(?:(?:no\.?|number|is|was)\b)?[\s#:.=]*(\d{4,10})(?![\d-])",
    re.IGNORECASE,
)
# A code has letters and digits in dash-separated groups (`X9K2-7Q2K`), or follows the word
# "code" directly. Exam codes (digits only) and MCP IDs never qualify.
_CODE_SHAPE = re.compile(
    r"(?<![\w-])(?=[A-Z0-9-]*\d)(?=[A-Z0-9-]*[A-Z])[A-Z0-9]{3,}(?:-[A-Z0-9]{3,}){1,4}(?![\w-])"
)
_CODE_AFTER_WORD = re.compile(
    r"\bcode\b(?:\s+(?:is|was))?\s*[:=]?\s*[\"']?((?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9][A-Za-z0-9-]{5,30})(?![\w-])",
    re.IGNORECASE,
)
_EXAM_FULL = re.compile(r"(?<![\d.\-/])0?(7[01])[ \t]?[-–_.]?[ \t]?(\d{3})(?![\d]|[ \t]?[-/.]?\d)")
_EXAM_BARE = re.compile(
    r"(?<![\d.\-/$£€#:])\b(6\d{2})\b(?![\d]|[.,:/-]\d|\s*(?:%|am|pm|days?|weeks?))"
)
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


def _build_region_pattern() -> tuple[re.Pattern[str], dict[str, str]]:
    table = alias_table()
    alternatives = sorted(table, key=len, reverse=True)
    body = "|".join(re.escape(a) for a in alternatives)
    return re.compile(rf"(?<![\w.])(?:{body})(?![\w])", re.IGNORECASE), table


_REGION, _REGION_TABLE = _build_region_pattern()


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace spans with spaces so later patterns cannot match inside them."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)


def _exams(text: str) -> list[str]:
    found: list[tuple[int, str]] = []
    for m in _EXAM_FULL.finditer(text):
        found.append((m.start(), f"{m.group(1)}-{m.group(2)}"))
    for m in _EXAM_BARE.finditer(text):
        window = text[max(0, m.start() - 30) : m.end() + 30]
        if _EXAM_CONTEXT.search(window):
            # The beta desk hears about betas; a bare number is the beta unless "live" is said.
            prefix = "70" if _LIVE_CONTEXT.search(window) else "71"
            found.append((m.start(), f"{prefix}-{m.group(1)}"))
    return _unique([code for _, code in sorted(found)])


def _providers(text: str) -> list[str]:
    found = [(m.start(), "prometric") for m in _PROMETRIC.finditer(text)]
    found += [(m.start(), "vue") for m in _VUE.finditer(text)]
    return _unique([name for _, name in sorted(found)])


def _regions(text: str) -> list[str]:
    found = [(m.start(), _REGION_TABLE[m.group(0).lower()]) for m in _REGION.finditer(text)]
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


def _dates(text: str, today: date) -> list[date]:
    found: list[tuple[int, date | None, bool]] = []
    for m in _DATE_ISO.finditer(text):
        iso = _safe_date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        found.append((m.start(), iso, False))
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

    emails = [(m.span(), m.group(0)) for m in _EMAIL.finditer(head)]
    scan = _blank(head, [span for span, _ in emails])
    mcp = [(m.span(1), m.group(1)) for m in _MCP_ID.finditer(scan)]
    scan = _blank(scan, [span for span, _ in mcp])
    codes = [(m.span(1), m.group(1)) for m in _CODE_AFTER_WORD.finditer(scan)]
    codes += [(m.span(), m.group(0)) for m in _CODE_SHAPE.finditer(scan)]
    scan = _blank(scan, [span for span, _ in codes])
    secret_codes = _unique([code for _, code in sorted(codes)])

    errors = _error_messages(head)
    if secret_codes:
        errors = [mask_all(e, secret_codes) for e in errors]
        new_text = mask_all(new_text, secret_codes)

    entities = Entities(
        exams=_exams(scan),
        providers=_providers(scan),
        regions=_regions(scan),
        mcp_ids=_unique([value for _, value in mcp]),
        emails=_unique([value.lower() for _, value in emails]),
        voucher_codes=_unique([mask_secret(c) for c in secret_codes]),
        error_messages=errors,
    )
    return ParsedMessage(
        new_text=new_text.strip(),
        entities=entities,
        signals=read_signals(new_text),
        dates=_dates(head, today or date.today()),
        secret_codes=secret_codes,
    )
