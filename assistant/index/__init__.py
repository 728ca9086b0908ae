"""Documents into the index folder and back: chunks with offsets, embeddings, Chroma, keyword indexes,
sentence vectors."""
