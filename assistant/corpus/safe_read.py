"""Read a corpus file safely: only regular files, only inside the corpus folder unless allowed, with a size limit.

A corpus folder is often a shared or synced folder, and a link in it may point anywhere: at a private file
(`notes.txt -> ~/.ssh/id_rsa`), at an endless device (`/dev/zero`), at a named pipe that blocks the reader
forever, or at itself. None of them is a document, and each gets its own reason.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

# What a path is when it is not a regular file, by the type bits of its mode.
KINDS = {
    stat.S_IFIFO: "a named pipe (FIFO)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}


class UnreadableFile(Exception):
    """The path is not a file the corpus may read; the message says why and what to do."""


def check_inside(path: Path, root: Path, outside_ok: bool) -> None:
    """Raise UnreadableFile when `path` (found under `root`) is a link that loops, dangles or, unless
    `outside_ok`, resolves to a place outside `root`."""
    try:
        real = path.resolve(strict=True)
    except RuntimeError:  # Python 3.11 reports a link loop this way
        raise UnreadableFile("symbolic link loop; point the link at a file or remove it") from None
    except FileNotFoundError:
        raise UnreadableFile("broken link: its target does not exist; fix the link or remove it") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise UnreadableFile("symbolic link loop; point the link at a file or remove it") from None
        raise UnreadableFile(f"cannot read the file ({exc.strerror or exc}); check its permissions") from None
    if not outside_ok and not real.is_relative_to(root.resolve()):
        raise UnreadableFile(
            "link to a file outside the corpus folder, not read; copy the file into the corpus, "
            "or set follow_outside_symlinks = true"
        )


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of the regular file at `path` (links followed), refused before reading when it is larger
    than `limit` bytes, and read with that limit in case it grows meanwhile."""
    try:
        _check_regular(os.stat(path), limit)  # before opening: opening a device can have effects of its own
        # O_NONBLOCK: should a pipe be swapped in after the check, opening it must not wait for a writer.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise _os_error(exc) from None
    with os.fdopen(fd, "rb") as file:
        _check_regular(os.fstat(fd), limit)
        data = file.read(limit + 1)
    if len(data) > limit:
        raise UnreadableFile(too_large(len(data), limit))
    return data


def too_large(size: int, limit: int) -> str:
    return f"too large ({megabytes(size)}, over the limit of {megabytes(limit)}); split the file, or raise max_file_mb"


def _check_regular(info: os.stat_result, limit: int) -> None:
    if not stat.S_ISREG(info.st_mode):
        kind = KINDS.get(stat.S_IFMT(info.st_mode), "not a regular file")
        raise UnreadableFile(f"{kind}, not a document; only regular files are read, remove it from the corpus")
    if info.st_size > limit:
        raise UnreadableFile(too_large(info.st_size, limit))


def _os_error(exc: OSError) -> UnreadableFile:
    if exc.errno == errno.ELOOP:
        return UnreadableFile("symbolic link loop; point the link at a file or remove it")
    if exc.errno == errno.ENOENT:
        return UnreadableFile("the file is gone (deleted while reading, or a broken link); run ingest again")
    return UnreadableFile(f"cannot read the file ({exc.strerror or exc}); check its permissions")


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB" if size >= 100_000 else f"{size / 1000:,.1f} kB"
