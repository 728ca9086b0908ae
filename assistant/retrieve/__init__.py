"""Passages for a question: dense and keyword rankings fused, then a learned reranker."""
