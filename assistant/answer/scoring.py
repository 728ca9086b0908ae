"""How well a sentence answers a question. Its support mixes two views: the IDF-weighted share of the
question's content words it holds (history words count less) and the cosine similarity of its embedding to
the question's (catches "photographed" vs "images"). Small bonuses go to higher-ranked passages and to
sentences holding the kind of thing asked for (a date for "when", a number for "how many", a name for
"which"/"who", a definition for "Who is X?"). When no sentence gives enough support the answer abstains
(`min_support`). The weights and bonuses are `AnswerTuning`'s and the bars `AbstentionTuning`'s."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.answer.sentences import Sentence, states_a_date
from assistant.core.lexicon import words
from assistant.core.text import content_terms, stem
from assistant.core.tuning import AbstentionTuning, AnswerTuning
from assistant.index.vectors import Embed
from assistant.question.focus import asked_focus
from assistant.question.forms import ACRONYM_ASKED, COUNTED, DEFINITION_ASKED, asked_kind, asked_name, asked_terms

# A figure, in digits or in words ("three Russian ships", "hundreds of thousands of shells").
FIGURE = (
    r"\d|\b(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|twenty|thirty|forty|fifty|"
    r"hundreds?|thousands?|millions?|billions?|dozens?|half|twice)\b"
)
NUMBER = re.compile(FIGURE, re.IGNORECASE)
# A date's figures are no count: "on January 2" does not answer "how many".
DATED = re.compile(
    r"\b(?:January|February|March|April|May|June|July|August|September|October|November|December)\s+\d{1,2}\b"
    r"|\b\d{1,2}\s+(?=January|February|March|April|May|June|July|August|September|October|November|December)"
    r"|\b(?:1[89]|20)\d\d\b"
)
# Verbs a text says otherwise ("give" is "has provided"): a sentence's score weighs them at most
# AnswerTuning.light_idf, though the passages must still hold them to lower the bar for answering.
LIGHT_VERBS = frozenset(content_terms(" ".join(words("en/light_verbs"))))
NAME = re.compile(r"(?<![.!?]\s)(?<!^)\b[A-Z][\w'ʼ-]+")
ROLES = "|".join(words("news/roles"))  # "Kremlin spokesperson Dmitry Peskov" defines Peskov


@dataclass(frozen=True)
class Scored:
    sentence: Sentence
    score: float  # for ranking: support plus bonuses
    support: float  # for abstaining: how well the sentence matches the question
    matched: frozenset[str]


class TermWeights:
    """IDF from the keyword index's document frequencies; unseen words weigh the most."""

    def __init__(self, df: dict[str, int], n_chunks: int) -> None:
        self.df = df
        self.n = max(n_chunks, 1)

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1 + (self.n - df + 0.5) / (df + 0.5))


def answer_type_bonus(question: str, sentence: str, tuning: AnswerTuning, defines: bool | None = None) -> float:
    """Reward the kind of thing asked for; penalise its absence where the kind is unmistakable. `defines`:
    whether the sentence defines the name asked about, when the caller has already found out."""
    q = question.lower()
    if q.startswith("when") or re.search(r"\b(what|which) (date|day|month|year)\b", q):
        return tuning.type_bonus if states_a_date(sentence) else -tuning.type_penalty
    if re.search(r"\bhow (many|much|far|long|old)\b|\bwhat (number|percentage|share)\b", q):
        figures = DATED.sub(" ", sentence)
        if not NUMBER.search(figures):
            return -tuning.type_penalty
        counted = COUNTED.search(question)
        if counted is None:
            return tuning.type_bonus
        # "three Russian ships ... loading containers" holds a figure, but not one of containers.
        word = counted.group(1).lower()
        prefix = os.path.commonprefix([word, stem(word)])
        counts = re.search(rf"(?i:(?:{FIGURE})[\w,.]*\s+(?:[\w'ʼ-]+\s+){{0,2}}?{prefix})", figures)
        return tuning.type_bonus if counts else tuning.other_count_bonus
    if defines is None:
        defines = defines_asked_name(question, sentence)
    if defines:
        return tuning.defines_bonus  # outranks a shorter sentence that merely mentions the name
    named = asked_focus(question)
    if named and named.search(sentence):
        return tuning.type_bonus
    if re.match(r"(who|which|what|where)\b", q):
        asked = {w.lower() for w in re.findall(r"\w+", question)}
        return tuning.name_bonus if any(m.group(0).lower() not in asked for m in NAME.finditer(sentence)) else 0.0
    return 0.0


def any_case(name: str) -> str:
    return rf"(?i:{re.escape(name)})"


@lru_cache(maxsize=256)
def expansion_of_asked_acronym(question: str) -> re.Pattern[str] | None:
    """'... Institute (RUSI)', '(or RUSI)', 'RUSI (Royal United ...)', 'RUSI or Royal United ...', 'RUSI stands
    for ...' for 'What does RUSI stand for?'; None when the question asks for no acronym's expansion."""
    asked = asked_name(question, ACRONYM_ASKED)
    if asked is None:
        return None
    name = any_case(asked.rstrip("."))
    says = r"(?:stands?|stood|is\s+short|(?:is|was)\s+an?\s+(?:acronym|abbreviation))\s+(?:for|of)\b"
    return re.compile(
        rf"\(\s*(?:or\s+)?{name}\s*\)|\b{name}[\"”']?\s*\(\s*[\"“']?[A-Z]|\b{name},?\s+or\s+(?:the\s+)?[A-Z]\w*\s+[A-Z]"
        # "NATO stands for ...", or further on when a name follows: '"TGIF" block (which ... stood for "Thank ...'
        rf"|\b{name}[\"”']?\s+{says}|\b{name}\b[^.]{{0,45}}?\b{says}\s+[\"“']?[A-Z]"
    )


@lru_cache(maxsize=256)
def definition_of_asked_name(question: str) -> re.Pattern[str] | None:
    """What a sentence that defines the name the question asks about looks like; None when it asks no such
    thing. Once per question, as every candidate sentence is tried against it."""
    asked = asked_name(question, (*DEFINITION_ASKED, *ACRONYM_ASKED))
    if asked is None:
        return None
    name = any_case(asked.rstrip("."))  # "Tell me about RUSI."
    return re.compile(
        rf"\({name}\)|\b{name},\s+(?:the|a|an)\b|\b{name}\s+(?:is|are|was|were)\s+(?:the|a|an)\b"
        # "Kremlin spokesperson Dmitry Peskov", "the head of the Ukrainian intelligence Kyrylo Budanov"
        rf"|\b(?:{ROLES})(?:\s+(?:of|for|at)(?:\s+[\w'ʼ-]+){{1,4}}?)?\s+{name}\b"
    )


def defines_asked_name(question: str, sentence: str) -> bool:
    """'Pranay Vaddi, the Director for ...', '... Institute (RUSI)', 'Kremlin spokesperson Dmitry Peskov' for
    'Who is Pranay Vaddi?', 'What is RUSI?', 'Who is Dmitry Peskov?'."""
    defines = definition_of_asked_name(question)
    return bool(defines and defines.search(sentence))


def light_terms(question: str, weights: TermWeights) -> frozenset[str]:
    """The question's words that weigh little: LIGHT_VERBS, and the kind of thing asked for when the corpus never
    uses that word ("Which newspaper obtained the report?" is answered by 'obtained by "The Guardian"')."""
    return LIGHT_VERBS | {t for t in asked_kind(question) if not weights.df.get(t)}


def coverage_of(
    terms: set[str], weights: TermWeights, light_idf: float, light: frozenset[str] = frozenset()
) -> Callable[[frozenset[str]], float]:
    """IDF-weighted share of `terms` that a sentence holds; `light` terms weigh at most `light_idf`, and no more
    than the question's lightest other word ("Who took the photos?" is about photos, however common)."""
    idf = {t: weights.idf(t) for t in terms}
    cap = min([light_idf, *(v for t, v in idf.items() if t not in light)])
    idf = {t: min(v, cap) if t in light else v for t, v in idf.items()}
    total = sum(idf.values())
    return lambda found: sum(idf[t] for t in found & idf.keys()) / total if total else 0.0


def score_sentences(
    question: str, context: str, sentences: Sequence[Sentence], weights: TermWeights, embed: Embed, tuning: AnswerTuning
) -> list[Scored]:
    question_terms = asked_terms(question)
    history_terms = set(content_terms(context)) - question_terms
    if not (question_terms or history_terms) or not sentences:
        return []
    of_question = coverage_of(question_terms, weights, tuning.light_idf, light_terms(question, weights))
    of_history = coverage_of(history_terms, weights, tuning.light_idf)
    # The question's own words lead; the history only says what "they" or "it" refer to.
    history_share = 0.0 if not history_terms else (tuning.history_weight if question_terms else 1.0)
    lexical: list[tuple[float, Sentence, float]] = []
    for sentence in sentences:
        about = sentence.about
        own = of_question(about)
        coverage = (1 - history_share) * own + history_share * of_history(about)
        lexical.append((coverage, sentence, own))
    lexical.sort(key=lambda item: (-item[0], item[1].rank, item[1].start))
    candidates = lexical[: tuning.semantic_candidates]
    # Also give each of the top passages' sentences a chance when their words differ from the question's, and
    # a sentence that defines the name asked about wherever it is ("alternating current (AC)" for "What does AC
    # stand for?", among many that only use "AC").
    candidates += [
        item
        for item in lexical[tuning.semantic_candidates :]
        if item[1].rank < 2 or defines_asked_name(question, item[1].text)
    ]
    # A follow-up is compared both alone and with its history; the closer of the two counts.
    queries = [question] + ([f"{context} {question}"] if context else [])
    vectors = embed(queries + [c[1].text for c in candidates])
    cosines = (vectors[len(queries) :] @ vectors[: len(queries)].T).max(axis=1)
    scored = []
    for (coverage, sentence, own), cosine in zip(candidates, cosines):
        semantic = (1 - tuning.lexical_weight) * max(float(cosine), 0.0)
        defines = defines_asked_name(question, sentence.text)
        bonus = answer_type_bonus(question, sentence.text, tuning, defines) + tuning.rank_bonus / (1 + sentence.rank)
        matched = sentence.about & (question_terms | history_terms)
        # Ranking uses the history; support does not hold it against a follow-up that answers its own words.
        support = tuning.lexical_weight * max(coverage, own) + semantic + min(bonus, 0.0)
        if defines:
            support += tuning.defines_bonus  # "Who is X?" is answered by "X, the ...", whatever else the sentence says
        scored.append(Scored(sentence, tuning.lexical_weight * coverage + semantic + bonus, support, matched))
    scored.sort(key=lambda s: (-s.score, s.sentence.rank, s.sentence.start))
    return scored


def min_support(
    question: str, passage_terms: frozenset[str], weights: TermWeights, abstention: AbstentionTuning, light_idf: float
) -> float:
    """The support the best sentence needs (`AbstentionTuning`): the lower bar when the passages' words hold
    `coverage` of the question's."""
    covered = coverage_of(asked_terms(question), weights, light_idf, light_terms(question, weights))(passage_terms)
    return abstention.covered_support if covered >= abstention.coverage else abstention.support
