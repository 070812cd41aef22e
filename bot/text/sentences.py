"""How a sentence reads: its mood (denies, asks, requests) and what it is about.

A sentence that states a fact ("I received the invitation", "I got a voucher for 71-625") is
context; one that denies, asks or complains ("my voucher never arrived", "is it valid for
70-640?", "please send the code") is what the sender wants handled. The matcher uses the mood
to weigh examples and to decide which sentences may carry a second issue.
"""

from __future__ import annotations

# Mood bits: a sentence may deny, ask and request at once; 0 is a plain statement of fact.
NEG, ASK, REQ = 1, 2, 4
ANY_MOOD = NEG | ASK | REQ

# Canonical tokens (see bot.text.normalize.canonical) that deny, and that complain or request.
# "fail" is neither: on this desk "I failed 71-622" mostly reports an exam result.
NEGATION = frozenset({"not", "missing", "without", "still", "wait"})
COMPLAINT = frozenset(
    {"reject", "block", "error", "invalid", "expire", "late", "restrict", "problem", "issue",
     "where", "when", "unable", "stuck", "help", "cancel", "someone", "want", "need"}
)  # fmt: skip
# First words of a question, as written or as light (stemmed) tokens.
QUESTION_OPENERS = frozenset(
    {"can", "could", "is", "are", "was", "were", "do", "does", "did", "will", "would", "should",
     "how", "what", "which", "where", "when", "why", "who", "may", "any", "has", "have"}
)  # fmt: skip
_PLEASE = frozenset({"please", "pleas"})  # as written, and as stemmed

# What a sentence is about (canonical tokens), and the pronouns that refer back to the
# sentence before: in "I sat the beta in April. I cannot find mine." the second sentence is
# about whatever the first one named.
TOPICS = frozenset(
    {"voucher", "invit", "result", "promo", "code", "regist", "certif", "transcript"}
)
BACK_REFERENCES = frozenset({"it", "its", "mine", "them"})


def sentence_mood(text: str, canon: list[str], words: list[str]) -> int:
    """NEG | ASK | REQ bits of a sentence: its text (as written or prepared), its canonical
    tokens and its words (raw or light)."""
    bits = 0 if NEGATION.isdisjoint(canon) else NEG
    if "?" in text or (words and words[0] in QUESTION_OPENERS):
        bits |= ASK
    if not _PLEASE.isdisjoint(words) or not COMPLAINT.isdisjoint(canon):
        bits |= REQ
    return bits
