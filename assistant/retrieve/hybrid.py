"""Hybrid retrieval in two stages, no LLM calls: candidates by reciprocal-rank fusion, then a learned reranker.

Four rankings of every chunk: BM25 of the chunk (header + passage), BM25 of its best sentence, cosine of its
MiniLM vector (stored in Chroma) and cosine of its best sentence's vector (precomputed at ingest). Stage 1
fuses them by reciprocal rank (RRF): the question's top chunks are candidates, and so are the top chunks of
each outlet the question names and of each clause of the question (`targets`), so every named outlet brings
its candidates, and a chunk's rank there is a feature. Stage 2 describes every candidate by the features of
`rerank` and orders them by the reranker trained on MultiHop-RAG dev (bench/train_reranker.py).
"""
from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import bm25s
import numpy as np
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from assistant.core.errors import IndexStateError
from assistant.core.text import normalized
from assistant.core.tuning import RetrievalTuning
from assistant.core.types import Passage
from assistant.index.chunk_terms import load_sentence_keys
from assistant.index.keyword import chunk_sentences, load_keyword_index, load_sentence_index
from assistant.index.store import Generation, IndexDir
from assistant.index.vectors import Embed, SentenceVectors, load_chunk_vectors
from assistant.retrieve.fusion import rank_at, rrf, top
from assistant.retrieve.rerank import FEATURES, MAX_CHUNK_INDEX, NO_TARGET_RANK, Reranker
from assistant.retrieve.targets import OutletMatcher, Target, clause_targets, question_clauses


def doc_id_of(node: Any) -> str:
    return str(node.metadata.get("doc_id") or node.ref_doc_id)


def to_passage(node: Any, score: float) -> Passage:
    meta = node.metadata
    return Passage(
        node_id=node.node_id,
        doc_id=doc_id_of(node),
        title=str(meta.get("title", "")),
        path=str(meta.get("path", "")),
        source=str(meta.get("source", "")),
        date=str(meta.get("date", "")),
        text=node.text,
        start=int(meta["start"]),
        end=int(meta["end"]),
        score=float(score),
        header=str(meta.get("header", "")),
        page=int(meta["page"]) if "page" in meta else None,
        page_starts=tuple(int(x) for x in str(meta.get("page_starts", "")).split(",") if x),
    )


@dataclass
class QuestionScores:
    """Every chunk's scores for one question (arrays over the chunks in keyword-index order)."""

    bm25: np.ndarray
    bm25_sentence: np.ndarray  # of the chunk's best sentence
    cosine: np.ndarray
    cosine_sentence: np.ndarray
    coverage: np.ndarray
    clause: np.ndarray  # (clauses, chunks): the best sentence's BM25 (over the best sentence's) plus its cosine
    clause_bm25: np.ndarray
    clause_cosine: np.ndarray

    def rankings(self) -> list[np.ndarray]:
        return [self.bm25, self.bm25_sentence, self.cosine, self.cosine_sentence]

    @cached_property
    def best_clause(self) -> np.ndarray:
        """Each chunk's match to the clause it matches best (used for candidates and as a feature)."""
        return self.clause.max(axis=0)


class HybridRetriever:
    """`retrieve(query, k)`: ranked passages. Loads the keyword indexes and every vector of one generation of
    the index once."""

    def __init__(
        self,
        index: IndexDir,
        generation: Generation,
        embed: Embed,
        tuning: RetrievalTuning,
        reranker: Reranker | None = None,
        known: SentenceVectors | None = None,
    ) -> None:
        self.embed = embed
        self.tuning = tuning
        self.reranker = reranker or Reranker.load()
        keyword = load_keyword_index(generation)
        self.bm25: bm25s.BM25 = keyword.bm25
        self.stemmer = keyword.stemmer
        self.token_pattern = keyword.token_pattern
        self.nodes = [metadata_dict_to_node(item) for item in keyword.corpus]
        for node, item in zip(self.nodes, keyword.corpus):
            node.id_ = item["node_id"]
        self.bm25.corpus = keyword.corpus = None  # the nodes above hold it; the raw entries would double it
        self.doc_ids = [doc_id_of(node) for node in self.nodes]
        self.doc_names, self.doc_codes = np.unique(np.array(self.doc_ids, dtype=str), return_inverse=True)
        self.starts = np.array([int(node.metadata["start"]) for node in self.nodes], dtype=np.int64)
        self.ends = np.array([int(node.metadata["end"]) for node in self.nodes], dtype=np.int64)
        sources = [str(n.metadata.get("source", "")) for n in self.nodes]
        dates = [str(n.metadata.get("date", "")) for n in self.nodes]
        self.outlets = OutletMatcher({s for s in sources if s}, set(zip(sources, dates)))
        # Each chunk's outlet and date as a code: a question's masks compare integers, not strings.
        self.source_names, self.source_codes = np.unique(np.array(sources, dtype=str), return_inverse=True)
        self.date_names, self.date_codes = np.unique(np.array(dates, dtype=str), return_inverse=True)
        self.sentence_bm25, self.sentence_starts = load_sentence_index(generation)
        self.vectors = self._vectors(index, generation)
        self.sentence_vectors, self.sentence_rows = self._sentence_vectors(generation, known)
        self.chunk_index = self._chunk_index()

    def _sentence_vectors(self, generation: Generation, known: SentenceVectors | None) -> tuple[np.ndarray, np.ndarray]:
        """The vectors of the distinct sentences, and the row of each sentence in sentence-index order: a
        sentence that two chunks share (their overlap) is held and scored once. `known` (the embed cache's, so
        memory holds them once) or the stored ones, found by the sentence keys the ingest kept; for an index
        without them, every sentence is looked up by its text."""
        if not SentenceVectors.present(generation.folder):
            raise IndexStateError(f"the index at {generation.folder} has no sentence vectors; run `assistant ingest`")
        keys = load_sentence_keys(generation.folder)
        known = known or SentenceVectors.load(generation.folder)
        if keys is not None and known is not None:
            rows = known.rows_of(keys)
            if len(rows) == int(self.sentence_bm25.scores["num_docs"]) and (rows >= 0).all():
                return known.vectors, rows
        texts = [sentence for node in self.nodes for sentence in chunk_sentences(node.text)]
        return np.ascontiguousarray(self.embed(texts), dtype=np.float32), np.arange(len(texts))

    def _vectors(self, index: IndexDir, generation: Generation) -> np.ndarray:
        """Every chunk's unit vector, in keyword-index order (dense scores are one matmul): saved with the
        generation, or from Chroma for an index built before they were saved."""
        position = {node.node_id: i for i, node in enumerate(self.nodes)}
        saved = load_chunk_vectors(generation.folder)
        pages = [saved] if saved is not None else self._chroma_vectors(index)
        vectors = np.zeros((len(self.nodes), 0), dtype=np.float32)
        for ids, got in pages:
            if vectors.shape[1] == 0 and len(ids):
                vectors = np.zeros((len(self.nodes), len(got[0])), dtype=np.float32)
            for node_id, vector in zip(ids, got):
                if node_id in position:
                    vectors[position[node_id]] = vector
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-12)

    @staticmethod
    def _chroma_vectors(index: IndexDir) -> Iterator[tuple[list[str], Any]]:
        try:
            for page in index.pages(["embeddings"]):
                yield page["ids"], page["embeddings"]
        finally:
            index.close()  # an ingest in this process must not share this client's view of the folder

    def _chunk_index(self) -> np.ndarray:
        """Each chunk's position in its document (0 = the first)."""
        docs = self.doc_ids
        order = sorted(range(len(self.nodes)), key=lambda i: (docs[i], self.starts[i]))
        index = np.zeros(len(self.nodes), dtype=np.int64)
        for previous, current in zip(order, order[1:]):
            if docs[previous] == docs[current]:
                index[current] = index[previous] + 1
        return index

    # --- scores over all chunks -------------------------------------------------------------
    def tokens(self, text: str) -> list[str]:
        return bm25s.tokenize(
            [normalized(text)], stopwords="en", stemmer=self.stemmer, token_pattern=self.token_pattern,
            return_ids=False, show_progress=False,
        )[0]

    def best_sentence(self, sentence_scores: np.ndarray) -> np.ndarray:
        """Each chunk's best score among its sentences."""
        return np.maximum.reduceat(sentence_scores, self.sentence_starts)

    def sentence_keyword(self, tokens: list[str]) -> np.ndarray:
        """BM25 of every sentence for the tokens."""
        return self.sentence_bm25.get_scores(tokens) if tokens else np.zeros(len(self.sentence_rows), dtype=np.float32)

    def question_scores(self, question: str, clauses: list[str]) -> QuestionScores:
        """BM25 is a sum over the question's tokens, so one pass per token gives both the chunk's BM25 and
        which tokens it holds; the question and its clauses are embedded in one batch."""
        n = len(self.nodes)
        tokens = self.tokens(question)
        per_token = {token: self.bm25.get_scores([token]) for token in set(tokens)}
        bm25 = sum((per_token[token] for token in tokens), np.zeros(n))
        idf = {t: np.log(1 + (n - (s > 0).sum() + 0.5) / ((s > 0).sum() + 0.5)) for t, s in per_token.items()}
        total = sum(idf.values())
        coverage = sum((idf[t] * (per_token[t] > 0) for t in idf), np.zeros(n)) / total if total else np.zeros(n)
        vectors = self.embed([question, *clauses])
        # One row per text (question, clauses), each contiguous over the sentences, for `best_sentence`.
        sentence_cosines = (self.sentence_vectors @ vectors.T).T[:, self.sentence_rows]
        clause, clause_bm25, clause_cosine = [], [], []
        for j, text in enumerate(clauses, 1):
            keyword = self.sentence_keyword(self.tokens(text))
            keyword = keyword / keyword.max() if keyword.max() > 0 else keyword
            clause.append(self.best_sentence(keyword + sentence_cosines[j]))
            clause_bm25.append(self.best_sentence(keyword))
            clause_cosine.append(self.best_sentence(sentence_cosines[j]))
        return QuestionScores(
            bm25=bm25,
            bm25_sentence=self.best_sentence(self.sentence_keyword(tokens)),
            cosine=self.vectors @ vectors[0],
            cosine_sentence=self.best_sentence(sentence_cosines[0]),
            coverage=coverage,
            clause=np.stack(clause),
            clause_bm25=np.stack(clause_bm25),
            clause_cosine=np.stack(clause_cosine),
        )

    @staticmethod
    def _codes(names: np.ndarray, wanted: Iterable[str]) -> list[int]:
        """The codes of those of `wanted` among `names` (sorted, as np.unique gives them)."""
        found = [(int(np.searchsorted(names, name)), name) for name in wanted]
        return [code for code, name in found if code < len(names) and names[code] == name]

    def document_mask(self, doc_ids: Iterable[str]) -> np.ndarray:
        """The chunks of any of these documents."""
        return np.isin(self.doc_codes, self._codes(self.doc_names, doc_ids))

    def source_mask(self, sources: frozenset[str]) -> np.ndarray:
        """The chunks of any of these outlets."""
        return np.isin(self.source_codes, self._codes(self.source_names, sources))

    def outlet_mask(self, target: Target) -> np.ndarray:
        """The target's chunks: its outlet's, on its date when it names one the outlet published on."""
        mask = self.source_mask(target.sources)
        date = self._codes(self.date_names, [target.date]) if target.date else []
        if date:
            on_date = mask & (self.date_codes == date[0])
            if on_date.any():  # a date the outlet never published on is ignored, not an empty result
                mask = on_date
        return mask

    def target_rankings(self, question: str, scores: QuestionScores) -> list[tuple[Target, np.ndarray]]:
        """Each target's fused ranking of its chunks: the question's four rankings plus two by its own words
        (BM25 of the chunk and of its best sentence)."""
        rankings = []
        for named in self.outlets.targets(question):
            for target in clause_targets(named, self.tuning.clause_terms):
                own: list[np.ndarray] = []
                tokens = self.tokens(target.text) if target.text != question else []
                if tokens:
                    own = [self.bm25.get_scores(tokens), self.best_sentence(self.sentence_keyword(tokens))]
                rankings.append((target, rrf(scores.rankings() + own, self.tuning.rrf_k, self.outlet_mask(target))))
        return rankings

    # --- the two stages ---------------------------------------------------------------------
    def candidates(self, question: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Stage 1: the candidate chunks' positions, and their features (rows in `rerank.FEATURES` order)."""
        scores = self.question_scores(question, question_clauses(question, self.tuning.question_clause_terms))
        fused = rrf(scores.rankings(), self.tuning.rrf_k)
        targets = self.target_rankings(question, scores)
        outlets = {target.sources: self.source_mask(target.sources) for target, _ in targets}
        candidates, per_clause = self.tuning.candidates, self.tuning.clause_candidates
        chosen = dict.fromkeys(top(fused, max(candidates, k)))
        target_tops = [top(ranking, candidates) for _, ranking in targets]
        for best in target_tops:
            chosen.update(dict.fromkeys(best))
        for clause in scores.clause:
            chosen.update(dict.fromkeys(top(clause, per_clause)))
        for mask in outlets.values():
            chosen.update(dict.fromkeys(top(scores.best_clause, per_clause, np.flatnonzero(mask))))
        positions = np.fromiter(chosen, dtype=np.int64, count=len(chosen))
        return positions, self.features(positions, scores, fused, targets, target_tops, outlets)

    def features(
        self,
        positions: np.ndarray,
        scores: QuestionScores,
        fused: np.ndarray,
        targets: list[tuple[Target, np.ndarray]],
        target_tops: list[list[int]],
        outlets: dict[frozenset[str], np.ndarray],
    ) -> np.ndarray:
        """`target_tops`: each target's best `tuning.candidates` chunks, best first (a chunk's target rank)."""
        def relative(values: np.ndarray) -> np.ndarray:
            best = values.max()
            return values[positions] / best if best > 0 else np.zeros(len(positions))

        # A chunk's rank for its best clause: among its named outlet's chunks, else among all.
        clause_rank = np.stack([rank_at(c, positions) for c in scores.clause]).min(axis=0)
        for mask in outlets.values():
            inside = mask[positions]
            if inside.any():  # ranked among the outlet's chunks alone: a candidate's place among them
                chunks = np.flatnonzero(mask)
                places = np.searchsorted(chunks, positions[inside])
                clause_rank[inside] = np.stack([rank_at(c[chunks], places) for c in scores.clause]).min(axis=0)
        target_rank = np.full(len(positions), NO_TARGET_RANK)
        dated = np.zeros(len(positions))
        place = {position: i for i, position in enumerate(positions.tolist())}
        for (target, _), best in zip(targets, target_tops):
            for rank, position in enumerate(best):
                if position in place:
                    target_rank[place[position]] = min(target_rank[place[position]], rank)
            if target.date:
                dated[outlets[target.sources][positions]] = 1.0
        columns = {
            "bm25": relative(scores.bm25),
            "bm25_sentence": relative(scores.bm25_sentence),
            "cosine": scores.cosine[positions],
            "cosine_sentence": scores.cosine_sentence[positions],
            "rrf": fused[positions] * self.tuning.rrf_k,
            "coverage": scores.coverage[positions],
            "clause": scores.best_clause[positions],
            "clause_bm25": scores.clause_bm25[:, positions].max(axis=0),
            "clause_cosine": scores.clause_cosine[:, positions].max(axis=0),
            "clause_mean": scores.clause[:, positions].mean(axis=0),
            "clause_rank": np.log1p(clause_rank),
            "target_rank": np.log1p(target_rank),
            "dated_target": dated,
            "chunk_index": np.minimum(self.chunk_index[positions], MAX_CHUNK_INDEX),
        }
        return np.column_stack([columns[name] for name in FEATURES]).astype(np.float64)

    def ranked(self, query: str, k: int) -> list[tuple[int, float]]:
        """Stage 2: (chunk position, reranker score) of the top k candidates."""
        positions, features = self.candidates(query, min(k, len(self.nodes)))
        logits = self.reranker.score(features)
        order = np.argsort(-logits, kind="stable")[:k]
        return [(int(positions[i]), float(logits[i])) for i in order]

    def retrieve(self, query: str, k: int) -> list[Passage]:
        return [to_passage(self.nodes[position], score) for position, score in self.ranked(query, k)]

    def retrieve_within(self, query: str, doc_id: str, k: int) -> list[Passage]:
        """The k chunks of one document that best match `query`, by stage 1's fusion within it (a question about
        "the UK article" is about nothing else)."""
        mask = self.document_mask([doc_id])
        clauses = question_clauses(query, self.tuning.question_clause_terms)
        fused = rrf(self.question_scores(query, clauses).rankings(), self.tuning.rrf_k, mask)
        return [to_passage(self.nodes[i], fused[i]) for i in top(fused, min(k, int(mask.sum())))]

    def around(self, spans: Iterable[tuple[str, int, int]]) -> list[Passage]:
        """The chunks that hold each (doc_id, start, end) span, with the chunk before and after each: the text
        around what an answer quoted, whatever the question retrieves."""
        docs = self.doc_ids
        held: set[tuple[str, int]] = set()
        for doc_id, start, end in spans:
            for i in np.flatnonzero(self.document_mask([doc_id]) & (self.starts < end) & (start < self.ends)):
                held |= {(doc_id, int(self.chunk_index[i]) + step) for step in (-1, 0, 1)}
        if not held:
            return []
        their = np.flatnonzero(self.document_mask({doc for doc, _ in held})).tolist()
        chosen = [i for i in their if (docs[i], int(self.chunk_index[i])) in held]
        return [to_passage(self.nodes[i], 0.0) for i in sorted(chosen, key=lambda i: (docs[i], self.chunk_index[i]))]

    def openings(self, max_documents: int) -> list[Passage] | None:
        """The first chunk of every document, in path order; None when there are more than `max_documents`."""
        firsts = [self.nodes[i] for i in np.flatnonzero(self.chunk_index == 0)]
        if not firsts or len(firsts) > max_documents:
            return None
        return [to_passage(node, 1.0) for node in sorted(firsts, key=lambda n: str(n.metadata.get("path", "")))]
