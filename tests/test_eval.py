"""The eval harness end to end on the shipped corpus (real index, real model) and its scorer on crafted answers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import BRITAIN_DOC, UK_DOC
from typer.testing import CliRunner

from assistant.app.evaluation import GoldItem, citation_problems, score
from assistant.cli import app
from assistant.core.types import Answer, Citation

SUMMARY_KEYS = {
    "items",
    "answer_accuracy",
    "citation_validity",
    "citation_precision",
    "citation_recall",
    "retrieval_hit_rate",
    "mrr",
    "abstention_accuracy",
    "latency_p50_ms",
    "latency_p95_ms",
    "passed",
}
GOLD = [
    {"id": "f1", "question": "Which company are the ships Maya, Angara and Maria tied to?", "answer": "Oboronlogistika",
     "must_include": [["Oboronlogistika"]], "sources": [UK_DOC, BRITAIN_DOC], "type": "fact"},
    {"id": "c1", "question": "Which company are they tied to?", "history": ["Which ships were photographed at Najin?"],
     "must_include": [["Oboronlogistika"]], "sources": [], "type": "conversation"},
    {"id": "u1", "question": "Who won the 2022 FIFA World Cup?", "must_include": [], "sources": [], "type": "unanswerable"},
]
ALL_ZERO = "[extractive.min]\n" + "".join(
    f"{k} = 0\n" for k in ("answer_accuracy", "citation_validity", "abstention_accuracy", "retrieval_hit_rate")
)


def write_lines(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run(shipped: dict[str, Path], tmp_path: Path, gold: Path, thresholds: str) -> object:
    limits = tmp_path / "thresholds.toml"
    limits.write_text(thresholds, encoding="utf-8")
    args = ["eval", "--gold", str(gold), "--corpus", str(shipped["corpus_dir"]), "--index", str(shipped["index_dir"]),
            "--out", str(tmp_path / "out"), "--thresholds", str(limits), "--mode", "extractive", "--json"]
    return CliRunner().invoke(app, args)


@pytest.fixture
def gold(tmp_path: Path) -> Path:
    return write_lines(tmp_path / "gold.jsonl", [json.dumps(item) for item in GOLD])


def test_eval_writes_results_and_summary(shipped: dict[str, Path], tmp_path: Path, gold: Path) -> None:
    result = run(shipped, tmp_path, gold, ALL_ZERO)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert SUMMARY_KEYS <= summary.keys()
    assert summary["items"] == 3 and summary["passed"] is True and summary["mode"] == "extractive"
    assert summary["citation_validity"] == 1.0  # the real answerer quotes documents verbatim
    results = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    assert [r["id"] for r in results] == ["f1", "c1", "u1"]
    assert {"question", "answer", "citations", "scores", "passed"} <= results[0].keys()
    assert results[2]["scores"]["abstention_correct"] is not None
    assert json.loads((tmp_path / "out" / "summary.json").read_text())["items"] == 3
    assert "| answer_accuracy |" in (tmp_path / "out" / "summary.md").read_text()


def test_eval_exits_1_below_a_threshold(shipped: dict[str, Path], tmp_path: Path, gold: Path) -> None:
    result = run(shipped, tmp_path, gold, "[extractive.min]\nanswer_accuracy = 1.01\n")
    assert result.exit_code == 1
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["passed"] is False
    assert summary["threshold_failures"][0].startswith("answer_accuracy")


@pytest.mark.parametrize(
    ("lines", "thresholds", "message"),
    [
        (['{"id": "a", "question": "Where?"}', "{not json"], ALL_ZERO, "line 2: not JSON"),
        (['{"id": "a"}'], ALL_ZERO, "line 1: question"),
        (['{"id": "a", "question": "Q?", "type": "opinion"}'], ALL_ZERO, "line 1: type"),
        (['{"id": "a", "question": "Q?"}', '{"id": "a", "question": "R?"}'], ALL_ZERO, "duplicate id"),
        (['{"id": "a", "question": "Q?", "sources": ["nope.txt"]}'], ALL_ZERO, "not a document in the index"),
        ([""], ALL_ZERO, "holds no gold items"),
        (['{"id": "a", "question": "Q?"}'], "[extractive.min]\nanswer_acc = 0.5\n", "is not a known metric"),
        (['{"id": "a", "question": "Q?"}'], "[llamacpp.min]\nmrr = 0.5\n", "no thresholds for mode 'extractive'"),
    ],
)
def test_bad_gold_or_thresholds_is_one_line_exit_2(
    shipped: dict[str, Path], tmp_path: Path, lines: list[str], thresholds: str, message: str
) -> None:
    result = run(shipped, tmp_path, write_lines(tmp_path / "bad.jsonl", lines), thresholds)
    assert result.exit_code == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.output


def crafted(bot: object, doc_id: str, phrase: str, number: int = 1, shift: int = 0) -> Citation:
    """A citation quoting `phrase` from the document, optionally with offsets shifted off it."""
    start = bot.document_text(doc_id).index(phrase) + shift
    return Citation(number, doc_id, "t", doc_id, "", "", phrase, start, start + len(phrase))


def test_scorer_accepts_a_true_citation(bot: object) -> None:
    citation = crafted(bot, UK_DOC, "docked at the North Korean port of Najin")
    answer = Answer(question="q", text="Docked at the North Korean port of Najin [1].", citations=[citation])
    item = GoldItem(id="x", question="q", must_include=[["Najin", "Rason"]], sources=[UK_DOC, BRITAIN_DOC])
    result = score(item, answer, bot.document_text, 1.0)
    assert result.passed and result.scores["citations_valid"] is True
    assert result.scores["citation_precision"] == 1.0 and result.scores["citation_recall"] == 0.5


def test_scorer_flags_wrong_citations(bot: object) -> None:
    shifted = crafted(bot, UK_DOC, "docked at the North Korean port of Najin", shift=3)
    answer = Answer(question="q", text="Docked at Najin [1]. Loaded in Rason [2].", citations=[shifted])
    problems = citation_problems(answer, bot.document_text)
    assert any("text differs" in p for p in problems) and "marker [2] has no citation" in problems
    item = GoldItem(id="x", question="q", must_include=[["Najin"]], sources=[BRITAIN_DOC])
    result = score(item, answer, bot.document_text, 1.0)
    assert not result.passed and result.scores["citations_valid"] is False
    assert result.scores["citation_precision"] == 0.0  # cites only the article outside `sources`


def test_scorer_flags_an_unused_citation_and_a_missed_abstention(bot: object) -> None:
    unused = crafted(bot, BRITAIN_DOC, "Najin (Rason)")
    answer = Answer(question="q", text="Something uncited.", citations=[unused])
    assert "citation 1 is not used in the text" in citation_problems(answer, bot.document_text)
    result = score(GoldItem(id="u", question="q", type="unanswerable"), answer, bot.document_text, 1.0)
    assert "answered an unanswerable question" in result.failures
