"""Voucher and promotion codes: how they are recognised in text, and masked before they reach
logs, digests or channels.

One rule for the parser, the log filter and every output: a code is recognised whatever case
it is written in and however its groups are joined (`IN26-9F3D-7Q2K`, `in26-9f3d-7q2k`,
`IN26 9F3D 7Q2K`, with the en dashes, no-break or zero-width spaces a mail program puts in, or
in fullwidth letters), and an exam code (`71-621`), a date or an MCP ID never is. Dots, slashes
and underscores do not join groups: addresses and links stay readable.
"""

import re
from collections.abc import Iterator
from itertools import pairwise

from bot.text.folding import translate_non_ascii

_VISIBLE = 4
Span = tuple[int, int]

# A run of letter-and-digit groups joined by a dash (spaces around it allowed) or by spaces;
# which runs are codes is decided in `_codes_in_run`, because "every group mixes letters and
# digits when they are joined by spaces" is beyond a readable regex.
_GROUP = r"[A-Za-z0-9]{3,12}"
_JOINT = r"[ \t]*-[ \t]*|[ \t]+"
_RUN = re.compile(rf"(?<![\w-]){_GROUP}(?:(?:{_JOINT}){_GROUP})*(?![\w-])")
_GROUP_IN_RUN = re.compile(_GROUP)
# Cheap test first: a code holds a letter next to a digit somewhere; most text has none. Written
# from the digit (`[A-Za-z]\d|\d[A-Za-z]`, the letter before it tested by a look-behind), so the
# engine only stops at digits: four times faster on a long mail.
_MIXED_HINT = re.compile(r"\d(?:(?<=[A-Za-z]\d)|[A-Za-z])")
# On ASCII text `_may_mix` reads the same by bytes: digits as "0", letters as "a".
_DIGITS_AND_LETTERS = bytes(
    48 if chr(c).isdigit() and c < 128 else 97 if chr(c).isalpha() and c < 128 else 32
    for c in range(256)
)
# A code right after the word "code" may be one group (`promo code is x9k2p7q1`).
CODE_AFTER_WORD = re.compile(
    r"\bcode\b(?:\s+(?:is|was))?\s*[:=]?\s*[\"']?((?=[A-Za-z0-9-]*\d)(?=[A-Za-z0-9-]*[A-Za-z])"
    r"[A-Za-z0-9][A-Za-z0-9-]{5,30})(?![\w-])",
    re.IGNORECASE,
)
_MAX_GROUPS = 6
_SPACED_MIN_GROUPS = 3
_SPACED_MIN_CHARS = 4
# What people and their mail programs put into a code that is not the ASCII it was issued in:
# typographic dashes, no-break and other spaces, invisible characters, fullwidth letters and
# digits. Folded one character for one, so a span of the folded text is a span of the original.
_FOLD = {
    **dict.fromkeys((0x2010, 0x2011, 0x2012, 0x2013, 0x2014, 0x2015, 0x2212, 0xFE58, 0xFE63,
                     0xFF0D), "-"),
    **dict.fromkeys((0x00A0, 0x1680, *range(0x2000, 0x200B), 0x202F, 0x205F, 0x3000), " "),
    **dict.fromkeys((0x00AD, 0x180E, 0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF), " "),
    **{cp: chr(cp - 0xFEE0) for cp in (*range(0xFF10, 0xFF1A), *range(0xFF21, 0xFF3B),
                                        *range(0xFF41, 0xFF5B))},
}  # fmt: skip


def _folded(text: str) -> str:
    return translate_non_ascii(text, _FOLD)


def _mixed(group: str) -> bool:
    return any(c.isdigit() for c in group) and any(c.isalpha() for c in group)


def _codes_in_run(text: str, start: int, end: int) -> Iterator[Span]:
    """The codes in one run of groups.

    Dash-joined groups form a chunk: 2 to 6 groups with at least one mixing letters and digits
    (`ABCD-EFGH-7Q2K`, not `pre-2026` or `71-621`). Chunks joined by spaces belong to one code
    only when each of their groups mixes letters and digits and has four characters or more, so
    ordinary words and `3rd`-like ordinals never join; three such groups make a code alone.
    """
    groups = [(m.start() + start, m.end() + start) for m in _GROUP_IN_RUN.finditer(text[start:end])]
    chunks: list[list[Span]] = [[groups[0]]]
    for previous, current in pairwise(groups):
        if "-" in text[previous[1] : current[0]]:
            chunks[-1].append(current)
        else:
            chunks.append([current])

    def dashed_code(chunk: list[Span]) -> bool:
        return 2 <= len(chunk) <= _MAX_GROUPS and any(_mixed(text[a:b]) for a, b in chunk)

    def joins_by_space(chunk: list[Span]) -> bool:
        words = [text[a:b] for a, b in chunk]
        return all(_mixed(w) and len(w) >= _SPACED_MIN_CHARS for w in words) and (
            len(chunk) == 1 or dashed_code(chunk)
        )

    i = 0
    while i < len(chunks):
        j, dashed = i, 0
        while j < len(chunks) and joins_by_space(chunks[j]):
            dashed += len(chunks[j]) > 1
            if dashed > 1:  # two dashed codes side by side are two codes
                break
            j += 1
        joined = chunks[i:j]
        if joined and (dashed or sum(len(c) for c in joined) >= _SPACED_MIN_GROUPS):
            yield joined[0][0][0], joined[-1][-1][1]
        elif not joined and dashed_code(chunks[i]):
            yield chunks[i][0][0], chunks[i][-1][1]
        i = max(j, i + 1)


def _after_word_code(text: str, low: str) -> Iterator[re.Match[str]]:
    """`CODE_AFTER_WORD.finditer(text)`, tried only where "code" stands in `low` (the text lower
    cased): the pattern opens with `\b` under IGNORECASE, which `re` tries at every position.
    Where lower-casing moved positions ("İ"), the plain scan."""
    if len(low) != len(text):
        yield from CODE_AFTER_WORD.finditer(text)
        return
    end, at = 0, low.find("code")
    while at >= 0:
        match = CODE_AFTER_WORD.match(text, at) if at >= end else None
        if match:
            yield match
            end = match.end()
        at = low.find("code", at + 1)


def _may_mix(text: str) -> bool:
    """Whether a digit stands next to a letter (`_MIXED_HINT`). On ASCII text by bytes: digits
    as "0", letters as "a", the rest blanks, and two substring tests."""
    if not text.isascii():
        return _MIXED_HINT.search(text) is not None
    marked = text.encode().translate(_DIGITS_AND_LETTERS)
    return b"0a" in marked or b"a0" in marked


def find_codes(text: str) -> list[tuple[Span, str]]:
    """Every voucher or promotion code in `text`, as (span, code as written, in plain ASCII),
    in text order."""
    text = _folded(text)
    found: list[tuple[Span, str]] = []
    low = text.lower()
    if "code" in low:
        found += [(m.span(1), m.group(1)) for m in _after_word_code(text, low)]
    if _may_mix(text):
        for run in _RUN.finditer(text):
            if _MIXED_HINT.search(run.group(0)):
                found += [((a, b), text[a:b]) for a, b in _codes_in_run(text, *run.span())]
    found.sort()
    kept: list[tuple[Span, str]] = []
    for span, code in found:  # a code after "code" may also be a run: keep the longer, once
        if kept and span[0] < kept[-1][0][1]:
            if span[1] - span[0] > kept[-1][0][1] - kept[-1][0][0]:
                kept[-1] = (span, code)
            continue
        kept.append((span, code))
    return kept


def mask_secret(code: str | None) -> str:
    """Show only the last four letters or digits of a code: `ABCD-EFGH-7Q2K` -> `****-7Q2K`,
    `in26 9f3d 7q2k` -> `****-7q2k`."""
    if not code:
        return ""
    visible = re.sub(r"[^A-Za-z0-9]", "", code)
    if len(visible) <= _VISIBLE:
        return "*" * len(visible)
    return "****-" + visible[-_VISIBLE:]


def mask_codes(text: str) -> str:
    """`text` with every code `find_codes` recognises masked."""
    if not text:
        return text
    return _splice(text, [(span, mask_secret(code)) for span, code in find_codes(text)])


def _splice(text: str, replacements: list[tuple[Span, str]]) -> str:
    """`text` with each (non-overlapping) span replaced."""
    pieces, cursor = [], 0
    for (start, end), replacement in sorted(replacements):
        pieces += [text[cursor:start], replacement]
        cursor = end
    pieces.append(text[cursor:])
    return "".join(pieces)


def _loose(code: str) -> re.Pattern[str]:
    """Matches `code` in any case, with or without dashes or spaces between its characters."""
    chars = re.sub(r"[^A-Za-z0-9]", "", code)
    body = r"[\s-]*".join(re.escape(c) for c in chars)
    return re.compile(rf"(?<![A-Za-z0-9]){body}(?![A-Za-z0-9])", re.IGNORECASE)


# The characters outside ASCII that a case-insensitive match of an ASCII letter accepts.
_CASE_ALIKE = str.maketrans({"\u017f": "s", "\u0131": "i", "\u0130": "i", "\u212a": "k"})


def _bare(text: str) -> str:
    """Letters and digits only, lower case: a code `_loose` finds in `text` is in this whole."""
    return re.sub(r"[^0-9a-z]", "", text.translate(_CASE_ALIKE).lower())


def mask_all(text: str, codes: list[str]) -> str:
    """Replace every occurrence of the given codes in `text`, however written, with their masked
    form."""
    folded = _folded(text)
    found: list[tuple[Span, str]] = []
    # A code that is not in the text is skipped by a substring test, not a regex scan: a
    # surge's samples are masked with every member's codes (thousands, in a hostile message).
    bare = _bare(folded)
    for code in sorted({c for c in codes if c}, key=len, reverse=True):
        chars = _bare(code)
        if len(chars) > _VISIBLE and chars in bare:
            for match in _loose(code).finditer(folded):
                if not any(a < match.end() and match.start() < b for (a, b), _ in found):
                    found.append((match.span(), mask_secret(code)))
    return _splice(text, found)
