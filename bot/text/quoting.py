"""Separate what a sender just wrote from quoted reply history and from their signature."""

from __future__ import annotations

import re
from collections.abc import Iterator

from bot.text.folding import fold

# A reply header ends the new text: everything below it is history. "On <date>, <who> wrote:"
# may wrap over two lines in many mail clients, hence the optional newline before "wrote:".
_HISTORY_START = re.compile(
    r"""^(?:
        On\b[^\n]{0,300}?(?:\n[^\n]{0,200}?)?\bwrote:[ \t]*$
      | -{2,}[ \t]*(?:Original|Forwarded)[ \t]+Message[ \t]*-{2,}.*$
      | _{10,}[ \t]*$
      | From:[^\n]*\n(?:[^\n]*\n){0,3}?(?:Sent|Date):[^\n]*$
      | Le\b[^\n]{0,300}?a[ \t]+écrit[ \t]*:[ \t]*$
      | Am\b[^\n]{0,300}?schrieb[^\n]{0,100}:[ \t]*$
      | El\b[^\n]{0,300}?escribió[ \t]*:[ \t]*$
    )""",
    re.IGNORECASE | re.MULTILINE | re.VERBOSE,
)
_QUOTED_LINE = re.compile(r"^[ \t]*>.*(?:\n|$)", re.MULTILINE)


def _may_hold_history(low: str) -> bool:
    """Whether the folded text holds what every reply header needs ("wrote:", "__________",
    "--" with "message", "from:" with "sent:" or "date:", "écrit", "schrieb", "escribió"):
    most messages hold none, and the header pattern, which opens with `^`, is tried at every
    position. Folded text reads as IGNORECASE reads the original (bot/text/folding.py), so a
    header is never missed."""
    return (
        "wrote:" in low
        or "__________" in low
        or ("--" in low and "message" in low)
        or ("from:" in low and ("sent:" in low or "date:" in low))
        or "écrit" in low
        or "schrieb" in low
        or "escribió" in low
    )


# Signature starts: the RFC 3676 delimiter, mobile footers, and a closing line on its own. The
# lower-case patterns read the folded text (bot/text/folding.py), which is faster than IGNORECASE.
_SIG_DELIMITER = re.compile(r"^--[ \t]?$", re.MULTILINE)
_MOBILE_FOOTER = re.compile(
    r"^[ \t]*(?:sent from my \w+|sent from (?:mail|outlook|yahoo mail)\b|get outlook for \w+)",
    re.MULTILINE,
)
_CLOSING_LINE = re.compile(
    r"""^[ \t]*(?:
        (?:best|kind|warm|warmest|many|with)?[ \t]*(?:regards|wishes|thanks|greetings)
      | thanks?(?:[ \t]+(?:you|again|in[ \t]+advance|a[ \t]+lot|and[ \t]+regards))*
      | thank[ \t]+you(?:[ \t]+(?:very[ \t]+much|so[ \t]+much))?
      | cheers | best | sincerely | yours[ \t]+(?:sincerely|truly|faithfully)
      | br | rgds | regds | thx | tia
    )[ \t]*[,.!]*[ \t]*(?:\n|$)""",
    re.MULTILINE | re.VERBOSE,
)
# "Regards Suresh" on one line: a closing word followed by a short name.
_CLOSING_WITH_NAME = re.compile(
    r"^[ \t]*(?:(?i:best|kind|warm)[ \t]+)?(?i:regards|thanks|cheers)[ \t,]+"
    r"[A-Z][\w.'-]*(?:[ \t]+[A-Z][\w.'-]*)?[ \t]*$",
    re.MULTILINE,
)
_MAX_SIGNATURE_LINES = 6


def strip_history(text: str, low: str | None = None) -> tuple[str, str]:
    """Split `text` into (what is new, quoted history); history is empty when there is none.
    `low` is `fold(text)` when the caller has it."""
    low = fold(text) if low is None else low
    match = _HISTORY_START.search(text) if _may_hold_history(low) else None
    head, history = (text[: match.start()], text[match.start() :]) if match else (text, "")
    if ">" in head:
        quoted = "".join(m.group(0) for m in _QUOTED_LINE.finditer(head))
        head = _QUOTED_LINE.sub("", head)
        history = quoted + history
    return head, history


def _signs_off(body: str, match: re.Match[str]) -> bool:
    """A closing followed by at most a few short lines, with some body before it."""
    rest = body[match.end() :].strip()
    lines = [ln for ln in rest.splitlines() if ln.strip()]
    short_tail = len(lines) <= _MAX_SIGNATURE_LINES and all(len(ln) < 60 for ln in lines)
    return short_tail and bool(body[: match.start()].strip())


def _tail_start(body: str) -> int:
    """Where the lines that may hold a sign-off start: a closing line with more than
    `_MAX_SIGNATURE_LINES` non-empty lines below it cannot sign off (`_signs_off`), so the
    search starts below those. Keeps a text of a thousand closing lines linear."""
    below, end = 0, len(body)  # the line body[start:end], and its non-empty lines below
    while True:
        start = body.rfind("\n", 0, end) + 1
        if below > _MAX_SIGNATURE_LINES:
            return end + 1  # the line below this one
        if start == 0:
            return 0
        if body[start:end].strip():
            below += 1
        end = start - 1


def _at_line_starts(
    pattern: re.Pattern[str], text: str, start: int, end: int
) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text, start, end)` for a pattern that opens with `^` (MULTILINE) and
    never matches empty: tried only where a line starts, where `re` would try every position."""
    at = start
    while at <= end:
        if at == 0 or text[at - 1] == "\n":
            match = pattern.match(text, at, end)
            if match:
                yield match
                at = match.end()
                continue
        at = text.find("\n", at, end) + 1
        if at == 0:
            return


def split_signature(text: str, low: str | None = None) -> tuple[str, str]:
    """Split the new text into (body, signature); the body never becomes empty by this. `low`
    is `fold(text)` when the caller has it."""
    low = fold(text) if low is None else low
    cut = len(text)
    starts = (
        _SIG_DELIMITER.search(text) if "--" in text else None,
        _MOBILE_FOOTER.search(low) if "sent from " in low or "get outlook for " in low else None,
    )
    for match in starts:
        if match and match.start() < cut and text[: match.start()].strip():
            cut = match.start()
    body = text[:cut]
    # A closing line ("Regards,", "Thanks and regards") followed by at most a few short lines
    # is a sign-off; the last such closing that leaves some body wins.
    for match in _at_line_starts(_CLOSING_LINE, low, _tail_start(body), len(body)):
        if _signs_off(body, match):
            body = body[: match.start()]
            break
    low = low[: len(body)]
    if "regards" in low or "thanks" in low or "cheers" in low:
        for match in _at_line_starts(_CLOSING_WITH_NAME, body, _tail_start(body), len(body)):
            if _signs_off(body, match):
                body = body[: match.start()]
                break
    return body, text[len(body) :]
