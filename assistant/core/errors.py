"""Typed errors: each message is one line that says what to do. The CLI prints them and exits 2."""

from __future__ import annotations


class AssistantError(Exception):
    """Base class of every error the assistant reports to its callers."""


class ConfigError(AssistantError):
    """A setting, the config file or a prompt template is invalid."""


class CorpusError(AssistantError):
    """The corpus folder is missing or holds nothing usable."""


class IndexStateError(AssistantError):
    """The index is missing, empty, corrupt or cannot be written."""


class IndexMismatchError(IndexStateError):
    """The index was built with another embedding model or chunking."""


class IndexBusyError(IndexStateError):
    """Another process is writing the index."""


class IndexUnreachableError(IndexStateError):
    """The Chroma server holding the index does not answer."""


class QuestionError(AssistantError):
    """The question is empty or too long."""


class LLMError(AssistantError):
    """The LLM could not answer: unreachable, timed out, missing model, context overflow."""
