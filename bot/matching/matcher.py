"""Match a message against every known issue: example similarity, signals, negatives, entities.

The knowledge base is indexed once when a `Matcher` is built; `classify` is pure and
deterministic, and cheap enough to run thousands of times per second.
"""

from __future__ import annotations

import functools
import itertools
import math
import operator
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, PrivateAttr
from rapidfuzz import fuzz, process

from bot.matching.knowledge import KnowledgeBase, load_knowledge
from bot.matching.lexicon import STOPWORDS, SYNONYMS
from bot.text.normalize import (
    canonical,
    join_place_pairs,
    prepare,
    raw_words,
    split_units,
    stem,
)
from bot.text.parse import parse_message
from bot.text.sentences import ANY_MOOD, BACK_REFERENCES, NEG, TOPICS, sentence_mood
from bot.types import NOT_A_REQUEST, Entities, ParsedMessage, Signals

# Scores are in 0..1. An issue is reported at REPORT and above; the best issue must also
# reach UNKNOWN_BELOW or the message is unknown (a person looks at it).
REPORT = 0.42
UNKNOWN_BELOW = 0.42
QUESTION_PENALTY = 0.3
SIGNAL_WEIGHT = (0.0, 0.12, 0.2, 0.26)  # by the signal's length in tokens (1, 2, 3+)
NEGATIVE_WEIGHT = 0.12
FUZZ_WEIGHT = 0.35
FUZZ_FLOOR = 50
FUZZ_SCORER = fuzz.token_set_ratio
FUZZ_ISSUES = 3
FUZZ_CANDIDATES = 4
ONE_WORD_DAMPING = 0.6
WHOLE_MAX_UNITS = 4
MAX_ISSUE_SHARE = 0.4  # index features found in at most this share of the issues
COVER_EXAMPLE = 0.7  # weight of 'the sentence covers the example' vs 'the example explains it'
MAX_MATCH_CHARS = 20_000  # a longer message is a paste; its opening carries the request
# An example with a mood (bot.text.sentences: denies, asks, requests) matches a sentence that shares
# none of it ("I received the invitation" against "I have not received my invitation") at
# this fraction.
POLARITY_DAMPING = 0.5
# A secondary issue needs a sentence of its own that complains or asks, where it is the best
# reading by this margin and scores at least SECONDARY_UNIT with its signals and negatives.
SECONDARY_UNIT = 0.4
SECONDARY_SIMILARITY = 0.35
SECONDARY_MARGIN = 0.1
SECONDARY_OVER_PRIMARY = 2.0  # ... and reads it this many times better than the primary
TELLING_ISSUES = 1  # a word in the examples of at most this many issues tells which one
TYPO_CUTOFF = 86
_TYPO_CACHE_LIMIT = 50_000


class IssueScore(BaseModel):
    id: str
    score: float


class Evidence(BaseModel):
    """Why an issue scored: the phrase or signal that matched, and its contribution."""

    issue: str
    kind: str  # example | fuzzy | signal | negative | rule
    detail: str
    weight: float


class Classification(BaseModel):
    """The matcher's verdict; `issue` is None when nothing is good enough."""

    issue: str | None
    confidence: float
    issues: list[IssueScore] = Field(default_factory=list)
    entities: Entities
    signals: Signals
    # Raw evidence (issue, kind, detail, weight); turned into models only when asked for,
    # because most callers never look at it.
    _evidence: list[tuple[str, str, str, float]] = PrivateAttr(default_factory=list)

    @property
    def explanation(self) -> list[Evidence]:
        """Which phrases, signals and rules decided, for the reported issues (or the nearest
        ones when the message is unknown)."""
        return [
            Evidence(issue=i, kind=k, detail=d, weight=round(w, 3)) for i, k, d, w in self._evidence
        ]

    def contract(self) -> dict[str, object]:
        """The `triage classify --json` object (see DESIGN.md)."""
        return {
            "issue": self.issue,
            "confidence": self.confidence,
            "issues": [i.model_dump() for i in self.issues],
            "entities": self.entities.model_dump(),
        }


@dataclass(frozen=True, slots=True)
class _Example:
    issue: str
    text: str
    tokens: str  # canonical tokens joined by spaces, for rapidfuzz
    norm: float
    mood: int  # NEG | ASK | REQ bits; 0 for a plain statement


@dataclass(frozen=True, slots=True)
class _Phrase:
    issue: str
    text: str
    tokens: tuple[str, ...]
    padded: str  # " a b c " for whole-token containment tests


def _features(tokens: list[str]) -> set[str | tuple[str, str]]:
    """Words and adjacent word pairs (pairs as tuples: no string building per message)."""
    feats: set[str | tuple[str, str]] = set(tokens)
    feats.update(itertools.pairwise(tokens))
    return feats


class Matcher:
    """Scores messages against a knowledge base indexed once, at construction."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.issue_ids = sorted(kb.issues)
        self._typos: dict[str, str | None] = {}
        self._word_cache: dict[str, tuple[tuple[str, ...], str]] = {}
        vocab: set[str] = set()
        for issue in kb.issues.values():
            for text in (*issue.examples, *issue.signals, *issue.negative):
                vocab.update(raw_words(prepare(text)))
        vocab.update(SYNONYMS)
        vocab.update(STOPWORDS)
        self._vocab = frozenset(vocab)
        # Typo candidates grouped by length: a ratio above the cutoff needs similar lengths.
        by_len: dict[int, list[str]] = defaultdict(list)
        for word in sorted(vocab):
            if len(word) >= 4 and word.isalpha():
                by_len[len(word)].append(word)
        self._typo_pool = {
            n: [w for d in (-1, 0, 1) for w in by_len.get(n + d, [])] for n in range(4, 40)
        }

        tokenised = {
            iid: [self.tokens(prepare(e)) for e in kb.issues[iid].examples]
            for iid in self.issue_ids
        }
        df: dict[str | tuple[str, str], int] = defaultdict(int)
        for iid in self.issue_ids:
            for feat in set().union(*(_features(t) for t in tokenised[iid])):
                df[feat] += 1
        n = len(self.issue_ids)
        # Features in most issues ("exam", "beta") separate nothing and make every posting
        # list long; they are left out of the index.
        self._idf = {f: math.log(1 + n / c) for f, c in df.items() if c <= MAX_ISSUE_SHARE * n}
        # Words that name an issue on their own ("retake", "valid"): found in few issues.
        self._telling = frozenset(
            f for f, c in df.items() if isinstance(f, str) and c <= TELLING_ISSUES
        )

        self._examples: list[_Example] = []
        # Features are binary, so an example's weight for a feature is the feature's idf and a
        # shared feature adds idf^2 to the dot product: postings hold example indices only.
        self._postings: dict[str | tuple[str, str], list[int]] = defaultdict(list)
        self._by_issue: dict[str, list[int]] = defaultdict(list)
        for iid in self.issue_ids:
            for text, toks in zip(kb.issues[iid].examples, tokenised[iid], strict=True):
                feats = _features(toks)
                if not feats:
                    continue
                idx = len(self._examples)
                feats = {f for f in feats if f in self._idf}
                if not feats:
                    continue
                norm = math.sqrt(sum(self._idf[f] ** 2 for f in feats))
                mood = sentence_mood(text, toks, raw_words(text.lower()))
                self._examples.append(_Example(iid, text, " ".join(toks), norm, mood))
                self._by_issue[iid].append(idx)
                for f in feats:
                    self._postings[f].append(idx)
        self._ex_issue = [e.issue for e in self._examples]
        self._ex_scale = [(e.norm * e.norm) ** -COVER_EXAMPLE for e in self._examples]
        # Per sentence mood, the same scales with the examples of another mood damped.
        self._mood_scales = [
            [
                sc * (POLARITY_DAMPING if e.mood and not e.mood & mood else 1.0)
                for sc, e in zip(self._ex_scale, self._examples, strict=True)
            ]
            for mood in range(ANY_MOOD + 1)
        ]
        self._example_tokens = {
            iid: [self._examples[i].tokens for i in idxs] for iid, idxs in self._by_issue.items()
        }
        # Phrases indexed by their first word: a message only tries the phrases it could hold.
        self._signals = self._index(self._phrases("signals"))
        self._negatives = self._index(self._phrases("negative"))

    def _phrases(self, field: str) -> list[_Phrase]:
        phrases: dict[tuple[str, str], _Phrase] = {}
        for iid in self.issue_ids:
            for text in getattr(self.kb.issues[iid], field):
                toks = tuple(self.light_tokens(prepare(text)))
                padded = f" {' '.join(toks)} "
                # Two spellings that normalise alike ("register"/"registered") count once.
                if toks and (iid, padded) not in phrases:
                    phrases[(iid, padded)] = _Phrase(iid, text, toks, padded)
        return list(phrases.values())

    @staticmethod
    def _index(phrases: list[_Phrase]) -> dict[str, list[_Phrase]]:
        index: dict[str, list[_Phrase]] = defaultdict(list)
        for ph in phrases:
            index[ph.tokens[0]].append(ph)
        return dict(index)

    def _phrases_in(
        self, index: dict[str, list[_Phrase]], present: set[str], light: str
    ) -> list[_Phrase]:
        found = [
            ph for word in present.intersection(index) for ph in index[word] if ph.padded in light
        ]
        return sorted(found, key=lambda ph: (ph.issue, ph.text))

    def _correct(self, word: str) -> str:
        """Map an unknown word to a known one when it is a likely typo ("recieved", "progam")."""
        if word in self._typos:
            return self._typos[word] or word
        match = process.extractOne(
            word, self._typo_pool.get(len(word), ()), scorer=fuzz.ratio, score_cutoff=TYPO_CUTOFF
        )
        fixed = match[0] if match else None
        if len(self._typos) > _TYPO_CACHE_LIMIT:
            self._typos.clear()
        self._typos[word] = fixed
        return fixed or word

    def _word(self, word: str) -> tuple[tuple[str, ...], str]:
        """A raw word's canonical tokens and its light form (stem), typo corrected; cached."""
        info = self._word_cache.get(word)
        if info is None:
            fixed = self._correct(word) if len(word) >= 5 and word not in self._vocab else word
            info = (tuple(canonical(fixed)), stem(fixed))
            if len(self._word_cache) > _TYPO_CACHE_LIMIT:
                self._word_cache.clear()
            self._word_cache[word] = info
        return info

    def analyse(self, prepared: str) -> tuple[list[str], list[str]]:
        """(canonical tokens, light tokens) of prepared text.

        Canonical tokens drop stop words and fold synonyms, for example similarity; light
        tokens are stemmed words with stop words kept, because signals are phrases that must
        match as written.
        """
        canon: list[str] = []
        light: list[str] = []
        for word in join_place_pairs(raw_words(prepared)):
            toks, stemmed = self._word(word)
            canon.extend(toks)
            light.append(stemmed)
        return canon, light

    def tokens(self, prepared: str) -> list[str]:
        """Canonical tokens of prepared text, typos corrected against the knowledge vocabulary."""
        return self.analyse(prepared)[0]

    def light_tokens(self, prepared: str) -> list[str]:
        """Stemmed words, stop words kept."""
        return self.analyse(prepared)[1]

    def _similarities(self, toks: list[str]) -> tuple[dict[int, float], float]:
        """Dot products of a sentence with every example it shares a feature with, and the
        sentence's squared norm."""
        dots: dict[int, float] = {}
        get = dots.get
        qnorm_sq = 0.0
        idf, postings = self._idf, self._postings
        for f in _features(toks):
            w = idf.get(f)
            if w is None:
                continue
            w2 = w * w
            qnorm_sq += w2
            for idx in postings[f]:
                dots[idx] = get(idx, 0.0) + w2
        return dots, qnorm_sq

    def _best_per_issue(
        self, dots: dict[int, float], *, mood: int = ANY_MOOD
    ) -> tuple[dict[str, float], dict[str, int]]:
        """Per issue, the best example's similarity (before the sentence's own scale) and index.

        score = (d/|e|^2)^A * (d/|q|^2)^(1-A): how much of the example the sentence covers,
        tempered by how much of the sentence the example explains. It factors into
        d * |e|^-2A (per example, precomputed) times |q|^(2A-2) (per sentence, applied later).
        Examples of a mood the sentence does not share count less (see POLARITY_DAMPING).
        """
        scale = self._mood_scales[mood]
        owner = self._ex_issue
        best_s: dict[str, float] = {}
        best_i: dict[str, int] = {}
        get = best_s.get
        for idx, d in dots.items():
            s = d * scale[idx]
            iid = owner[idx]
            if s > get(iid, -1.0):
                best_s[iid] = s
                best_i[iid] = idx
        return best_s, best_i

    def classify(self, text: str) -> Classification:
        """Classify one message."""
        return self.classify_parsed(parse_message(text))

    def classify_parsed(self, parsed: ParsedMessage) -> Classification:
        """Classify a message that is already parsed (the parse is reused for its entities)."""
        units: list[list[str]] = []
        lights: list[str] = []  # per unit, " a b c " for whole-phrase tests
        moods: list[int] = []  # per unit: NEG | ASK | REQ bits
        light_words: list[str] = []
        topics: list[str] = []  # of the latest sentence that named one
        for prepared in split_units(prepare(parsed.new_text[:MAX_MATCH_CHARS])):
            canon, light = self.analyse(prepared)
            light_words.extend(light)
            named = [t for t in canon if t in TOPICS]
            mood = sentence_mood(prepared, canon, light)
            if named:
                topics = named
            elif units and mood == NEG and len(canon) <= 2:
                # An elliptic denial ("..., but nothing for 71-632") completes the sentence
                # before: they are read as one.
                units[-1] = units[-1] + canon
                lights[-1] += " ".join(light) + " "
                moods[-1] |= mood
                continue
            elif (
                topics and not BACK_REFERENCES.isdisjoint(light) and self._telling.isdisjoint(canon)
            ):
                # "it" or "mine" in a sentence that names nothing telling of its own ("I
                # cannot find mine") is about the topic of the sentence before.
                canon = canon + topics
            if canon:
                units.append(canon)
                lights.append(" " + " ".join(light) + " ")
                moods.append(mood)
        if not units:
            return Classification(
                issue=None, confidence=0.0, entities=parsed.entities, signals=parsed.signals
            )
        touched: list[dict[int, float]] = []
        norms: list[float] = []
        for toks in units:
            dots, qnorm_sq = self._similarities(toks)
            touched.append(dots)
            norms.append(qnorm_sq)
        light = " " + " ".join(light_words) + " "
        has_whole = len(units) <= WHOLE_MAX_UNITS  # a single sentence is its own whole
        if 1 < len(units) <= WHOLE_MAX_UNITS:
            # A short message is also read as one unit: context spread over its sentences
            # ("I took the beta in May. Nothing since.") and thanks are judged on the whole.
            whole = [t for u in units for t in u]
            dots, qnorm_sq = self._similarities(whole)
            units.append(whole)
            lights.append(light)
            moods.append(functools.reduce(operator.or_, moods))
            touched.append(dots)
            norms.append(qnorm_sq)
        # Long messages have no whole unit, and thanks are then never their reading.
        whole_index = len(units) - 1 if has_whole else -1

        best: dict[str, tuple[float, int, int]] = {}  # issue -> (score, unit, example)
        unit_reads: list[dict[str, float]] = []  # per unit: issue -> similarity
        for u, toks in enumerate(units):
            unit_s: dict[str, float] = {}
            if touched[u]:
                unit_s, unit_i = self._best_per_issue(touched[u], mood=moods[u])
            if u != whole_index:
                # Thanks are judged on the whole message: a closing "thanks" is no request.
                # (A message of one sentence is its own whole.)
                unit_s.pop(NOT_A_REQUEST, None)
            factor = norms[u] ** (COVER_EXAMPLE - 1) if unit_s else 0.0
            if len(toks) == 1:
                # One word ("junk", "exam") is too little to name an issue.
                factor *= ONE_WORD_DAMPING
            read = {iid: raw * factor for iid, raw in unit_s.items()}
            unit_reads.append(read)
            for iid, s in read.items():
                if iid not in best or s > best[iid][0]:
                    best[iid] = (s, u, unit_i[iid])

        evidence: list[tuple[str, str, str, float]] = []
        scores = {iid: s for iid, (s, _u, _x) in best.items()}

        # Signals, negatives and rules, found first and added after the second opinion below.
        later: list[tuple[str, str, str, float]] = []
        present = set(light_words)
        unit_extra: list[dict[str, float]] = [{} for _ in units]  # signals less negatives
        told: list[set[str]] = [set() for _ in units]  # issues a long signal names outright
        for ph in self._phrases_in(self._signals, present, light):
            w = SIGNAL_WEIGHT[min(len(ph.tokens), 3)]
            later.append((ph.issue, "signal", ph.text, w))
            if len(ph.tokens) == 1:
                continue  # one word ("invitation") names a topic, not a problem of its own
            for u in range(len(units)):
                if ph.padded in lights[u]:
                    unit_extra[u][ph.issue] = unit_extra[u].get(ph.issue, 0.0) + w
                    if len(ph.tokens) >= 3:
                        told[u].add(ph.issue)
        signalled = {iid for iid, *_ in later}
        for ph in self._phrases_in(self._negatives, present, light):
            # A negative phrase argues against an issue in the sentence that carries it, not
            # in a sentence about something else (an issue only signalled: anywhere).
            carrier = best.get(ph.issue)
            if (ph.padded in lights[carrier[1]]) if carrier else ph.issue in signalled:
                later.append((ph.issue, "negative", ph.text, -NEGATIVE_WEIGHT))
            for u in range(len(units)):
                if ph.padded in lights[u]:
                    unit_extra[u][ph.issue] = unit_extra[u].get(ph.issue, 0.0) - NEGATIVE_WEIGHT
        if NOT_A_REQUEST in scores and "?" in parsed.new_text:
            later.append((NOT_A_REQUEST, "rule", "asks a question", -QUESTION_PENALTY))
        adjust: dict[str, float] = defaultdict(float)
        for iid, _kind, _detail, w in later:
            adjust[iid] += w

        # A second opinion from rapidfuzz on the leading issues: token-set similarity of the
        # sentence that matched with the issue's phrasings, which forgives word order and
        # the odd extra word.
        # Only the issue's examples closest by words are compared: rapidfuzz is fast, but not
        # free, and the far ones would not win. An issue behind the leader that could neither
        # overtake it with the largest bonus nor be carried by a sentence of its own is skipped:
        # the opinion could not change the verdict.
        scale, ex = self._ex_scale, self._examples
        leader = 0.0
        for rank, iid in enumerate(sorted(scores, key=lambda i: (-scores[i], i))[:FUZZ_ISSUES]):
            if (
                rank
                and scores[iid] < SECONDARY_SIMILARITY
                and min(1.0, scores[iid] * (1 - FUZZ_WEIGHT) + FUZZ_WEIGHT + adjust[iid]) < leader
            ):
                continue
            u = best[iid][1]
            get = touched[u].get
            near = [(get(i, 0.0) * scale[i], i) for i in self._by_issue[iid]]
            near.sort(reverse=True)
            closest = [i for _, i in near[:FUZZ_CANDIDATES]]
            unit = " ".join(units[u])
            match = process.extractOne(
                unit,
                [ex[i].tokens for i in closest],
                scorer=FUZZ_SCORER,
                processor=None,
                score_cutoff=FUZZ_FLOOR,
            )
            if match:
                bonus = FUZZ_WEIGHT * (match[1] - FUZZ_FLOOR) / (100 - FUZZ_FLOOR)
                # Token-set similarity is 100 for any subset: a three-word sentence inside a
                # ten-word example earns only its share, and a statement as above.
                matched = ex[closest[match[2]]]
                bonus *= min(1.0, len(units[u]) / (matched.tokens.count(" ") + 1)) ** 0.5
                if matched.mood and not matched.mood & moods[u]:
                    bonus *= POLARITY_DAMPING
                scores[iid] = scores[iid] * (1 - FUZZ_WEIGHT) + bonus
                evidence.append((iid, "fuzzy", f"{unit!r} ~ {match[0]!r} ({match[1]:.0f})", bonus))
            if not rank:
                leader = min(1.0, scores[iid] + adjust[iid])

        for iid, kind, detail, w in later:
            scores[iid] = scores.get(iid, 0.0) + w
            evidence.append((iid, kind, detail, w))
        # Sentences that may carry a secondary issue: complaints and questions of their own.
        # The whole of a short message repeats its sentences; it carries only a one-liner.
        # Each is (similarity per issue, its signals less its negatives per issue).
        carriers = [
            (read, unit_extra[u], told[u])
            for u, read in enumerate(unit_reads)
            if read and moods[u] and (u != whole_index or len(units) == 1)
        ]
        return self._decide(scores, carriers, best, evidence, parsed)

    def _decide(
        self,
        scores: dict[str, float],
        carriers: list[tuple[dict[str, float], dict[str, float], set[str]]],
        best: dict[str, tuple[float, int, int]],
        evidence: list[tuple[str, str, str, float]],
        parsed: ParsedMessage,
    ) -> Classification:
        ranked = sorted(
            ((iid, min(1.0, max(0.0, s))) for iid, s in scores.items()), key=lambda x: (-x[1], x[0])
        )
        top_id, top = ranked[0] if ranked else (None, 0.0)
        if top_id is None or top < UNKNOWN_BELOW:
            chosen: list[tuple[str, float]] = []
            keep = {iid for iid, _ in ranked[:3]}
            top_id = None
        elif top_id == NOT_A_REQUEST:
            chosen = [(top_id, top)]
            keep = {top_id}
        else:
            # Secondary issues: each must be the clear best reading of a sentence of its own
            # that complains or asks; context ("I received the invitation") carries none.
            chosen = [(top_id, top)] + [
                (iid, s)
                for iid, s in ranked[1:]
                if iid != NOT_A_REQUEST and s >= REPORT and _carried(iid, top_id, carriers)
            ]
            keep = {iid for iid, _ in chosen}
        result = Classification(
            issue=top_id,
            confidence=round(top, 2),
            issues=[IssueScore(id=iid, score=round(s, 2)) for iid, s in chosen],
            entities=parsed.entities,
            signals=parsed.signals,
        )
        result._evidence = [
            (iid, "example", self._examples[best[iid][2]].text, best[iid][0])
            for iid in sorted(keep, key=lambda i: (-scores[i], i))
            if iid in best
        ] + [e for e in evidence if e[0] in keep]
        return result


def _carried(
    iid: str,
    top_id: str,
    carriers: list[tuple[dict[str, float], dict[str, float], set[str]]],
) -> bool:
    """A secondary issue is carried by a sentence whose phrasing matches it well enough on its
    own (or that holds one of its long signals, such as the provider's "register more than
    once"), which it reads best with signals and negatives, clearly ahead of the primary."""
    for read, extra, told in carriers:
        similarity = read.get(iid, 0.0)
        if similarity < SECONDARY_SIMILARITY and iid not in told:
            continue
        s = similarity + extra.get(iid, 0.0)
        primary = read.get(top_id, 0.0) + extra.get(top_id, 0.0)
        if (
            s >= SECONDARY_UNIT
            and s >= primary + SECONDARY_MARGIN
            and s >= primary * SECONDARY_OVER_PRIMARY
            and all(s >= read.get(i, 0.0) + extra.get(i, 0.0) for i in read.keys() | extra.keys())
        ):
            return True
    return False


@functools.lru_cache(maxsize=4)
def get_matcher(knowledge_dir: Path) -> Matcher:
    """The matcher for a knowledge directory, built once per process."""
    return Matcher(load_knowledge(knowledge_dir))
