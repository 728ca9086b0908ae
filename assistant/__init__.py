"""corpus-assistant: cited answers from a folder of documents."""

from assistant.core.offline import go_offline

go_offline()  # before any library below can reach for the network

from assistant.app.assistant import Assistant  # noqa: E402
from assistant.app.chat import Chat  # noqa: E402
from assistant.core.errors import (  # noqa: E402
    AssistantError,
    ConfigError,
    CorpusError,
    IndexBusyError,
    IndexMismatchError,
    IndexStateError,
    LLMError,
    QuestionError,
)
from assistant.core.types import Answer, Citation, Passage  # noqa: E402

__version__ = "0.1.0"
__all__ = [
    "Answer", "Assistant", "AssistantError", "Chat", "Citation", "ConfigError", "CorpusError", "IndexBusyError",
    "IndexMismatchError", "IndexStateError", "LLMError", "Passage", "QuestionError",
]
