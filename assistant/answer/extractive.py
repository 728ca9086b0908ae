"""Extractive answers: the retrieved sentences that best answer the question, each with its citation.

Deterministic and LLM-free. The router (question/router.py) says how a question is answered and this answerer
follows it: the documents' openings for an overview, an article's byline, dateline or outlet line for a
question about the article (`byline`), every quotation for "Who is quoted?", nothing when nothing is asked,
and otherwise the sentences that score best (`scoring`, `selection`), part by part for a compound question.
The article's own headline is never quoted: it names the topic a question echoes rather than answering it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace

from assistant.answer.base import Scope, abstain
from assistant.answer.byline import about_articles
from assistant.answer.citations import compose
from assistant.answer.quotations import speaks
from assistant.answer.scoring import Scored, TermWeights, min_support, score_sentences
from assistant.answer.selection import (
    answering_kind,
    antecedent_date,
    choose,
    continuation,
    on_topic,
    with_named_focus,
    with_purpose,
)
from assistant.answer.sentences import Sentence, split_sentences, states_a_date, whole_quote
from assistant.core.text import content_terms
from assistant.core.tuning import AbstentionTuning, AnswerTuning
from assistant.core.types import Answer, Passage
from assistant.index.vectors import Embed
from assistant.question.followup import is_followup
from assistant.question.forms import EACH_DOCUMENT, asks_when_of
from assistant.question.question import Question
from assistant.question.router import AnswerPath


def opening_sentences(openings: Sequence[Passage], tuning: AnswerTuning) -> list[Scored]:
    """The first sentences of each document that say something: not its headline, byline, dateline or photo
    credit (fewer than `opening_words` words); more of each when there are few documents."""
    per_document = max(1, min(tuning.max_sentences, 4 // max(len(openings), 1)))
    chosen: list[Scored] = []
    for passage in openings:
        sentences = [
            s
            for s in split_sentences([passage])
            if len(re.findall(r"[^\W\d]\w*", s.text)) >= tuning.opening_words
        ]
        chosen += [Scored(s, 1.0, 1.0, s.terms) for s in sentences[:per_document]]
    return chosen


class ExtractiveAnswerer:
    mode = "extractive"

    def __init__(
        self,
        weights: TermWeights,
        embed: Embed,
        tuning: AnswerTuning,
        abstention: AbstentionTuning,
        document_text: Callable[[str], str],
    ) -> None:
        self.document_text = document_text  # doc_id -> its text: a quotation may begin in the chunk before
        self.weights = weights
        self.embed = embed
        self.tuning = tuning
        self.abstention = abstention

    def respond(self, question: Question, passages: list[Passage], scope: Scope) -> Iterator[str | Answer]:
        """The `Answerer` protocol: sentence by sentence; the complete Answer comes last."""
        answer = self.answer(question.answered, question.context, passages, scope)
        pieces = re.split(r"(?<=\][.!?]) ", answer.text)
        for i, piece in enumerate(pieces):
            yield piece if i == len(pieces) - 1 else piece + " "
        yield answer

    def answer(self, question: str, context: str, passages: list[Passage], scope: Scope = Scope()) -> Answer:
        """The answer by the path the router chose (`scope.path`); the LLM modes draft their sources with it."""
        match scope.path:
            case AnswerPath.OPENINGS:
                chosen = opening_sentences(passages, self.tuning)
            case AnswerPath.ARTICLE_LINE:
                chosen = self.article_lines(question, passages, scope)
            case AnswerPath.QUOTATIONS:
                chosen = self.quoting(split_sentences(passages))
            case AnswerPath.ABSTAIN:
                chosen = []
            case AnswerPath.SENTENCES:
                chosen = self.best_sentences(question, context, passages, scope)
        return compose(question, chosen, passages) if chosen else abstain(question, passages)

    def article_lines(self, question: str, passages: list[Passage], scope: Scope) -> list[Scored]:
        """The byline, dateline or outlet line that answers a question about the article; none when the article
        has no such line (its headline would otherwise "answer" who wrote it)."""
        found = []
        for passage, start, end in about_articles(question, passages, scope.last):
            text = passage.text[start - passage.start : end - passage.start]
            line = Sentence(passage, passages.index(passage), start, end, text, frozenset(content_terms(text)))
            found.append(Scored(line, 1.0, 1.0, line.terms))
        return found

    def best_sentences(self, question: str, context: str, passages: list[Passage], scope: Scope) -> list[Scored]:
        # Less what the last answer quoted, whose spans may be whole quotations of several sentences.
        sentences = [s for s in split_sentences(passages) if not any(s.overlaps(span) for span in scope.exclude)]
        dated = antecedent_date(context, sentences) if asks_when_of(question, context) else None
        if dated:
            return [Scored(dated, 1.0, 1.0, dated.terms)]
        # The passages' words are their sentences' words (already stemmed above) plus their headers'.
        passage_terms = frozenset().union(*(s.terms for s in sentences), *(content_terms(p.header) for p in passages))
        parts = scope.parts or (question,)
        tuning = self.tuning
        chosen: list[Scored] = []
        for i, part in enumerate(parts):
            # "..., and where were fragments of them found?": a later part's "them" is in the earlier parts.
            part_context = " ".join([context, *parts[:i]]).strip() if i and is_followup(part) else context
            scored = score_sentences(part, part_context, sentences, self.weights, self.embed, tuning)
            scored = answering_kind(part, context, part_context, scored, scope.last.named)
            if len(parts) > 1 and part.lower().startswith("when"):
                # The other parts say the rest: this one is answered by a date or by nothing.
                scored = [x for x in scored if states_a_date(x.sentence.text)]
            scored = on_topic(part, scored, self.embed, tuning.topic_cosine)
            # A compound question gets the best sentence for each part; a part the corpus does not answer is left out.
            bar = min_support(part, passage_terms, self.weights, self.abstention, tuning.light_idf)
            picked = choose(scored, bar, tuning, bool(EACH_DOCUMENT.search(question)))
            picked = with_named_focus(part, picked, scored, bar, tuning.max_sentences)
            picked = with_purpose(part, picked, sentences, tuning.max_sentences)
            picked = picked[: 1 if len(parts) > 1 else tuning.max_sentences]
            for x in picked:
                # A quotation's opening sentence alone does not say who is speaking, nor its last one what was
                # said before: each sentence is quoted with the whole quotation it is part of, once (and not
                # for "Tell me more" when the last answer quoted part of it).
                quoted = whole_quote(x.sentence, self.document_text(x.sentence.passage.doc_id), tuning.quote_sentences)
                if not any(quoted.overlaps(span) for span in [*scope.exclude, *(c.sentence.span for c in chosen)]):
                    chosen.append(replace(x, sentence=quoted))
        if not chosen and scope.exclude:
            chosen = continuation(scope, context, self.document_text, tuning)
        return chosen

    def quoting(self, sentences: Sequence[Sentence]) -> list[Scored]:
        """The sentences in which someone speaks, each with the whole quotation it is part of, from the best-ranked
        passages on (at most `quoted_max`), in reading order: documents as first retrieved, then by place."""
        ranked = sorted(sentences, key=lambda s: (s.rank, s.start))
        found: list[Sentence] = []
        for sentence in ranked:
            if len(found) == self.tuning.quoted_max:
                break
            quoted = whole_quote(sentence, self.document_text(sentence.passage.doc_id), self.tuning.quote_sentences)
            if speaks(quoted.text) and not any(quoted.overlaps(f.span) for f in found):
                found.append(quoted)
        documents = list(dict.fromkeys(s.passage.doc_id for s in ranked))
        found.sort(key=lambda s: (documents.index(s.passage.doc_id), s.start))
        return [Scored(s, 1.0, 1.0, s.terms) for s in found]
