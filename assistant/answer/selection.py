"""From scored sentences to the 1-3 that answer: the best and those close to it, only sentences that can answer
the kind of question asked (a date for "when", the speaker's own words for "What did X say?", an expansion for
an acronym), the sentence that names what "Which ships ...?" asks for, what an event was about, and for "Tell
me more" the text around what was quoted."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from assistant.answer.base import Scope
from assistant.answer.scoring import LIGHT_VERBS, Scored, any_case, expansion_of_asked_acronym
from assistant.answer.sentences import PRONOUN_FIRST, Sentence, adjacent, split_sentences, states_a_date, whole_quote
from assistant.core.text import content_terms
from assistant.core.tuning import AnswerTuning
from assistant.index.vectors import Embed
from assistant.question.focus import asked_focus
from assistant.question.followup import ANAPHORA
from assistant.question.forms import (
    PURPOSE_ASKED,
    SPEAKER_ASKED,
    TOPIC_ASKED,
    asked_kind,
    asked_name,
    asked_terms,
    asks_when_of,
)

# What a sentence says an event was for: "the talks aimed to foster", "a meeting to strengthen" (not "to North Korea").
PURPOSE = re.compile(
    r"\b(?i:about|discuss\w*|aim\w*|purpose\w*|goals?|agenda|focus\w*|topics?)\b|\b(?i:to)\s+(?!the\b|a\b|an\b)[a-z]+\b"
)
SPEECH = (
    r"(?:say|says|said|state|states|stated|statement|announce[sd]?|tell|tells|told|claim(?:s|ed)?|warn(?:s|ed|ing)?|"
    r"write|writes|wrote|written|explain(?:s|ed)?|declare[sd]?|report(?:s|ed)?|note[sd]?|add(?:s|ed)|argue[sd]?|"
    r"confirm(?:s|ed)?|den(?:y|ies|ied)|call(?:s|ed)|describe[sd]?|urge[sd]?|suggest(?:s|ed)?|insist(?:s|ed)?)"
)
SAYS = re.compile(rf"\b{SPEECH}\b", re.IGNORECASE)


@dataclass(frozen=True)
class Speaker:
    """The one whose words the question asks for: `named` matches their name, `said` a sentence in which they
    say something; `terms` are their name's words."""

    named: re.Pattern[str]
    said: re.Pattern[str]
    terms: frozenset[str]

    def speaks(self, sentence: Sentence) -> bool:
        """`said` matches; or the sentence opens with "He", "She" or "They" standing for the name in the
        sentence before, and says something ("He issued a warning ..." after "Pranay Vaddi, the ...")."""
        if self.said.search(sentence.text):
            return True
        return self.terms <= sentence.inherited and bool(SAYS.search(sentence.text))


@lru_cache(maxsize=256)
def asked_speaker(question: str) -> Speaker | None:
    """Whose words the question asks for ("What did Peskov say?"); None when it asks for no one's."""
    asked = asked_name(question, (SPEAKER_ASKED,))
    if asked is None:
        return None
    name = any_case(asked)
    said = re.compile(
        rf"\b{name}\b[^.!?]{{0,80}}?\b{SPEECH}\b"
        rf"|\b(?:said|says|according\s+to|(?:stated|written|reported|told)\s+by|(?:report|statement)\s+(?:from|by))\b"
        rf"[^.!?]{{0,100}}?\b{name}\b",
        re.IGNORECASE,
    )
    return Speaker(re.compile(rf"\b{name}\b"), said, frozenset(content_terms(asked)))


def choose(
    scored: Sequence[Scored], min_support: float, tuning: AnswerTuning, each_document: bool = False
) -> list[Scored]:
    """1-3 sentences: the best, then others close to it (`close_to_best`, `next_to_chosen`) that add a new matched
    word or document; with `each_document`, the best supported sentence of every other document too, however
    far behind."""
    if not scored or scored[0].support < min_support:
        return []
    best = scored[0]
    chosen = [best]
    covered = set(best.matched)
    docs = {best.sentence.passage.doc_id}
    for candidate in scored[1:]:
        if len(chosen) == tuning.max_sentences:
            break
        new_doc = candidate.sentence.passage.doc_id not in docs
        neighbour = any(adjacent(candidate.sentence, c.sentence) for c in chosen)
        close = tuning.next_to_chosen if neighbour else tuning.close_to_best
        if candidate.score < close * best.score:
            if not each_document:
                break  # the rest score lower still
            if not new_doc:
                continue
        if candidate.support < min_support:
            continue
        if new_doc or candidate.matched - covered:
            chosen.append(candidate)
            covered |= candidate.matched
            docs.add(candidate.sentence.passage.doc_id)
    return chosen


def with_named_focus(
    question: str, picked: list[Scored], scored: Sequence[Scored], min_support: float, max_sentences: int
) -> list[Scored]:
    """An answer to "Which ships were photographed?" that names none ("photos of Russian ships") also gets the
    best supported sentence that does ("three Russian ships, the Maya, Angara and Maria"), however far behind."""
    named = asked_focus(question)
    if not picked or named is None or len(picked) == max_sentences:
        return picked
    if any(named.search(s.sentence.text) for s in picked):
        return picked
    naming = next((s for s in scored if s.support >= min_support and named.search(s.sentence.text)), None)
    return picked + [naming] if naming else picked


def with_purpose(
    question: str, picked: list[Scored], sentences: Sequence[Sentence], max_sentences: int
) -> list[Scored]:
    """An answer to "What was the meeting about?" that only says the meeting took place ("Putin met with ...
    Choe Son-hui at the Kremlin") also gets the sentence right after it when that one says what it was for
    ("... the talks aimed to foster ...")."""
    if not picked or not PURPOSE_ASKED.search(question) or PURPOSE.search(picked[0].sentence.text):
        return picked
    first = picked[0].sentence
    after = next((s for s in sentences if s.start > first.start and adjacent(first, s)), None)
    if after is None or not PURPOSE.search(after.text) or any(after.overlaps(x.sentence.span) for x in picked):
        return picked
    return [picked[0], Scored(after, picked[0].score, picked[0].support, frozenset()), *picked[1:]][:max_sentences]


def answering_kind(
    question: str, context: str, question_context: str, scored: list[Scored], named: frozenset[str] = frozenset()
) -> list[Scored]:
    """The scored sentences that can answer the kind of question asked, whatever their words share with it;
    `named`: the names the last answer quoted, which "they" may stand for too ("the Maja, Angara, and Maria")."""
    if asks_when_of(question, context):
        # "When did he say it?" about a sentence without a date: the date, if any, is in another one.
        scored = [x for x in scored if states_a_date(x.sentence.text)]
    if context and ANAPHORA.search(question):
        # "What did they carry?" about the ships: not "attacks were carried out" in a passage about
        # neither. The sentence, or the one it follows, names something the conversation was about.
        earlier = (set(content_terms(question_context)) | named) - asked_terms(question)
        scored = [x for x in scored if (x.sentence.about | x.sentence.before) & earlier]
    speaker = asked_speaker(question)
    if speaker and any(speaker.named.search(x.sentence.text) for x in scored):
        # Only when the passages use the name as asked: "Washington" may be what they call "the US".
        scored = [x for x in scored if speaker.speaks(x.sentence)]
    kind = asked_kind(question)
    if kind:
        # "Which minister visited Najin?": the best sentence only names a minister, and says nothing of the visit.
        empty = kind | LIGHT_VERBS  # matching only these says nothing of what is asked
        if scored and not scored[0].matched - empty and asked_terms(question) - empty:
            scored = [x for x in scored if x.matched - empty]
    expansion = expansion_of_asked_acronym(question)
    if expansion:
        scored = [x for x in scored if expansion.search(x.sentence.text)]
    return scored


def on_topic(question: str, scored: list[Scored], embed: Embed, min_cosine: float) -> list[Scored]:
    """For "What did X say about Y?", the sentences that name X (or follow one that does) and hold a word of Y
    or come close to it in meaning, `min_cosine` ("the images": "includes photos"); all of them for any other
    question."""
    asked = TOPIC_ASKED.match(question)
    if not asked or not scored:
        return scored
    who, topic = set(content_terms(asked["who"])), set(content_terms(asked["topic"]))
    if not topic:
        return scored  # "What do both articles say about it?": the history says what "it" is
    # Only when the passages name X as asked: "Washington" may be what they call "the US"; "both articles".
    scored = [x for x in scored if who & (x.sentence.about | x.sentence.before)] or scored
    vectors = embed([asked["topic"]] + [x.sentence.text for x in scored])
    cosines = vectors[1:] @ vectors[0]
    return [x for x, cosine in zip(scored, cosines) if topic & x.sentence.about or cosine >= min_cosine]


def antecedent_date(context: str, sentences: Sequence[Sentence]) -> Sentence | None:
    """The last answer quoted "He issued a warning ...", which has no date: the dated sentence the "He" stands
    for ("Pranay Vaddi ... stated last week ..."), just before it, says when."""
    quoted = " ".join(context.split())
    for earlier, sentence in zip(sentences, sentences[1:]):
        if (
            earlier.passage is sentence.passage
            and PRONOUN_FIRST.match(sentence.text)
            and " ".join(sentence.text.split()) in quoted
            and not states_a_date(sentence.text)
            and states_a_date(earlier.text)
        ):
            return earlier
    return None


def continuation(scope: Scope, context: str, document_text: Callable[[str], str], tuning: AnswerTuning) -> list[Scored]:
    """"Tell me more" when no new sentence reaches the bar: the unquoted rest of a paragraph the conversation
    quoted from ("Putin met with ... Choe Son-hui" before Peskov's words on "the talks"), else a sentence right
    before or after a quoted one that names something the conversation was about; at most `more_sentences`, in
    reading order."""
    earlier = set(content_terms(context))
    near: list[tuple[bool, int, Sentence]] = []
    for sentence in split_sentences(scope.around):
        document = document_text(sentence.passage.doc_id)
        sentence = whole_quote(sentence, document, tuning.quote_sentences)
        if any(sentence.overlaps(span) for span in scope.exclude):
            continue
        for doc_id, start, end in scope.exclude:
            if doc_id != sentence.passage.doc_id:
                continue
            gap = document[min(sentence.end, end) : max(sentence.start, start)]
            if "\n" not in gap or (not gap.strip() and sentence.about & earlier):
                near.append(("\n" in gap, len(gap), sentence))
    chosen: list[Sentence] = []
    for _, _, sentence in sorted(near, key=lambda item: item[:2]):
        if len(chosen) < tuning.more_sentences and not any(sentence.overlaps(c.span) for c in chosen):
            chosen.append(sentence)
    return [Scored(s, 0.0, 0.0, frozenset()) for s in sorted(chosen, key=lambda s: s.start)]
