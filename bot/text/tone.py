"""Tone signals in a message: anger, repeated chasing, long waits, follow-ups.

They are not issues; they raise priority and tell an agent how the sender feels.
"""

from __future__ import annotations

import re

from bot.text.anchored import Anchored, Index
from bot.text.folding import fold, words_of
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

# The word patterns hold lower-case literals and read the folded text (bot/text/folding.py):
# matching it case-sensitively is the IGNORECASE match of the original, several times faster.
_ANGER_WORDS = re.compile(
    r"\b(ridiculous|unacceptable|outrageous|disgrace(?:ful)?|terrible|horrible|useless|pathetic"
    r"|incompetent|furious|angry|fed up|sick of|worst|scam|shame(?:ful)?|joke|nonsense|absurd"
    r"|make up your minds?|nobody (?:answers|replies|responds|cares)|no one (?:answers|replies))\b"
)
# A run of three or more of "!" and "?", or "?!" / "!?": a run of three holds one of these.
_BANG_RUNS = ("?!", "!?", "!!!", "???")
# Capitalised words of three letters or more: `\b[A-Z]{3,}\b`, with the word-start test after
# the first capital so the engine only stops at capitals.
_CAPS_WORD = re.compile(r"[A-Z](?<!\w[A-Z])[A-Z]{2,}\b")
_WORD = re.compile(r"\b[A-Za-z]{3,}\b")
# ASCII capitals as "A", every other byte of the UTF-8 text as a blank: three capitalised words
# hold three "AAA" apart, which `bytes.count` finds at C speed (`_CAPS_WORD` stops at every
# capital: most texts have a dozen, and three such words in a tenth of them).
_CAPITALS_AS_A = bytes(65 if 65 <= c <= 90 else 32 for c in range(256))
# Acronyms that are routinely written in capitals and say nothing about tone.
_ACRONYMS = frozenset({"MCP", "VUE", "EMEA", "APAC", "LATAM", "MCTS", "MCSE", "USA", "ASAP", "PDF"})

_SENT_N = re.compile(
    rf"\b(?:sent|written|wrote|emailed|called|phoned|asked|contacted|chased)\b[^.!?\n]{{0,30}}?\b{_NUM}\s+(?:e-?mails?|messages?|times|tickets?|reminders?)\b"
)
_NTH_TIME = re.compile(
    r"\b("
    + "|".join(_ORDINALS)
    + r"|\d{1,2}(?:st|nd|rd|th))\s+(?:time|e-?mail|message|request|reminder)\b"
)
_STILL_NO_ANSWER = re.compile(
    r"\b(?:still|yet)\s+(?:no|not\s+any|nothing|without)\s*(?:an?\s+)?(?:answer|reply|response|news|update)?"
    r"|\bno\s+(?:one|body)\s+(?:answers|replies|responds|got back)"
    r"|\bnobody\s+(?:answers|replies|responds)"
    r"|\bnever\s+(?:got|had)\s+(?:an?\s+)?(?:answer|reply|response)"
)
_WAIT = re.compile(
    rf"\b(?:for|since|been|over|after|almost|nearly|more\s+than|waiting)\s+(?:the\s+(?:last|past)\s+)?{_NUM}\s+(day|week|month|year)s?\b"
    rf"|\b{_NUM}\s+(day|week|month|year)s?\s+(?:ago|now|already|later|since)\b"
)
# A reply's subject line ("re:" at a line start) is looked for apart from the rest (below).
_FOLLOW_UP = re.compile(
    r"\b(?:follow(?:ing)?[\s-]?up|any\s+(?:update|news|progress)|still\s+(?:nothing|no\b|not\b|waiting)"
    r"|i\s+(?:phoned|called|rang|contacted|emailed)\s+(?:them|the|you|again)|as\s+(?:you\s+)?(?:suggested|advised)"
    r"|my\s+(?:earlier|previous|last)\s+(?:ticket|e-?mail|message|request))"
)
_THANKS = re.compile(
    r"\b(?:thanks?|thank\s+you|thx|cheers|solved|resolved|sorted|fixed|it\s+worked|works\s+now|"
    r"got\s+it|received\s+it|all\s+good)\b"
)

# Each pattern tried only at the words its matches start with (bot/text/anchored.py).
_ANGER_AT = Anchored(
    _ANGER_WORDS,
    words=("ridiculous", "unacceptable", "outrageous", "disgrace", "disgraceful", "terrible",
           "horrible", "useless", "pathetic", "incompetent", "furious", "angry", "fed", "sick",
           "worst", "scam", "shame", "shameful", "joke", "nonsense", "absurd", "make", "nobody",
           "no"),
)  # fmt: skip
_SENT_N_AT = Anchored(
    _SENT_N,
    words=("sent", "written", "wrote", "emailed", "called", "phoned", "asked", "contacted",
           "chased"),
)  # fmt: skip
_NTH_TIME_AT = Anchored(_NTH_TIME, words=_ORDINALS, digits=("st", "nd", "rd", "th"))
_STILL_NO_ANSWER_AT = Anchored(_STILL_NO_ANSWER, words=("still", "yet", "no", "nobody", "never"))
_WAIT_AT = Anchored(
    _WAIT,
    words=("for", "since", "been", "over", "after", "almost", "nearly", "more", "waiting",
           *_NUMBER_WORDS),
    digits=True,
)  # fmt: skip
_FOLLOW_UP_AT = Anchored(_FOLLOW_UP, words=("any", "still", "i", "as", "my"), prefixes=("follow",))
_THANKS_AT = Anchored(
    _THANKS,
    words=("thank", "thanks", "thx", "cheers", "solved", "resolved", "sorted", "fixed", "it",
           "works", "got", "received", "all"),
)  # fmt: skip


def _reply_subject(low: str) -> bool:
    """Whether a line starts with "re:": the branch `\\b^\\s*re:` the follow-up pattern had (the
    `\\b` there leaves no room for blanks before "re:")."""
    return low.startswith("re:") or "\nre:" in low


# Gates: whether a pattern can match at all, from the message's words (a word a pattern spells
# between word boundaries) and, where a pattern's word may run on ("any updates"), from the
# folded text. Each gate lets through every text its pattern matches, so skipping is exact;
# tests/test_tone.py holds them to that.
def _has(words: set[str], *group: str) -> bool:
    return not words.isdisjoint(group)


def _may_be_angry(w: set[str]) -> bool:
    return (
        _has(w, "ridiculous", "unacceptable", "outrageous", "disgrace", "disgraceful", "terrible",
             "horrible", "useless", "pathetic", "incompetent", "furious", "angry", "worst", "scam",
             "shame", "shameful", "joke", "nonsense", "absurd", "nobody")
        or ("up" in w and _has(w, "fed", "make"))
        or ("sick" in w and "of" in w)
        or ("no" in w and "one" in w)
    )  # fmt: skip


def _may_count_messages(w: set[str]) -> bool:
    return _has(
        w, "sent", "written", "wrote", "emailed", "called", "phoned", "asked", "contacted", "chased"
    ) and _has(
        w, "email", "emails", "mail", "mails", "message", "messages", "times", "ticket", "tickets",
        "reminder", "reminders",
    )  # fmt: skip


def _may_count_times(w: set[str]) -> bool:
    return _has(w, "st", "nd", "rd", "th", *_ORDINALS) and _has(
        w, "time", "email", "mail", "message", "request", "reminder"
    )


def _may_lack_answer(w: set[str]) -> bool:
    return (
        _has(w, "still", "yet", "nobody")
        or ("no" in w and _has(w, "one", "body"))
        or ("never" in w and _has(w, "got", "had"))
    )


def _may_wait(w: set[str]) -> bool:
    return _has(w, "day", "days", "week", "weeks", "month", "months", "year", "years") and _has(
        w, "for", "since", "been", "over", "after", "almost", "nearly", "more", "waiting",
        "ago", "now", "already", "later",
    )  # fmt: skip


def _may_follow_up(w: set[str], low: str) -> bool:
    return (
        "follow" in low
        or "re:" in low
        or _has(w, "still", "phoned", "called", "rang", "contacted", "emailed")
        or ("any" in w and ("update" in low or "news" in low or "progress" in low))
        or ("as" in w and ("suggested" in low or "advised" in low))
        or ("my" in w and _has(w, "earlier", "previous", "last"))
    )


def _may_thank(w: set[str]) -> bool:
    return (
        _has(w, "thank", "thanks", "thx", "cheers", "solved", "resolved", "sorted", "fixed")
        or ("it" in w and _has(w, "worked", "got", "received"))
        or ("works" in w and "now" in w)
        or ("all" in w and "good" in w)
    )


def _may_shout(text: str) -> bool:
    """Whether `text` may hold three capitalised words (`_CAPS_WORD`), each three capitals or
    more in a row; surrogates pass through as blanks, as any byte past ASCII does."""
    return text.encode("utf-8", "surrogatepass").translate(_CAPITALS_AS_A).count(b"AAA") >= 3


def _number(token: str) -> int:
    return int(token) if token.isdigit() else _NUMBER_WORDS.get(token, 1)


def read_signals(text: str, words: set[str] | None = None, *, low: str | None = None) -> Signals:
    """Find tone signals in the sender's new text (quoted history already removed).

    `words` is the set of words of the folded text (`bot.text.folding.words_of`) when the
    caller has it already, or of a text that begins with this one; `low` is `fold(text)`
    when the caller has it.
    """
    low = fold(text) if low is None else low
    if words is None:
        words = words_of(low)
    index = Index(low, words)
    markers: list[str] = []
    if _may_be_angry(words):
        markers = [m.group(0) for m in _ANGER_AT.finditer(index)][:5]
    if ("!" in text or "?" in text) and any(run in text for run in _BANG_RUNS):
        markers.append("!!!")
    if _may_shout(text):
        caps = [w for w in _CAPS_WORD.findall(text) if w not in _ACRONYMS]
        if len(caps) >= 3 and len(caps) >= 0.4 * len(_WORD.findall(text)):
            markers.append("ALL CAPS")

    chasing = 0
    if _may_count_messages(words):
        for match in _SENT_N_AT.finditer(index):
            chasing = max(chasing, _number(match.group(1)))
    if _may_count_times(words):
        for match in _NTH_TIME_AT.finditer(index):
            token = match.group(1)
            nth = _ORDINALS.get(token) or int(re.sub(r"\D", "", token))
            chasing = max(chasing, nth - 1)
    if chasing == 0 and _may_lack_answer(words) and _STILL_NO_ANSWER_AT.search(index):
        chasing = 1

    waiting: int | None = None
    if _may_wait(words):
        for match in _WAIT_AT.finditer(index):
            count, unit = (match.group(1), match.group(2)) if match.group(1) else match.group(3, 4)
            days = _number(count) * _UNIT_DAYS[unit]
            waiting = days if waiting is None else max(waiting, days)

    follow_up = chasing > 0 or bool(
        _may_follow_up(words, low) and (_FOLLOW_UP_AT.search(index) or _reply_subject(low))
    )
    return Signals(
        angry=bool(markers),
        anger_markers=markers,
        chasing=chasing,
        waiting_days=waiting,
        follow_up=follow_up,
        thanks=bool(_may_thank(words) and _THANKS_AT.search(index)),
    )
