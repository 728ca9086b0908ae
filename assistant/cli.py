"""The `assistant` command line. Every command takes --corpus and --index; errors are one line, exit 2."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from rich.console import Console

from assistant.errors import AssistantError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited answers from a folder of documents.")
err = Console(stderr=True)
out = Console(highlight=False)

CorpusOpt = Annotated[Path | None, typer.Option("--corpus", help="Folder of documents [default: corpus].")]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Folder of the built index [default: index].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn the assistant's typed errors into one line on stderr and exit code 2, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            err.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def settings_from(**flags: Any) -> Any:
    from assistant.config import load_settings

    return load_settings(**flags)


@app.command()
@reports_errors
def ingest(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and embed everything again.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Index new and changed documents, drop deleted ones."""
    from assistant.ingest import ingest as run_ingest

    settings = settings_from(corpus_dir=corpus, index_dir=index)
    report = run_ingest(settings, rebuild=rebuild)
    for problem in report.problems:
        err.print(f"[yellow]skipped[/] {problem}", soft_wrap=True)
    for doc_id in report.kept:
        err.print(f"[yellow]kept[/] the indexed version of {doc_id}", soft_wrap=True)
    err.print(report.line(), soft_wrap=True)
    if as_json:
        print(json.dumps(report.summary()))


@app.command()
@reports_errors
def status(corpus: CorpusOpt = None, index: IndexOpt = None, as_json: JsonOpt = False) -> None:
    """Documents, chunks, model and settings of the index."""
    from assistant.status import index_status

    info = index_status(settings_from(corpus_dir=corpus, index_dir=index))
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:16} {value}")


@app.command("eval")
@reports_errors
def eval_gold(
    gold: Annotated[Path, typer.Option("--gold", help="Gold questions, JSON lines.")] = Path("eval/gold.jsonl"),
    mode: Annotated[str | None, typer.Option("--mode", help="Answer mode [default: configured].")] = None,
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results and summary.")] = Path("eval/out"),
    thresholds: Annotated[Path, typer.Option("--thresholds", help="Minimums per mode.")] = Path("eval/thresholds.toml"),
    no_check: Annotated[bool, typer.Option("--no-check", help="Measure only; do not compare with thresholds.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Score the assistant on gold questions; exit 1 when a metric misses its threshold."""
    from assistant.evaluation import markdown, run_eval

    settings = settings_from(corpus_dir=corpus, index_dir=index, answer_mode=mode)
    summary = run_eval(settings, gold, out_dir, None if no_check else thresholds)
    err.print(f"{summary['items']} items in {summary['seconds']}s; results in {out_dir}", soft_wrap=True)
    if as_json:
        print(json.dumps(summary))
    else:
        print(markdown(summary, None))
    if summary["passed"] is False:
        err.print(f"[bold red]below thresholds:[/] {'; '.join(summary['threshold_failures'])}", soft_wrap=True)
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="assistant")


if __name__ == "__main__":
    sys.exit(main())
