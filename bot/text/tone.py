"""Tone signals in a message: anger, repeated chasing, long waits, follow-ups.

They are not issues; they raise priority and tell an agent how the sender feels.
"""

from __future__ import annotations

import re

from bot.types import Signals

_NUMBER_WORDS = {
    "a": 1, "an": 1, "one": 1, "two": 2, "couple": 2, "three": 3, "few": 3, "several": 3,
    "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "eleven": 11, "twelve": 12, "many": 5,
}  # fmt: skip
_ORDINALS = {
    "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6, "seventh": 7, "eighth": 8,
    "ninth": 9, "tenth": 10,
}  # fmt: skip
_NUM = r"(\d{1,3}|" + "|".join(_NUMBER_WORDS) + r")"
_UNIT_DAYS = {"day": 1, "week": 7, "month": 30, "year": 365}

_ANGER_WORDS = re.compile(
    r"\b(ridiculous|unacceptable|outrageous|disgrace(?:ful)?|terrible|horrible|useless|pathetic"
    r"|incompetent|furious|angry|fed up|sick of|worst|scam|shame(?:ful)?|joke|nonsense|absurd"
    r"|make up your minds?|nobody (?:answers|replies|responds|cares)|no one (?:answers|replies))\b",
    re.IGNORECASE,
)
_BANG_RUN = re.compile(r"[!?]{3,}|\?!|!\?")
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# Acronyms that are routinely written in capitals and say nothing about tone.
_ACRONYMS = frozenset({"MCP", "VUE", "EMEA", "APAC", "LATAM", "MCTS", "MCSE", "USA", "ASAP", "PDF"})

_SENT_N = re.compile(
    rf"\b(?:sent|written|wrote|emailed|called|phoned|asked|contacted|chased)\b[^.!?\n]{{0,30}}?\b{_NUM}\s+(?:e-?mails?|messages?|times|tickets?|reminders?)\b",
    re.IGNORECASE,
)
_NTH_TIME = re.compile(
    r"\b("
    + "|".join(_ORDINALS)
    + r"|\d{1,2}(?:st|nd|rd|th))\s+(?:time|e-?mail|message|request|reminder)\b",
    re.IGNORECASE,
)
_STILL_NO_ANSWER = re.compile(
    r"\b(?:still|yet)\s+(?:no|not\s+any|nothing|without)\s*(?:an?\s+)?(?:answer|reply|response|news|update)?"
    r"|\bno\s+(?:one|body)\s+(?:answers|replies|responds|got back)"
    r"|\bnobody\s+(?:answers|replies|responds)"
    r"|\bnever\s+(?:got|had)\s+(?:an?\s+)?(?:answer|reply|response)",
    re.IGNORECASE,
)
_WAIT = re.compile(
    rf"\b(?:for|since|been|over|after|almost|nearly|more\s+than|waiting)\s+(?:the\s+(?:last|past)\s+)?{_NUM}\s+(day|week|month|year)s?\b"
    rf"|\b{_NUM}\s+(day|week|month|year)s?\s+(?:ago|now|already|later|since)\b",
    re.IGNORECASE,
)
_FOLLOW_UP = re.compile(
    r"\b(?:follow(?:ing)?[\s-]?up|any\s+(?:update|news|progress)|still\s+(?:nothing|no\b|not\b|waiting)"
    r"|i\s+(?:phoned|called|rang|contacted|emailed)\s+(?:them|the|you|again)|as\s+(?:you\s+)?(?:suggested|advised)"
    r"|my\s+(?:earlier|previous|last)\s+(?:ticket|e-?mail|message|request)|^\s*re:)",
    re.IGNORECASE | re.MULTILINE,
)


_THANKS = re.compile(
    r"\b(?:thanks?|thank\s+you|thx|cheers|solved|resolved|sorted|fixed|it\s+worked|works\s+now|"
    r"got\s+it|received\s+it|all\s+good)\b",
    re.IGNORECASE,
)


def _number(token: str) -> int:
    token = token.lower()
    return int(token) if token.isdigit() else _NUMBER_WORDS.get(token, 1)


# Cheap hints decide whether a detailed pattern can match at all: one scan of the lower-cased
# text finds every hint, and most messages then skip most patterns.
# Hint words decide whether a detailed pattern can match at all: one set intersection with the
# message's words, and most messages then skip most patterns.
_HINTS: dict[str, tuple[str, ...]] = {
    "anger": ("ridiculous", "unacceptable", "outrageous", "outrage", "disgrace", "disgraceful",
              "terrible", "horrible", "useless", "pathetic", "incompetent", "furious", "angry",
              "fed", "sick", "worst", "scam", "shame", "shameful", "joke", "nonsense", "absurd",
              "make", "nobody", "no"),
    "chase": ("sent", "written", "wrote", "emailed", "called", "phoned", "asked", "contacted",
              "chased"),
    "nth": ("time", "mail", "email", "message", "request", "reminder"),
    "still": ("still", "yet", "no", "nobody", "never"),
    "wait": ("day", "days", "week", "weeks", "month", "months", "year", "years"),
    "follow": ("follow", "following", "followup", "update", "news", "progress", "still",
               "phoned", "called", "rang", "contacted", "emailed", "suggested", "advised",
               "earlier", "previous", "last"),
}  # fmt: skip
_HINT_GROUPS: dict[str, frozenset[str]] = {
    word: frozenset(g for g, members in _HINTS.items() if word in members)
    for members in _HINTS.values()
    for word in members
}
_WORDS = re.compile(r"[a-z]+")


def read_signals(text: str, words: set[str] | frozenset[str] | None = None) -> Signals:
    """Find tone signals in the sender's new text (quoted history already removed).

    `words` is the set of lower-case words of the text when the caller has it already.
    """
    if words is None:
        words = set(_WORDS.findall(text.lower()))
    hints: set[str] = set()
    for word in words.intersection(_HINT_GROUPS):
        hints |= _HINT_GROUPS[word]
    markers: list[str] = []
    if "anger" in hints:
        markers = [m.group(0).lower() for m in _ANGER_WORDS.finditer(text)][:5]
    if ("!" in text or "?" in text) and _BANG_RUN.search(text):
        markers.append("!!!")
    caps = [w for w in _CAPS_WORD.findall(text) if w not in _ACRONYMS]
    if len(caps) >= 3 and len(caps) >= 0.4 * len(_WORD.findall(text)):
        markers.append("ALL CAPS")

    chasing = 0
    if "chase" in hints:
        for match in _SENT_N.finditer(text):
            chasing = max(chasing, _number(match.group(1)))
    if "nth" in hints:
        for match in _NTH_TIME.finditer(text):
            token = match.group(1).lower()
            nth = _ORDINALS.get(token) or int(re.sub(r"\D", "", token))
            chasing = max(chasing, nth - 1)
    if chasing == 0 and "still" in hints and _STILL_NO_ANSWER.search(text):
        chasing = 1

    waiting: int | None = None
    if "wait" in hints:
        for match in _WAIT.finditer(text):
            count, unit = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
            days = _number(count) * _UNIT_DAYS[unit.lower()]
            waiting = days if waiting is None else max(waiting, days)

    if "re:" in text[:8].lower():
        hints.add("follow")
    follow_up = chasing > 0 or bool("follow" in hints and _FOLLOW_UP.search(text))
    return Signals(
        angry=bool(markers),
        anger_markers=markers,
        chasing=chasing,
        waiting_days=waiting,
        follow_up=follow_up,
        thanks=bool(_THANKS.search(text)),
    )
