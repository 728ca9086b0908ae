"""A matrix carried from one generation to the next without copying it: a base file that later generations
hard-link (a generation's files are never changed once written, and every write goes to a new name that is then
renamed, so nothing is ever written through a link), the rows added since that base, and where each row is.

    gen-N/<name>.npy         the base: written once, then linked by the generations after
    gen-N/<name>.added.npy   the rows added since the base was written
    gen-N/<name>.rows.npy    int64: row i of the matrix is row rows[i] of the base followed by the added rows

A generation writes a new base when the old one has more than a quarter of its rows dead (their chunks gone), or
when the added rows would outnumber a quarter of it. A base without the other two files (written before links) is
the whole matrix.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np


SLACK = 4  # a new base once dead or added rows pass 1/SLACK of the old one


def _paths(folder: Path, name: str) -> tuple[Path, Path, Path]:
    return folder / f"{name}.npy", folder / f"{name}.added.npy", folder / f"{name}.rows.npy"


def _layout(folder: Path, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(the base, memory-mapped; the added rows; each row's place in base + added)."""
    base_path, added_path, rows_path = _paths(folder, name)
    base = np.load(base_path, mmap_mode="r")
    if not rows_path.is_file():
        return base, base[:0], np.arange(len(base), dtype=np.int64)
    return base, np.load(added_path), np.load(rows_path)


def load_rows(folder: Path, name: str, dtype: type = np.float32) -> np.ndarray:
    """The whole matrix, as `dtype`."""
    base, added, rows = _layout(folder, name)
    out = np.empty((len(rows), base.shape[1]), dtype=dtype)
    in_base = rows < len(base)
    out[in_base] = base[rows[in_base]]
    out[~in_base] = added[rows[~in_base] - len(base)]
    return out


def save_rows(folder: Path, name: str, fresh: np.ndarray, previous: Path | None = None,
              taken: np.ndarray | None = None) -> None:
    """Save in `folder` the matrix whose row i is row taken[i] of `previous`'s matrix `name`, or, where taken[i]
    is -1, the next row of `fresh` (default: all of `fresh`). Rows of the previous base are linked, not copied."""
    taken = np.full(len(fresh), -1, dtype=np.int64) if taken is None else np.asarray(taken, dtype=np.int64)
    base_path, added_path, rows_path = _paths(folder, name)
    kept = taken >= 0
    if previous is None or not kept.any():
        _save_base(folder, name, fresh)
        return
    base, old_added, old_rows = _layout(previous, name)
    place = np.where(kept, old_rows[np.where(kept, taken, 0)], -1)
    in_base = kept & (place < len(base))
    dead = len(base) - len(np.unique(place[in_base]))
    extra = int((~in_base).sum())
    in_place = previous.resolve() == folder.resolve()  # nothing to link to
    if in_place or dead * SLACK > len(base) or extra * SLACK > len(base):
        _save_base(folder, name, _gathered(load_rows(previous, name, base.dtype), taken, fresh))
        return
    slot = np.cumsum(~in_base) - 1
    added = np.empty((extra, base.shape[1]), dtype=base.dtype)
    from_old = kept & ~in_base
    added[slot[from_old]] = old_added[place[from_old] - len(base)]
    if len(fresh):
        added[slot[~kept]] = fresh
    rows = np.where(in_base, place, len(base) + slot)
    base_path.unlink(missing_ok=True)  # an interrupted ingest may have left one
    os.link(_paths(previous, name)[0], base_path)
    save_array(added_path, added)
    save_array(rows_path, rows)


def _gathered(matrix: np.ndarray, taken: np.ndarray, fresh: np.ndarray) -> np.ndarray:
    out = np.empty((len(taken), matrix.shape[1]), dtype=matrix.dtype)
    out[taken >= 0] = matrix[taken[taken >= 0]]
    if len(fresh):
        out[taken < 0] = fresh
    return out


def save_array(path: Path, array: np.ndarray | dict[str, np.ndarray]) -> None:
    """Write then rename, so a reader never sees half a file; a dict of arrays is saved as one .npz."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("wb") as f:
        if isinstance(array, dict):
            np.savez(f, **array)
        else:
            np.save(f, array)
    tmp.replace(path)


def _save_base(folder: Path, name: str, matrix: np.ndarray) -> None:
    base_path, added_path, rows_path = _paths(folder, name)
    save_array(base_path, matrix)
    save_array(added_path, matrix[:0])
    save_array(rows_path, np.arange(len(matrix), dtype=np.int64))
