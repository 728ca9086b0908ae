"""Shared helpers for the benchmark scripts: data paths, splits, tables, report files."""

from __future__ import annotations

import json
import os
import statistics
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT.parent / "shared" / "benchmarks"
REPORTS = ROOT / "eval" / "reports"
# Built benchmark indexes (10-40 minutes each to embed on 2 cores): kept outside the checkout, reused across runs.
CACHE = Path(os.environ.get("BENCH_CACHE", Path.home() / ".cache" / "corpus-assistant-bench")).expanduser()


def in_split(position: int, split: str) -> bool:
    """The benchmarks' split rule: position % 5 == 0 is test, the rest dev."""
    return (position % 5 == 0) == (split == "test")


def squash(text: str) -> str:
    """Text with spaces and newlines removed (the MultiHop-RAG paper's matching rule)."""
    return "".join(text.split())


def percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


def mean(values: Sequence[float]) -> float:
    return statistics.fmean(values) if values else 0.0


def table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> str:
    """A Markdown table; floats below 1 print with three decimals, others with one."""

    def cell(value: Any) -> str:
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 1 else f"{value:.1f}"
        return str(value)

    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "–")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def write_report(name: str, data: dict[str, Any], markdown: str) -> tuple[Path, Path]:
    REPORTS.mkdir(parents=True, exist_ok=True)
    json_path, md_path = REPORTS / f"{name}.json", REPORTS / f"{name}.md"
    json_path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(markdown + "\n", encoding="utf-8")
    return json_path, md_path
