"""Answers from the routed passages: one `Answerer` protocol (base.py) that the extractive answerer and the
LLM modes both implement; sentences, their scoring and selection, citations."""
