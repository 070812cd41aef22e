"""The traces a person leaves in the desk's data, as patterns that find and replace them.

Strong traces identify the person on their own: the MCP id, an address, a Slack user id, the full
name, a voucher or promotion code (written in any case and spacing, or masked as `****-7Q2K`),
the Message-ID or Slack timestamp of one of their messages. Weak traces only point to them once a
row is known to be about them: a first name, a subject line, the last four characters of a code.
A row is redacted when it holds a strong trace; in it, every trace goes. A subject such as
"Voucher missing" is never removed from rows that do not otherwise name the person.
"""

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

# Subject prefixes and ticket tags that replies add; the rest of the subject is the trace.
_REPLY_PREFIX = re.compile(r"^\s*((re|fwd?|aw|wg|sv|tr)\s*:\s*)+", re.IGNORECASE)
_TICKET_TAG = re.compile(r"\s*\[[A-Z]+-\d+\]\s*", re.IGNORECASE)
_ALNUM = re.compile(r"[0-9A-Za-z]+")
_SHORTEST_SUBJECT = 4  # shorter subjects ("Hi") are not a trace of anyone
_SHORTEST_NAME_PART = 3  # "Li" as a weak trace would redact half a sentence


def subject_core(subject: str) -> str:
    """`Re: Fwd: Voucher missing [TRI-12]` -> `Voucher missing`."""
    return _TICKET_TAG.sub(" ", _REPLY_PREFIX.sub("", subject)).strip()


def _words(text: str) -> str:
    """A literal phrase that matches with any run of whitespace between its words."""
    return r"\s+".join(re.escape(word) for word in text.split())


def _code_patterns(code: str) -> tuple[str, str, str]:
    """(the code in any spacing, the masked code, its last four characters) as patterns."""
    alnum = "".join(_ALNUM.findall(code))
    tail = alnum[-4:]
    spaced = r"[\s._-]*".join(re.escape(group) for group in _ALNUM.findall(code))
    bounded = r"(?<![0-9A-Za-z]){}(?![0-9A-Za-z])"
    return bounded.format(spaced), bounded.format(rf"\*+[\s._-]*{tail}"), bounded.format(tail)


@dataclass
class Traces:
    """Everything that points to one person; `strong` and `every` are the compiled patterns."""

    mcp_id: str | None = None
    emails: set[str] = field(default_factory=set)
    slack_user_ids: set[str] = field(default_factory=set)
    names: set[str] = field(default_factory=set)
    codes: set[str] = field(default_factory=set)
    # Message-IDs without angle brackets, Slack timestamps (`1700000000.000100`).
    message_ids: set[str] = field(default_factory=set)
    subjects: set[str] = field(default_factory=set)

    def _strong(self) -> list[str]:
        patterns = [_words(name) for name in self.names if name.strip()]
        for name in self.names:  # "Wiśniewska, Zofia" as lists and CSV exports write it
            parts = name.split()
            if len(parts) > 1:
                patterns.append(rf"{re.escape(parts[-1])},?\s+{_words(' '.join(parts[:-1]))}")
        patterns += [re.escape(m) for m in self.message_ids if m]
        patterns += [rf"(?<![\w.%+-]){re.escape(e)}(?![\w-])" for e in self.emails if e]
        for code in self.codes:
            spaced, masked, _ = _code_patterns(code)
            patterns += [spaced, masked]
        patterns += [rf"(?<![0-9A-Za-z]){re.escape(u)}(?![0-9A-Za-z])" for u in self.slack_user_ids]
        if self.mcp_id:
            patterns.append(rf"(?<!\d){re.escape(self.mcp_id)}(?!\d)")
        return patterns

    def _subjects(self) -> list[str]:
        cores = {subject_core(s) for s in self.subjects} | {s.strip() for s in self.subjects}
        longest_first = sorted((s for s in cores if len(s) >= _SHORTEST_SUBJECT), key=len)[::-1]
        return [_words(s) for s in longest_first]

    def _weak_words(self) -> list[str]:
        parts = {p for name in self.names for p in name.split() if len(p) >= _SHORTEST_NAME_PART}
        return [rf"\b{re.escape(part)}\b" for part in parts] + [
            _code_patterns(code)[2] for code in self.codes
        ]

    @cached_property
    def strong(self) -> re.Pattern[str] | None:
        return _compiled(self._strong())

    @cached_property
    def every(self) -> re.Pattern[str] | None:
        # Longest first: a subject holding the name goes whole, then names before their parts.
        return _compiled(self._subjects() + self._strong() + self._weak_words())

    @cached_property
    def needles(self) -> list[str]:
        """Lower-case substrings a database can look for (LIKE) to find every row that may hold a
        strong trace; a superset, confirmed by `names_them`. Names are looked for by their ASCII
        runs, because SQLite lower-cases ASCII only and JSON may store `ś` as `\\u015b`."""
        found = {self.mcp_id or ""} | self.emails | self.slack_user_ids | self.message_ids
        found |= {"".join(_ALNUM.findall(code))[-4:] for code in self.codes}
        for name in self.names:
            for part in name.split():
                runs = [r for r in re.findall(r"[A-Za-z]+", part) if len(r) >= 3]
                found |= set(runs) if runs else {part}
        return sorted({n.lower() for n in found if n})

    def names_them(self, value: Any) -> bool:
        """Whether a string or JSON document holds a strong trace."""
        if self.strong is None or value is None:
            return False
        return self.strong.search(_as_text(value)) is not None

    def scrub(self, value: Any, replacement: str) -> Any:
        """`value` with every trace replaced, inside lists and dicts too (keys included)."""
        pattern = self.every
        if pattern is None:
            return value
        if isinstance(value, str):
            return pattern.sub(replacement, value)
        if isinstance(value, list):
            return [self.scrub(v, replacement) for v in value]
        if isinstance(value, dict):
            return {
                self.scrub(key, replacement): self.scrub(item, replacement)
                for key, item in value.items()
            }
        return value

    def add_message(self, *, external_id: str, subject: str | None) -> None:
        """Record the id and subject of one of the person's messages as traces. Only its own id:
        the ids it replies to may be other people's messages."""
        self.message_ids |= set(message_id_traces(external_id))
        if subject and subject.strip():
            self.subjects.add(subject.strip())
        for cached in ("strong", "every", "needles"):
            self.__dict__.pop(cached, None)


def message_id_traces(value: str | None) -> Iterable[str]:
    """`<a@b>` -> `a@b`; a Slack `C1:1700000000.000100` -> both the id and the timestamp."""
    if not value or value.startswith("erased:"):
        return []
    bare = value.strip().strip("<>").split("#", 1)[0]
    found = [bare]
    if ":" in bare and "@" not in bare:
        found.append(bare.rsplit(":", 1)[1])
    return [f for f in found if len(f) >= 6]


def _compiled(patterns: list[str]) -> re.Pattern[str] | None:
    return re.compile("|".join(patterns), re.IGNORECASE) if patterns else None


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).decode("utf-8", "replace")
    return json.dumps(value, ensure_ascii=False, default=str)
