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
from rich.markup import escape

from assistant.core.errors import AssistantError

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Cited answers from a folder of documents.")
err = Console(stderr=True)
out = Console(highlight=False)

CorpusOpt = Annotated[Path | None, typer.Option("--corpus", help="Folder of documents \\[default: corpus].")]
IndexOpt = Annotated[Path | None, typer.Option("--index", help="Folder of the built index \\[default: index].")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object as the last line.")]
ChromaOpt = Annotated[
    str | None,
    typer.Option("--chroma-url", help="http://host:port of a Chroma server holding the index, shared with other processes."),
]

F = TypeVar("F", bound=Callable[..., Any])


def reports_errors(func: F) -> F:
    """Turn the assistant's typed errors into one line on stderr and exit code 2, no traceback."""

    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except AssistantError as exc:
            err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
            raise typer.Exit(2) from None

    return wrapper  # type: ignore[return-value]


def settings_from(**flags: Any) -> Any:
    from assistant.core.config import load_settings

    return load_settings(**flags)


@app.command()
@reports_errors
def ingest(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    rebuild: Annotated[bool, typer.Option("--rebuild", help="Drop the index and embed everything again.")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Exit 1 when any file was skipped.")] = False,
    as_json: JsonOpt = False,
    chroma_url: ChromaOpt = None,
) -> None:
    """Index new and changed documents, drop deleted ones. With --json, the last line also lists what was
    skipped ({path, reason}), kept at its indexed version, and indexed with a warning ({path, message})."""
    from assistant.index.ingest import ingest as run_ingest

    settings = settings_from(corpus_dir=corpus, index_dir=index, chroma_url=chroma_url)
    report = run_ingest(settings, rebuild=rebuild)
    print_report(report)
    if as_json:
        print(json.dumps(report.as_dict()))
    if strict and report.problems:
        err.print(f"[bold red]strict:[/] {len(report.problems)} file(s) skipped", soft_wrap=True)
        raise typer.Exit(1)


def print_report(report: Any) -> None:
    """What an ingest did, on stderr: skipped files, documents kept at their indexed version, totals."""
    for line in report.details():
        err.print(escape(line), style="yellow", soft_wrap=True)
    err.print(report.line(), soft_wrap=True)


def open_assistant(corpus: Path | None, index: Path | None, **settings: Any) -> Any:
    """`Assistant.open`, telling what it built when the index was missing (a first run)."""
    from assistant.app.assistant import Assistant

    bot = Assistant.open(corpus, index, **settings)
    if bot.build_report is not None:
        print_report(bot.build_report)
    return bot


@app.command()
@reports_errors
def status(corpus: CorpusOpt = None, index: IndexOpt = None, as_json: JsonOpt = False, chroma_url: ChromaOpt = None) -> None:
    """Documents, chunks, model and settings of the index."""
    from assistant.app.status import index_status

    info = index_status(settings_from(corpus_dir=corpus, index_dir=index, chroma_url=chroma_url))
    if as_json:
        print(json.dumps(info))
        return
    for key, value in info.items():
        out.print(f"{key:16} {value}", markup=False)


def print_answer(answer: Any) -> None:
    """The answer, then its numbered sources (or, when it abstains, the related reading)."""
    out.print(answer.text, markup=False, soft_wrap=True)
    print_sources(answer)


def print_sources(answer: Any) -> None:
    if answer.standalone_question:  # a follow-up with its context, or a misspelt name corrected
        err.print(f"[dim]read as:[/] {escape(answer.standalone_question)}", soft_wrap=True)
    if answer.notice:
        err.print(f"[yellow]note:[/] {escape(answer.notice)}", soft_wrap=True)
    for item in answer.unsupported:
        err.print(f"[yellow]unsupported:[/] {escape(item)}", soft_wrap=True)
    if answer.citations:
        out.print("\n[bold]Sources[/]")
        for c in answer.citations:
            meta = ", ".join(part for part in (c.source, c.date) if part)
            out.print(f"[bold]\\[{c.number}][/] " + escape(f"{c.title}{f' ({meta})' if meta else ''} — {where(c)}"), soft_wrap=True)
            out.print(f"    “{' '.join(c.text.split())}”", markup=False, soft_wrap=True)
    elif answer.abstained and answer.retrieved:
        out.print("\n[bold]Related reading (not an answer)[/]")
        for p in answer.retrieved[:3]:
            out.print(f"  - {p.title} — {where(p)}", markup=False, soft_wrap=True)


def where(item: Any) -> str:
    """'report.pdf, p. 3 @1200-1310': the file, the page when it has pages, the character offsets."""
    page = f", p. {item.page}" if item.page else ""
    return f"{item.path}{page} @{item.start}-{item.end}"


KOpt = Annotated[int | None, typer.Option("--k", min=1, max=100, help="Passages to retrieve \\[default: 10].")]
ModeOpt = Annotated[str | None, typer.Option("--mode", help="Answer mode: extractive, llamacpp, openai, auto.")]


@app.command()
@reports_errors
def ask(
    question: Annotated[str, typer.Argument(help="The question.")],
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    k: KOpt = None,
    mode: ModeOpt = None,
    as_json: JsonOpt = False,
    chroma_url: ChromaOpt = None,
) -> None:
    """Answer one question with numbered citations."""
    from assistant.question.question import checked

    checked(question, settings_from(corpus_dir=corpus, index_dir=index, chroma_url=chroma_url).max_question_tokens)  # before any loading
    bot = open_assistant(corpus, index, top_k=k, answer_mode=mode, chroma_url=chroma_url)
    answer = bot.ask(question)
    if as_json:
        print(json.dumps(answer.to_dict()))
    else:
        print_answer(answer)


@app.command()
@reports_errors
def chat(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    k: KOpt = None,
    mode: ModeOpt = None,
    chroma_url: ChromaOpt = None,
) -> None:
    """A conversation in the terminal; follow-ups use what was asked before. Empty line or Ctrl-D quits."""
    from assistant.core.errors import AssistantError

    conversation = open_assistant(corpus, index, top_k=k, answer_mode=mode, chroma_url=chroma_url).chat()
    # Bytes that are not UTF-8 reach the question check (and its one-line error) instead of ending the chat.
    sys.stdin.reconfigure(errors="surrogateescape")  # type: ignore[union-attr]
    err.print("Ask about the documents; /new starts a new conversation; an empty line quits.")
    while True:
        try:
            question = input("you> ").strip()
        except (EOFError, KeyboardInterrupt):
            break
        if not question:
            break
        if question == "/new":
            conversation.reset()
            continue
        try:
            for piece in conversation.stream(question):
                out.print(piece, end="", markup=False, soft_wrap=True)
            out.print()
        except AssistantError as exc:  # a bad question, or a shared server gone: the conversation goes on
            err.print(f"[bold red]error:[/] {escape(str(exc))}", soft_wrap=True)
            continue
        if conversation.last is not None:
            print_sources(conversation.last)


@app.command()
@reports_errors
def serve(
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    host: Annotated[str, typer.Option("--host", help="Address to listen on; other than loopback needs --auth.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="TCP port.")] = 7860,
    auth: Annotated[
        str | None, typer.Option("--auth", envvar="ASSISTANT_AUTH", help="USER:PASS required to use the UI.")
    ] = None,
    no_auth: Annotated[
        bool, typer.Option("--no-auth", help="Allow a non-loopback --host without --auth (anyone can use it).")
    ] = False,
    max_upload_mb: Annotated[
        float, typer.Option("--max-upload-mb", envvar="ASSISTANT_MAX_UPLOAD_MB", help="Largest file users may upload.")
    ] = 20.0,
    chroma_url: ChromaOpt = None,
) -> None:
    """The web UI: chat with cited answers, sources, corpus management (builds the index if missing)."""
    from assistant.ui.bind import check_bind, check_port

    check_port(port)
    credentials = check_bind(host, auth, no_auth, warn=lambda message: err.print(f"[bold yellow]warning:[/] {escape(message)}"))
    settings = settings_from(corpus_dir=corpus, index_dir=index, chroma_url=chroma_url)
    from assistant.ui.app import serve as run_server  # gradio loads only once the address is accepted

    run_server(settings, host=host, port=port, credentials=credentials, max_upload_mb=max_upload_mb)


@app.command("eval")
@reports_errors
def eval_gold(
    gold: Annotated[Path, typer.Option("--gold", help="Gold questions, JSON lines.")] = Path("eval/gold.jsonl"),
    mode: Annotated[str | None, typer.Option("--mode", help="Answer mode \\[default: configured].")] = None,
    corpus: CorpusOpt = None,
    index: IndexOpt = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Folder for results and summary.")] = Path("eval/out"),
    thresholds: Annotated[Path, typer.Option("--thresholds", help="Minimums per mode.")] = Path("eval/thresholds.toml"),
    no_check: Annotated[bool, typer.Option("--no-check", help="Measure only; do not compare with thresholds.")] = False,
    as_json: JsonOpt = False,
    chroma_url: ChromaOpt = None,
) -> None:
    """Score the assistant on gold questions; exit 1 when a metric misses its threshold."""
    from assistant.app.evaluation import markdown, run_eval

    settings = settings_from(corpus_dir=corpus, index_dir=index, answer_mode=mode, chroma_url=chroma_url)
    summary = run_eval(settings, gold, out_dir, None if no_check else thresholds)
    err.print(f"{summary['items']} items in {summary['seconds']}s; results in {out_dir}", soft_wrap=True)
    if as_json:
        print(json.dumps(summary))
    else:
        print(markdown(summary))
    if summary["passed"] is False:
        err.print(f"[bold red]below thresholds:[/] {escape('; '.join(summary['threshold_failures']))}", soft_wrap=True)
        raise typer.Exit(1)


def main() -> None:
    app(prog_name="assistant")


if __name__ == "__main__":
    sys.exit(main())
