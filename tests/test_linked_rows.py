"""Matrices carried from generation to generation by hard links (index/linked_rows.py), on real files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from assistant.index.linked_rows import load_rows, save_rows


def generation(root: Path, number: int) -> Path:
    folder = root / f"gen-{number}"
    folder.mkdir()
    return folder


def test_kept_rows_are_linked_and_the_matrix_reads_back(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    first = rng.standard_normal((40, 3)).astype(np.float32)
    one = generation(tmp_path, 1)
    save_rows(one, "m", first)
    assert np.array_equal(load_rows(one, "m"), first)

    # Drop rows 5 and 6 and add two: the base is linked, not copied.
    fresh = rng.standard_normal((2, 3)).astype(np.float32)
    taken = np.array([i for i in range(40) if i not in (5, 6)] + [-1, -1])
    two = generation(tmp_path, 2)
    save_rows(two, "m", fresh, one, taken)
    second = np.vstack([np.delete(first, [5, 6], axis=0), fresh])
    assert np.array_equal(load_rows(two, "m"), second)
    assert (two / "m.npy").stat().st_ino == (one / "m.npy").stat().st_ino

    # The next generation keeps the rows the last one added (and reorders): still one base, linked.
    three = generation(tmp_path, 3)
    order = np.array([39, 38, 0, 1, 2, 3] + list(range(4, 38)))
    save_rows(three, "m", np.zeros((0, 3), dtype=np.float32), two, order)
    assert np.array_equal(load_rows(three, "m"), second[order])
    assert (three / "m.npy").stat().st_ino == (one / "m.npy").stat().st_ino


def test_a_base_mostly_dead_is_written_again(tmp_path: Path) -> None:
    first = np.arange(80, dtype=np.float16).reshape(40, 2)
    one, two = generation(tmp_path, 1), generation(tmp_path, 2)
    save_rows(one, "m", first)
    fresh = np.ones((1, 2), dtype=np.float16)
    save_rows(two, "m", fresh, one, np.array([*range(20), -1]))
    assert np.array_equal(load_rows(two, "m", np.float16), np.vstack([first[:20], fresh]))
    assert (two / "m.npy").stat().st_ino != (one / "m.npy").stat().st_ino
    assert len(np.load(two / "m.npy")) == 21


def test_a_matrix_written_before_links_is_read_whole_and_linked(tmp_path: Path) -> None:
    one, two = generation(tmp_path, 1), generation(tmp_path, 2)
    old = np.eye(8, dtype=np.float32)
    np.save(one / "m.npy", old)  # no .rows.npy: as written before links
    assert np.array_equal(load_rows(one, "m"), old)
    save_rows(two, "m", np.full((1, 8), 2, dtype=np.float32), one, np.array([*range(1, 8), -1]))
    assert np.array_equal(load_rows(two, "m"), np.vstack([old[1:], np.full((1, 8), 2)]))
    assert (two / "m.npy").stat().st_ino == (one / "m.npy").stat().st_ino


def test_a_matrix_rewritten_in_its_own_folder_keeps_its_rows(tmp_path: Path) -> None:
    one = generation(tmp_path, 1)
    save_rows(one, "m", np.eye(4, dtype=np.float32))
    save_rows(one, "m", np.full((1, 4), 3, dtype=np.float32), one, np.array([2, -1]))
    assert np.array_equal(load_rows(one, "m"), np.vstack([np.eye(4)[2], np.full(4, 3)]))
