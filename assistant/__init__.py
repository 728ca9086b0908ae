"""corpus-assistant: cited answers from a folder of documents."""

from assistant.offline import go_offline

go_offline()  # before any library below can reach for the network

__version__ = "0.1.0"
