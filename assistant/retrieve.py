"""Hybrid retrieval: keyword (BM25) and dense (MiniLM) scores over every chunk, fused by weight.

Four views of each chunk: BM25 of the chunk, BM25 of its best sentence, cosine of its vector (Chroma's)
and cosine of its best sentence's vector (precomputed at ingest). BM25 is scaled to [0, 1] by its best
chunk and the cosines are added with fixed weights. On MultiHop-RAG dev this beat weighted reciprocal-rank
fusion of the same four rankings (best RRF, k=10: MRR@10 .710 vs .721, all-facts@10 .450 vs .452).

Questions that span several documents usually say which outlets (and sometimes dates) they draw on:
"Does the TechCrunch article ... while The Verge reports ...". Each outlet the question names (matched
against the `source` values in the index) becomes a *target*: its part of the question ranks that
outlet's chunks (of that date, when a date is named), and the targets take turns filling the top k,
so every named outlet gets its passages. The rest of the top k is the plain fused ranking.
Measured on MultiHop-RAG dev (bench/multihop.py); no LLM calls.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import bm25s
import numpy as np
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from assistant.keyword import chunk_sentences, load_keyword_index, load_sentence_index
from assistant.store import IndexDir
from assistant.text import content_terms
from assistant.types import Passage
from assistant.vectors import Embed, SentenceVectors

# Weights of the dense cosines against BM25 scaled to [0, 1] by its best chunk (tuned on MultiHop-RAG dev).
DENSE_WEIGHT = 0.25
DENSE_SENTENCE_WEIGHT = 1.0  # cosine of the chunk's best sentence (catches a paraphrased fact)
SENTENCE_WEIGHT = 1.0  # a chunk's keyword score adds this times its best sentence's BM25 score
TARGET_WEIGHT = 4.0  # a target's own words against the whole question's, in its keyword score
CLAUSE_TERMS = 5  # an undated target's words split into clauses of at least this many content words
DATED_SLOTS = 3  # a target with a date names one article: more of its chunks crowd out the other facts
TARGET_DENSE = False  # also embed each target's words (one more model call per named outlet)
CANDIDATES = 40  # ranked chunks kept per target
MONTHS = "January February March April May June July August September October November December".split()
DATE = re.compile(
    r"\b(%s)\s+(\d{1,2}),?\s+(\d{4})\b|\b(\d{4})-(\d{2})-(\d{2})(?=\b|T)" % "|".join(MONTHS), re.IGNORECASE
)
SAME_SOURCE = re.compile(r"\bsame (?:source|outlet|publication|news source|publisher)\b", re.IGNORECASE)
ALIAS_SEPARATORS = (" | ", " - ", ": ")
# "..., is also battling Epic Games in court, and has showcased ...": each clause usually asks for one fact.
CLAUSE = re.compile(
    r",\s+(?:and\s+|while\s+|but\s+)?|;\s+|\?\s*|\s+(?:and|while|whereas|but)\s+"
    r"(?=(?:is|was|has|had|also|the|a|an|in|on|by|according|as|did|does|do|which|who|that)\b)"
)


def to_passage(node: Any, score: float) -> Passage:
    meta = node.metadata
    return Passage(
        node_id=node.node_id,
        doc_id=str(meta.get("doc_id") or node.ref_doc_id),
        title=str(meta.get("title", "")),
        path=str(meta.get("path", "")),
        source=str(meta.get("source", "")),
        date=str(meta.get("date", "")),
        text=node.text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=float(score),
        header=str(meta.get("header", "")),
    )


@dataclass(frozen=True)
class Target:
    """A named outlet (any of `sources`), optionally on one date, and the words of the question about it."""

    sources: frozenset[str]
    date: str
    text: str


def source_aliases(source: str) -> set[str]:
    """'The Roar | Sports Writers Blog' is also named 'The Roar'; 'FOX News - Health' also 'FOX News'."""
    names = {source.strip()}
    for separator in ALIAS_SEPARATORS:
        if separator in source:
            names.add(source.split(separator)[0].strip())
    return {name for name in names if len(name) >= 3}


class OutletMatcher:
    """Finds the outlets and dates a question names, among the `source` values of the index."""

    def __init__(self, sources: set[str], published: set[tuple[str, str]] | None = None) -> None:
        self.published = published  # (source, date) of every article, when known
        self.aliases: dict[str, set[str]] = {}
        for source in sources:
            for alias in source_aliases(source):
                self.aliases.setdefault(alias, set()).add(source)
        names = sorted(self.aliases, key=len, reverse=True)  # longest first: 'The Independent - Sports'
        # Case-sensitive on purpose: outlet names are capitalised, 'The Age' is not 'the age of'.
        self.pattern = re.compile(r"(?<!\w)(%s)(?!\w)" % "|".join(map(re.escape, names))) if names else None

    def targets(self, question: str) -> list[Target]:
        if self.pattern is None:
            return []
        mentions = [(m.start(), m.end(), frozenset(self.aliases[m.group(1)])) for m in self.pattern.finditer(question)]
        for m in SAME_SOURCE.finditer(question):  # "... and the subsequent report by the same source"
            earlier = [x for x in mentions if x[1] <= m.start()]
            if earlier:
                mentions.append((m.start(), m.end(), max(earlier, key=lambda x: x[1])[2]))
        mentions.sort()
        dates = [(m.start(), iso_date(m)) for m in DATE.finditer(question)]
        targets = []
        for i, (start, end, sources) in enumerate(mentions):
            lo = mentions[i - 1][1] if i else 0
            hi = mentions[i + 1][0] if i + 1 < len(mentions) else len(question)
            # The date written after the outlet ("TechCrunch, on October 7"), else the one just before it.
            named = [d for p, d in dates if end <= p < hi] or [d for p, d in dates if lo <= p < start]
            # Its words: what follows the name up to the next outlet ("the TechCrunch article on ..."), or
            # the whole question when little follows ("..., as reported by The Age and Fortune?").
            words = question[end:hi]
            targets.append(Target(sources, named[0] if named else "", words if len(content_terms(words)) >= 3 else question))
        return targets + self.date_targets(question, mentions, dates, {t.date for t in targets})

    def date_targets(
        self, question: str, mentions: list[tuple[int, int, frozenset[str]]], dates: list[tuple[int, str]], used: set[str]
    ) -> list[Target]:
        """A date no outlet mention took ("Did TechCrunch, after reporting on September 28, ..., when reporting
        on December 19, ...") names another article of the outlet mentioned before it."""
        extra: list[Target] = []
        for i, (position, date) in enumerate(dates):
            if not mentions:
                break
            before = [sources for start, _, sources in mentions if start < position]
            sources = before[-1] if before else mentions[0][2]
            if date in used or (self.published is not None and not any((s, date) in self.published for s in sources)):
                continue
            used.add(date)
            end = dates[i + 1][0] if i + 1 < len(dates) else len(question)
            words = DATE.sub(" ", question[position:end], count=1)
            extra.append(Target(sources, date, words if len(content_terms(words)) >= 3 else question))
        return extra


def clause_targets(target: Target) -> list[Target]:
    """An undated target whose words hold several clauses becomes one target per clause: an outlet named
    once ("according to TechCrunch") often backs several facts from different articles."""
    if target.date:
        return [target]
    parts = [part for part in CLAUSE.split(target.text) if part and len(content_terms(part)) >= CLAUSE_TERMS]
    return [Target(target.sources, target.date, part) for part in parts] if len(parts) >= 2 else [target]


def iso_date(match: re.Match[str]) -> str:
    if match.group(1):
        month = next(i for i, m in enumerate(MONTHS, 1) if m.lower() == match.group(1).lower())
        return f"{match.group(3)}-{month:02d}-{int(match.group(2)):02d}"
    return match.group(0)[:10]


class HybridRetriever:
    """`retrieve(query, k)`: ranked passages. Loads the keyword index and every chunk vector once."""

    def __init__(self, index: IndexDir, embed: Embed) -> None:
        self.embed = embed
        keyword = load_keyword_index(index)
        self.bm25: bm25s.BM25 = keyword.bm25
        self.stemmer = keyword.stemmer
        self.token_pattern = keyword.token_pattern
        self.nodes = [metadata_dict_to_node(item) for item in keyword.corpus]
        for node, item in zip(self.nodes, keyword.corpus):
            node.id_ = item["node_id"]
        self.sources = np.array([str(n.metadata.get("source", "")) for n in self.nodes])
        self.dates = np.array([str(n.metadata.get("date", "")) for n in self.nodes])
        self.outlets = OutletMatcher({s for s in self.sources if s}, set(zip(self.sources.tolist(), self.dates.tolist())))
        self.sentences = load_sentence_index(index)
        self.vectors = self._vectors(index) if DENSE_WEIGHT else None
        self.sentence_vectors = self._sentence_vectors(index)

    def _sentence_vectors(self, index: IndexDir) -> np.ndarray | None:
        """Every sentence's vector in sentence-index order (the ingest stored them; the embed cache finds
        them by text). None for an index without them: embedding every sentence at open would be slow."""
        if not (DENSE_SENTENCE_WEIGHT and self.sentences is not None and SentenceVectors.present(index.path)):
            return None
        texts = [sentence for node in self.nodes for sentence in chunk_sentences(node.text)]
        return np.ascontiguousarray(self.embed(texts), dtype=np.float32)

    def _vectors(self, index: IndexDir) -> np.ndarray:
        """Every chunk's unit vector from Chroma, in keyword-index order (dense scores are one matmul)."""
        collection = index.collection()
        position = {node.node_id: i for i, node in enumerate(self.nodes)}
        vectors = np.zeros((len(self.nodes), 0), dtype=np.float32)
        offset, page = 0, 5000
        while True:
            got = collection.get(include=["embeddings"], limit=page, offset=offset)
            if vectors.shape[1] == 0 and len(got["ids"]):
                vectors = np.zeros((len(self.nodes), len(got["embeddings"][0])), dtype=np.float32)
            for node_id, vector in zip(got["ids"], got["embeddings"]):
                if node_id in position:
                    vectors[position[node_id]] = vector
            if len(got["ids"]) < page:
                break
            offset += page
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    # --- scores over all chunks -------------------------------------------------------------
    def keyword_scores(self, text: str) -> np.ndarray:
        tokens = bm25s.tokenize(
            [text], stopwords="en", stemmer=self.stemmer, token_pattern=self.token_pattern,
            return_ids=False, show_progress=False,
        )[0]
        if not tokens:
            return np.zeros(len(self.nodes), dtype=np.float32)
        scores = self.bm25.get_scores(tokens)
        if self.sentences is not None:
            sentence_bm25, chunk_starts = self.sentences
            scores = scores + SENTENCE_WEIGHT * np.maximum.reduceat(sentence_bm25.get_scores(tokens), chunk_starts)
        return scores

    def dense_scores(self, text: str) -> np.ndarray:
        """Weighted cosines of the chunks and of their best sentences (the question is embedded once)."""
        if self.vectors is None:
            return np.zeros(len(self.nodes), dtype=np.float32)
        vector = self.embed([text])[0]
        scores = DENSE_WEIGHT * (self.vectors @ vector)
        if self.sentence_vectors is not None and self.sentences is not None:
            scores += DENSE_SENTENCE_WEIGHT * np.maximum.reduceat(self.sentence_vectors @ vector, self.sentences[1])
        return scores

    def fused(self, keyword: np.ndarray, dense: np.ndarray) -> np.ndarray:
        top = float(keyword.max()) if keyword.size else 0.0
        return (keyword / top if top > 0 else keyword) + dense

    # --- ranking ----------------------------------------------------------------------------
    def target_ranking(
        self, target: Target, question: str, question_keyword: np.ndarray, dense: np.ndarray
    ) -> tuple[float, list[int]]:
        """The target's best chunks, and the score of its best (targets matched best take turns first)."""
        mask = np.isin(self.sources, list(target.sources))
        if target.date:
            on_date = mask & (self.dates == target.date)
            if on_date.any():  # a date the outlet never published on is ignored, not an empty result
                mask = on_date
        if TARGET_DENSE and self.vectors is not None and target.text != question:
            dense = dense + self.dense_scores(target.text)
        scores = self.fused(question_keyword + TARGET_WEIGHT * self.keyword_scores(target.text), dense)
        scores = np.where(mask, scores, -np.inf)
        best = [int(i) for i in np.argsort(-scores)[:CANDIDATES] if np.isfinite(scores[i])]
        return (float(scores[best[0]]) if best else 0.0), best

    def ranked(self, query: str, k: int) -> list[tuple[int, float]]:
        """(chunk position, score) of the top k: targets take turns, then the plain fused ranking."""
        question_keyword = self.keyword_scores(query)
        dense = self.dense_scores(query) if self.vectors is not None else np.zeros(len(self.nodes), dtype=np.float32)
        overall = self.fused(question_keyword, dense)
        k = min(k, len(self.nodes))
        targets = [part for target in self.outlets.targets(query) for part in clause_targets(target)]
        found = [(*self.target_ranking(t, query, question_keyword, dense), t) for t in targets]
        rankings = [(ranking, DATED_SLOTS if t.date else k) for _, ranking, t in sorted(found, key=lambda f: -f[0]) if ranking]
        chosen: dict[int, float] = {}
        while len(chosen) < k and any(ranking for ranking, _ in rankings):
            for i, (ranking, slots) in enumerate(rankings):
                while ranking and ranking[0] in chosen:
                    ranking.pop(0)
                if ranking and slots and len(chosen) < k:
                    position = ranking.pop(0)
                    chosen[position] = float(overall[position])
                    rankings[i] = (ranking if slots > 1 else [], slots - 1)
        for position in np.argsort(-overall)[: k + len(chosen)]:
            if len(chosen) >= k:
                break
            chosen.setdefault(int(position), float(overall[position]))
        return list(chosen.items())

    def retrieve(self, query: str, k: int) -> list[Passage]:
        return [to_passage(self.nodes[position], score) for position, score in self.ranked(query, k)]
