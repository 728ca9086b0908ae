"""LLM answer modes: a local GGUF through llama.cpp or any OpenAI-compatible server, writing from the sentences
the extractive answerer picks, every sentence checked against its citation."""
