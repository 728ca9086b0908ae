"""The one public face: `Assistant.open()`, `ask`, `retrieve`, `chat`. UI, CLI and eval all use it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from assistant.answer.base import Answerer, Scope
from assistant.answer.extractive import ExtractiveAnswerer
from assistant.answer.llm.answerer import LLMAnswerer, available_modes, load_answerer, resolve_mode
from assistant.answer.llm.grounded import GroundedLLM
from assistant.answer.scoring import TermWeights
from assistant.app.chat import Chat
from assistant.core.config import Settings, load_settings
from assistant.core.errors import AssistantError, IndexStateError, QuestionError
from assistant.core.types import Answer, Passage
from assistant.index.chroma_server import open_index
from assistant.index.embeddings import load_embed_model, one_thread
from assistant.index.ingest import IngestReport, build_settings, ingest
from assistant.index.keyword import load_term_stats
from assistant.index.store import Generation
from assistant.index.vectors import EmbeddingCache, SentenceVectors
from assistant.question.named_article import label_terms
from assistant.question.question import checked
from assistant.question.reader import Reader
from assistant.question.router import Router
from assistant.question.spelling import Speller, first_written
from assistant.retrieve.hybrid import HybridRetriever


class Assistant:
    """Question answering over one corpus and its index. Thread-safe for concurrent `ask` calls."""

    def __init__(self, settings: Settings) -> None:
        # numpy's BLAS on one thread in a process that answers questions: its second thread spins while it
        # waits, so on a shared machine a warm ask took about twice the CPU and the wall time with it
        # (bench/warm_compare.py; README, Scale). The limit holds for the rest of the process.
        threadpool_limits(1, user_api="blas")
        self.settings = settings
        self.index = open_index(settings)
        self._lock = threading.RLock()
        self._answerers: dict[str, LLMAnswerer | None] = {}  # per answer mode, loaded on first use
        self.mode = resolve_mode(settings)
        self.build_report: IngestReport | None = None  # set by `open` when it had to build the index
        self._load()

    @classmethod
    def open(cls, corpus_dir: str | Path | None = None, index_dir: str | Path | None = None, **settings: Any) -> Assistant:
        """Open the index (building it first when it is missing); None means the configured default."""
        resolved = load_settings(corpus_dir=corpus_dir, index_dir=index_dir, **settings)
        report = None if open_index(resolved).exists() else ingest(resolved)
        bot = cls(resolved)
        bot.build_report = report
        return bot

    def _load(self) -> None:
        """Load the last complete generation of the index. A newer one may be committed meanwhile, and the one
        being read pruned: then read the newer one."""
        for attempt in range(3):
            generation = self.index.current()
            try:
                self._load_generation(generation)
                return
            except IndexStateError:
                if attempt == 2 or self._commit() == generation.manifest.get("commit"):
                    raise

    def _commit(self) -> str | None:
        """The manifest's commit id (None for an index from before generations)."""
        return self.index.manifest().get("commit")

    def _load_generation(self, generation: Generation) -> None:
        self.index.check_build(build_settings(self.settings), generation.manifest)
        if not generation.manifest.get("chunks"):
            raise IndexStateError(f"the {self.index.describe()} is empty; add documents and run `assistant ingest`")
        try:
            # One cache for questions and sentences: the retriever's question vector is re-used when answering.
            known = SentenceVectors.load(generation.folder)
            embed = EmbeddingCache(self._embed, known)
            retriever = HybridRetriever(self.index, generation, embed, self.settings.retrieval, known=known)
            documents = dict(generation.docstore().docs)
            # What a question may call an article by: "the UK article", "the TechCrunch story".
            labels = {
                doc_id: label_terms(doc.metadata.get("title", ""), doc.metadata.get("source", ""))
                for doc_id, doc in documents.items()
            }
        except AssistantError:
            raise
        except Exception as exc:  # bm25s and numpy raise many types on a damaged folder
            raise IndexStateError(
                f"the index at {self.index.path} is corrupt ({type(exc).__name__}); run `assistant ingest --rebuild`"
            ) from None
        df, n_chunks = load_term_stats(self.index, generation)
        extractive = ExtractiveAnswerer(
            TermWeights(df, n_chunks), embed, self.settings.answer, self.settings.abstention, self.document_text
        )
        written = partial(first_written, texts=[doc.text for doc in documents.values()])
        reader = Reader(Speller(df, written, self.settings.question), labels, self.settings.history_tokens)
        router = Router(retriever, self.settings.question.overview_documents)
        # Swapped in together, so that a question asked meanwhile sees one generation throughout.
        with self._lock:
            self.embed, self.retriever, self.documents = embed, retriever, documents
            self.extractive, self.reader, self.router = extractive, reader, router
            self.generation = generation
        self.answerer(self.mode)  # a missing model or bad prompt fails at open, not at the first question

    def refresh(self) -> None:
        """Reload when another process (`assistant ingest`) has committed a new generation of the index since
        this one loaded it (one small file read per question); questions wait while it loads."""
        try:
            commit = self._commit()
        except IndexStateError:
            return
        if commit != self.generation.manifest.get("commit"):
            with self._lock:
                if commit != self.generation.manifest.get("commit"):
                    self._load()

    def answerer(self, mode: str | None = None) -> LLMAnswerer | None:
        """The LLM answerer of `mode` (None: the configured one), loaded once; None means extractive."""
        mode = mode or self.mode
        if mode not in self._answerers:
            if mode != self.mode and mode not in available_modes(self.settings):
                modes = ", ".join(available_modes(self.settings))
                raise QuestionError(f"answer mode {mode!r} is not available here; choose one of {modes}")
            with self._lock:
                if mode not in self._answerers:
                    self._answerers[mode] = load_answerer(self.settings.model_copy(update={"answer_mode": mode}))
        return self._answerers[mode]

    def _embed(self, texts: list[str]) -> np.ndarray:
        with one_thread(self.settings):
            return np.asarray(load_embed_model(self.settings).get_text_embedding_batch(texts), dtype=np.float32)

    # --- corpus ---------------------------------------------------------------------------
    def ingest(self, rebuild: bool = False) -> IngestReport:
        """Re-sync the index with the corpus folder and reload it."""
        with self._lock:
            report = ingest(self.settings, rebuild=rebuild)
            self._load()
            return report

    def document_text(self, doc_id: str) -> str:
        try:
            return self.documents[doc_id].text
        except KeyError:
            raise QuestionError(f"no document {doc_id!r} in the index") from None

    def list_documents(self) -> list[dict[str, Any]]:
        return [
            {k: doc.metadata.get(k, "") for k in ("doc_id", "path", "title", "date", "source", "author")}
            for doc in self.documents.values()
        ]

    # --- questions ------------------------------------------------------------------------
    def retrieve(self, question: str, k: int | None = None) -> list[Passage]:
        self.refresh()
        question = self.reader.read(checked(question, self.settings.max_question_tokens))
        with self._lock:
            return self.retriever.retrieve(question, k or self.settings.top_k)

    def ask(
        self,
        question: str,
        history: list[str] | None = None,
        k: int | None = None,
        mode: str | None = None,
        previous: Answer | None = None,
    ) -> Answer:
        """Answer a question; `history` holds earlier user turns of the same conversation and `previous` its
        last answer (what "When did that happen?" asks about); `mode` overrides the configured answer mode
        for this question."""
        *_, answer = self._run(question, history or [], k, mode, previous, stream=False)
        assert isinstance(answer, Answer)
        return answer

    def stream(
        self,
        question: str,
        history: list[str] | None = None,
        k: int | None = None,
        mode: str | None = None,
        previous: Answer | None = None,
    ) -> Iterator[str | Answer]:
        """Text pieces as they come, then the complete Answer as the last item."""
        yield from self._run(question, history or [], k, mode, previous, stream=True)

    def _run(
        self, question: str, history: list[str], k: int | None, mode: str | None, previous: Answer | None, stream: bool
    ) -> Iterator[str | Answer]:
        started = time.perf_counter()
        self.refresh()
        asked = checked(question, self.settings.max_question_tokens)
        llm = self.answerer(mode)
        reading = self.reader.question(asked, history, previous, llm.resolve_followup if llm else None)
        with self._lock:
            routed = self.router.route(reading, k or self.settings.top_k)
        retrieved_ms = (time.perf_counter() - started) * 1000
        scope = Scope(routed.route.path, reading.parts, reading.exclude, reading.last, routed.around)
        answerer: Answerer = GroundedLLM(llm, self.extractive) if llm else self.extractive
        for piece in answerer.respond(reading, routed.passages, scope):
            if isinstance(piece, Answer):
                piece.question = asked
                piece.seen = reading.exclude | {c.span for c in piece.citations}
                piece.standalone_question = reading.standalone if reading.standalone != asked else ""
                piece.timings_ms = {
                    **piece.timings_ms,
                    "retrieve": round(retrieved_ms, 1),
                    "total": round((time.perf_counter() - started) * 1000, 1),
                }
            if stream or isinstance(piece, Answer):
                yield piece

    def chat(self) -> Chat:
        return Chat(self)
