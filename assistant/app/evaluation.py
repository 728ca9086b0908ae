"""The eval harness: gold questions through the public API, scored, summarised and checked against thresholds.

A gold file is JSON lines: {"id", "question", "history"?, "answer"?, "must_include"?, "sources"?, "type"?}.
`must_include` is a list of groups; each group needs one of its alternatives (case-insensitive
substring) in the answer. `sources` are doc ids a correct answer cites; `type` "unanswerable"
means the right answer is to abstain.
"""

from __future__ import annotations

import json
import math
import re
import sys
import time
import tomllib
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from assistant.core.config import Settings
from assistant.core.errors import AssistantError, ConfigError
from assistant.core.types import Answer

MARKER = re.compile(r"\[(\d+)\]")
ItemType = Literal["fact", "multi", "conversation", "unanswerable"]
# Metrics a thresholds file may bound from below ([mode.min]) or above ([mode.max]).
METRICS = (
    "answer_accuracy",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "retrieval_hit_rate",
    "mrr",
    "abstention_accuracy",
    "pass_rate",
    "latency_p50_ms",
    "latency_p95_ms",
)


class GoldError(ConfigError):
    """The gold or thresholds file cannot be used."""


class GoldItem(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1)
    question: str = Field(min_length=1)
    history: list[str] = []
    answer: str = ""
    must_include: list[list[str]] = []
    sources: list[str] = []
    type: ItemType = "fact"

    @field_validator("must_include", mode="before")
    @classmethod
    def _groups(cls, value: object) -> object:
        # A bare string is a group with one alternative.
        return [[g] if isinstance(g, str) else g for g in value] if isinstance(value, list) else value

    @property
    def answerable(self) -> bool:
        return self.type != "unanswerable"


def load_gold(path: Path) -> list[GoldItem]:
    """Parse and validate a gold file; any problem is a GoldError naming the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise GoldError(f"cannot read gold file {path} ({type(exc).__name__}); pass --gold FILE with JSON lines") from None
    items: list[GoldItem] = []
    seen: set[str] = set()
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            item = GoldItem.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            raise GoldError(f"{path} line {number}: not JSON ({exc.msg}); write one JSON object per line") from None
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "item"
            raise GoldError(f"{path} line {number}: {where}: {first['msg']}; see the schema in eval/gold.jsonl") from None
        if item.id in seen:
            raise GoldError(f"{path} line {number}: duplicate id {item.id!r}; ids must be unique")
        if not item.answerable and item.sources:
            raise GoldError(f"{path} line {number}: an unanswerable item has sources; leave 'sources' empty")
        seen.add(item.id)
        items.append(item)
    if not items:
        raise GoldError(f"{path} holds no gold items; add JSON lines with at least 'id' and 'question'")
    return items


def load_thresholds(path: Path, mode: str) -> dict[str, dict[str, float]]:
    """{"min": {...}, "max": {...}} for one answer mode."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GoldError(f"cannot read thresholds {path}: {exc}; fix it or pass --no-check") from None
    section = data.get(mode)
    if not isinstance(section, dict):
        raise GoldError(f"{path} has no thresholds for mode {mode!r}; measure with --no-check and add a {mode}.min table")
    bounds = {kind: dict(section.get(kind, {})) for kind in ("min", "max")}
    for kind, values in bounds.items():
        for key, value in values.items():
            if key not in METRICS or not isinstance(value, int | float):
                raise GoldError(f"{path}: {mode}.{kind}.{key} = {value!r} is not a known metric with a number")
    return bounds


# --- scoring one answer --------------------------------------------------------------------


def includes(text: str, groups: list[list[str]]) -> list[list[str]]:
    """The groups none of whose alternatives occur in text (empty = all matched)."""
    flat = " ".join(text.split()).lower()
    return [g for g in groups if not any(" ".join(a.split()).lower() in flat for a in g)]


def citation_problems(answer: Answer, document_text: Any) -> list[str]:
    """Why the citations are not valid: markers without a citation, unused or misnumbered citations,
    quoted passages that differ from the document at their offsets."""
    problems: list[str] = []
    used = {int(n) for n in MARKER.findall(answer.text)}
    numbers = [c.number for c in answer.citations]
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"citations numbered {numbers}, not 1..{len(numbers)}")
    for n in sorted(used - set(numbers)):
        problems.append(f"marker [{n}] has no citation")
    for n in sorted(set(numbers) - used):
        problems.append(f"citation {n} is not used in the text")
    if not answer.abstained and not answer.citations:
        problems.append("the answer cites nothing")
    for c in answer.citations:
        try:
            quoted = document_text(c.doc_id)[c.start : c.end]
        except AssistantError:
            problems.append(f"citation {c.number} names unknown document {c.doc_id!r}")
            continue
        if quoted != c.text or not c.text:
            problems.append(f"citation {c.number} text differs from {c.doc_id}[{c.start}:{c.end}]")
    return problems


@dataclass
class ItemResult:
    id: str
    type: str
    question: str
    history: list[str]
    answer: str
    abstained: bool
    citations: list[dict[str, Any]]
    retrieved: list[dict[str, Any]]
    latency_ms: float
    scores: dict[str, float | bool | None] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    passed: bool = False


def score(item: GoldItem, answer: Answer, document_text: Any, latency_ms: float) -> ItemResult:
    sources = set(item.sources)
    cited = [c.doc_id for c in answer.citations]
    ranked = [p.doc_id for p in answer.retrieved]
    missing = includes(answer.text, item.must_include) if item.answerable else []
    problems = citation_problems(answer, document_text)
    # An abstention without citations has nothing to check.
    nothing_cited = answer.abstained and not answer.citations and not MARKER.search(answer.text)
    s: dict[str, float | bool | None] = {
        "abstention_correct": answer.abstained == (not item.answerable),
        "answer_correct": item.answerable and not answer.abstained and not missing,
        "citations_valid": None if nothing_cited else not problems,
        "citation_precision": None,
        "citation_recall": None,
        "retrieval_hit": None,
        "reciprocal_rank": None,
    }
    if item.answerable and sources:
        if cited:
            s["citation_precision"] = sum(d in sources for d in cited) / len(cited)
        s["citation_recall"] = len(sources & set(cited)) / len(sources)
        first = next((rank for rank, d in enumerate(ranked, 1) if d in sources), None)
        s["retrieval_hit"] = first is not None
        s["reciprocal_rank"] = 1 / first if first else 0.0
    failures = [f"missing {g}" for g in missing] + problems
    if not s["abstention_correct"]:
        failures.append("abstained on an answerable question" if answer.abstained else "answered an unanswerable question")
    if item.answerable and sources and cited and not sources & set(cited):
        failures.append(f"cites none of {sorted(sources)}")
    return ItemResult(
        id=item.id,
        type=item.type,
        question=item.question,
        history=item.history,
        answer=answer.text,
        abstained=answer.abstained,
        citations=[c.to_dict() for c in answer.citations],
        retrieved=[{"doc_id": p.doc_id, "start": p.start, "end": p.end, "score": p.score} for p in answer.retrieved],
        latency_ms=round(latency_ms, 1),
        scores=s,
        failures=failures,
        passed=not failures,
    )


# --- the run ------------------------------------------------------------------------------


def _mean(values: list[Any]) -> float | None:
    present = [float(v) for v in values if v is not None]
    return round(sum(present) / len(present), 4) if present else None


def percentile(values: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100), as numpy's default."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    pos = (len(ordered) - 1) * q / 100
    low, high = math.floor(pos), math.ceil(pos)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def summarise(results: list[ItemResult], mode: str) -> dict[str, Any]:
    answerable = [r for r in results if r.type != "unanswerable"]
    latencies = [r.latency_ms for r in results]
    by_type: dict[str, dict[str, Any]] = {}
    for kind, count in Counter(r.type for r in results).items():
        group = [r for r in results if r.type == kind]
        by_type[kind] = {"items": count, "passed": sum(r.passed for r in group)}
    return {
        "mode": mode,
        "items": len(results),
        "answer_accuracy": _mean([r.scores["answer_correct"] for r in answerable]),
        "citation_validity": _mean([r.scores["citations_valid"] for r in results]),
        "citation_precision": _mean([r.scores["citation_precision"] for r in results]),
        "citation_recall": _mean([r.scores["citation_recall"] for r in results]),
        "retrieval_hit_rate": _mean([r.scores["retrieval_hit"] for r in results]),
        "mrr": _mean([r.scores["reciprocal_rank"] for r in results]),
        "abstention_accuracy": _mean([r.scores["abstention_correct"] for r in results]),
        "false_abstentions": sum(r.abstained for r in answerable),
        "missed_abstentions": sum(not r.abstained for r in results if r.type == "unanswerable"),
        "pass_rate": _mean([r.passed for r in results]),
        "latency_p50_ms": round(percentile(latencies, 50), 1),
        "latency_p95_ms": round(percentile(latencies, 95), 1),
        "by_type": by_type,
        "failed_items": [r.id for r in results if not r.passed],
    }


def check(summary: dict[str, Any], bounds: dict[str, dict[str, float]]) -> list[str]:
    """Metrics outside their thresholds, as readable lines. A missing (None) metric fails its bound."""
    failures = []
    for key, low in bounds["min"].items():
        if summary.get(key) is None or summary[key] < low:
            failures.append(f"{key} {summary.get(key)} < {low}")
    for key, high in bounds["max"].items():
        if summary.get(key) is None or summary[key] > high:
            failures.append(f"{key} {summary.get(key)} > {high}")
    return failures


def run_eval(
    settings: Settings,
    gold_path: Path,
    out_dir: Path,
    thresholds_path: Path | None,
    progress: bool = True,
) -> dict[str, Any]:
    """Ask every gold item, write results.jsonl, summary.json and summary.md into out_dir, return the summary.

    `passed` is None when no thresholds are checked (thresholds_path None)."""
    from assistant.app.assistant import Assistant

    items = load_gold(gold_path)
    mode = settings.answer_mode
    bounds = load_thresholds(thresholds_path, mode) if thresholds_path else None
    bot = Assistant.open(**settings.model_dump())
    known = {d["doc_id"] for d in bot.list_documents()}
    for item in items:
        unknown = sorted(set(item.sources) - known)
        if unknown:
            raise GoldError(f"{gold_path}: item {item.id} cites {unknown[0]!r}, not a document in the index; check --corpus")
    bot.retrieve(items[0].question)  # warm-up: first-call costs (model load) are not answer latency
    results = []
    started = time.perf_counter()
    for item in items:
        chat = bot.chat()
        for turn in item.history:
            chat.ask(turn)
        t0 = time.perf_counter()
        answer = chat.ask(item.question)
        results.append(score(item, answer, bot.document_text, (time.perf_counter() - t0) * 1000))
        if progress and not results[-1].passed:
            print(f"FAIL {item.id}: {'; '.join(results[-1].failures)}", file=sys.stderr)
    summary = summarise(results, mode)
    summary["gold"] = str(gold_path)
    summary["seconds"] = round(time.perf_counter() - started, 1)
    summary["thresholds"] = bounds
    summary["threshold_failures"] = check(summary, bounds) if bounds else []
    summary["passed"] = None if bounds is None else not summary["threshold_failures"]
    write_outputs(out_dir, results, summary)
    return summary


def write_outputs(out_dir: Path, results: list[ItemResult], summary: dict[str, Any]) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "results.jsonl").open("w", encoding="utf-8") as f:
        for r in results:
            f.write(json.dumps(asdict(r), ensure_ascii=False) + "\n")
    (out_dir / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    (out_dir / "summary.md").write_text(markdown(summary) + "\n", encoding="utf-8")


def markdown(summary: dict[str, Any]) -> str:
    bounds = summary.get("thresholds") or {"min": {}, "max": {}}
    lines = [
        f"# Eval: {summary['items']} items, mode {summary['mode']}, gold {summary.get('gold', '')}",
        "",
        "| metric | value | threshold |",
        "|---|---|---|",
    ]
    for key in METRICS:
        limit = (
            f">= {bounds['min'][key]}" if key in bounds["min"] else f"<= {bounds['max'][key]}" if key in bounds["max"] else ""
        )
        lines.append(f"| {key} | {summary.get(key)} | {limit} |")
    lines.append(f"| false / missed abstentions | {summary['false_abstentions']} / {summary['missed_abstentions']} | |")
    lines += ["", "| type | items | passed |", "|---|---|---|"]
    lines += [f"| {k} | {v['items']} | {v['passed']} |" for k, v in sorted(summary["by_type"].items())]
    verdict = {None: "not checked", True: "PASSED", False: "FAILED: " + "; ".join(summary.get("threshold_failures", []))}
    lines += ["", f"Failed items: {', '.join(summary['failed_items']) or 'none'}", "", f"Thresholds: {verdict[summary.get('passed')]}"]
    return "\n".join(lines)
