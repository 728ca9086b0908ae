"""The boundaries between an ingest's phases, named so that tests can kill an ingest at each one.

With ASSISTANT_INGEST_PAUSE_AT=<phase>, an ingest that reaches that phase says so on stderr and waits to be
killed (tests/test_index_commit.py). Without it, `reached` does nothing.
"""

from __future__ import annotations

import os
import sys
import time

PAUSE_AT = "ASSISTANT_INGEST_PAUSE_AT"
PAUSED = "ingest paused at "

# In the order an ingest reaches them; ingest.py and keyword.py mark them.
PHASES = (
    "locked",  # the lock is held; an interrupted update has been undone in Chroma
    "journal",  # the documents about to change are recorded; Chroma not yet changed
    "embedded",  # Chroma has dropped the changed documents' chunks; their new chunks are embedded, not added
    "chroma",  # Chroma holds the new chunks; the new generation's folder holds the docstore
    "bm25",  # ... and the chunk BM25 index
    "sentence-index",  # ... and the sentence BM25 index and chunk vectors
    "sentence-vectors",  # ... and the sentence vectors
    "generation",  # the new generation's folder is complete; the manifest still names the last one
    "manifest",  # the manifest names the new generation; the journal is still there
    "committed",  # the journal is gone; older generations not yet removed
)


def reached(phase: str) -> None:
    if os.environ.get(PAUSE_AT) == phase:
        print(PAUSED + phase, file=sys.stderr, flush=True)
        while True:
            time.sleep(60)
