"""How a sentence reads: does it deny, ask or request?

A sentence that states a fact ("I received the invitation", "I got a voucher for 71-625") is
context; one that denies, asks or complains ("my voucher never arrived", "is it valid for
70-640?", "please send the code") is what the sender wants handled. The matcher reads the mood
as a feature of the message and of each sentence.
"""

from __future__ import annotations

import functools

from bot.text._sentences import Segmenter

# Mood bits: a sentence may deny, ask and request at once; 0 is a plain statement of fact.
NEG, ASK, REQ = 1, 2, 4
ANY_MOOD = NEG | ASK | REQ

# Lower-case words (other languages' domain words already in English, see lexicon.py).
NEGATION = frozenset(
    {"not", "no", "never", "missing", "without", "still", "wait", "waiting", "nothing", "yet",
     "cannot", "cant", "didnt", "havent", "hasnt"}
)  # fmt: skip
# "fail" is neither: on this desk "I failed 71-622" mostly reports an exam result.
COMPLAINT = frozenset(
    {"reject", "rejected", "rejects", "block", "blocked", "blocks", "error", "errors", "invalid",
     "expired", "late", "restricted", "problem", "issue", "where", "when", "unable", "stuck",
     "help", "cancel", "someone", "want", "wants", "need", "needs", "send", "resend"}
)  # fmt: skip
# First words of a question.
QUESTION_OPENERS = frozenset(
    {"can", "could", "is", "are", "was", "were", "do", "does", "did", "will", "would", "should",
     "how", "what", "which", "where", "when", "why", "who", "may", "any", "has", "have"}
)  # fmt: skip
_PLEASE = frozenset({"please", "pls", "plz", "kindly"})


def sentence_mood(text: str, words: list[str]) -> int:
    """NEG | ASK | REQ bits of a sentence, from its text and its lower-case words."""
    bits = 0 if NEGATION.isdisjoint(words) else NEG
    if "?" in text or (words and words[0] in QUESTION_OPENERS):
        bits |= ASK
    if not _PLEASE.isdisjoint(words) or not COMPLAINT.isdisjoint(words):
        bits |= REQ
    return bits


@functools.cache
def segmenter() -> Segmenter:
    """The compiled reader of sentences and their moods (`features.segments`), with this
    module's words."""
    return Segmenter(NEGATION, QUESTION_OPENERS, _PLEASE | COMPLAINT)
