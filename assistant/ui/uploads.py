"""Which files an upload request may name: only those this server received through its own upload route.

An API caller sends an upload as FileData whose `path` it chooses. Gradio (6.31) refuses paths that do not
resolve inside its upload folder (GRADIO_TEMP_DIR, by default /tmp/gradio), but that folder also holds
files that were never uploaded here: those of other Gradio apps sharing it, copies Gradio downloads when a
caller sends a URL, outputs. So a path is accepted only when it is one that this process wrote for a
`POST /gradio_api/upload` (Gradio records those in `Blocks.upload_file_set`) and its real path, with `..`
and symlinks resolved, is a regular file inside the upload folder.

Gradio does not tie an upload to the session that sent it (the upload route takes no session id); an
upload's folder is named by a keyed hash of its bytes, so another session cannot guess its path.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import gradio as gr

from assistant.ui.corpus import UploadError


class UploadGuard:
    def __init__(self, received: set[str], folder: str | Path) -> None:
        self.received = received  # filled by Gradio as uploads arrive
        self.folder = Path(folder).resolve()

    @classmethod
    def of(cls, demo: gr.Blocks) -> UploadGuard:
        return cls(demo.upload_file_set, demo.GRADIO_CACHE)

    def check(self, sent: str) -> Path:
        """The real path of an upload; raises UploadError unless `sent` names a file this server received."""
        real = Path(os.path.realpath(sent))
        received = {os.path.abspath(path) for path in frozenset(self.received)}  # a copy: uploads add to it
        if os.path.abspath(sent) not in received or not real.is_relative_to(self.folder) or not real.is_file():
            raise UploadError(
                f"{sent!r} did not arrive through this server's upload, or has expired (uploads are kept an "
                "hour); send the file itself (the Corpus tab, or handle_file() in gradio_client)"
            )
        return real

    def sort(self, sent: Iterable[str]) -> tuple[list[tuple[Path, str]], list[str]]:
        """(the uploads to add, as (real path, name as sent), and why each of the others was refused)."""
        uploads: list[tuple[Path, str]] = []
        refused: list[str] = []
        for path in sent:
            try:
                uploads.append((self.check(path), Path(path).name))
            except UploadError as exc:
                refused.append(str(exc))
        return uploads, refused
