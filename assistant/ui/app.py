"""The web UI (`assistant serve`): streaming cited answers, readable sources, corpus management, an API.

One Assistant serves every browser session; each session's conversation lives in its own gr.State,
so no user sees another's history. Everything shown from documents is escaped (see ui.render).
API endpoints (gradio_client): `/ask` (question -> the answer's to_dict() as JSON text) and `/chat`
(the same, remembering the session's earlier questions for follow-ups; streams partial text first).
JSON text rather than a dict because gradio_client takes any output dict with a "path" key for a
file to download, and citations have one.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

import gradio as gr
from starlette.middleware import Middleware

from assistant.answer.llm.answerer import available_modes
from assistant.app.assistant import Assistant
from assistant.core.config import Settings
from assistant.core.errors import AssistantError, ConfigError, CorpusError, IndexStateError, QuestionError
from assistant.core.types import Answer
from assistant.index.chroma_server import open_index
from assistant.index.ingest import ingest
from assistant.ui.bind import check_port
from assistant.ui.login import FIRST_WAIT_S, FREE_FAILURES, LoginThrottle
from assistant.ui.corpus import ALLOWED_SUFFIXES, MB, Change, add_files, chunk_counts, delete_file
from assistant.ui.render import (
    answer_html,
    document_html,
    documents_table,
    error_html,
    sources_html,
    span_for,
    status_html,
    user_html,
)
from assistant.ui.style import CSS, DOCUMENT_JS, SOURCES_JS, theme
from assistant.ui.uploads import UploadGuard

log = logging.getLogger(__name__)
DEFAULT_MAX_UPLOAD_MB = 20.0
INTERNAL_ERROR = "internal error ({}); the server log has the details"
# Gradio's login page shows no reason for a refusal other than a wrong password, so say it up front.
LOGIN_MESSAGE = (
    f"Corpus assistant: sign in. After {FREE_FAILURES} failed attempts, this address waits "
    f"{FIRST_WAIT_S:g} s before the next, twice as long after each further failure."
)


# --- per-session conversation ----------------------------------------------------------------
@dataclass
class Turn:
    question: str
    text: str = ""  # streamed so far
    answer: Answer | None = None
    error: str = ""


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)
    opened: int = 0  # counts openings of the document view, so that each one re-scrolls

    def history(self) -> list[str]:
        return [turn.question for turn in self.turns if turn.answer is not None]

    def last_answer(self) -> Answer | None:
        return self.turns[-1].answer if self.turns else None

    def messages(self) -> list[dict[str, str]]:
        out = []
        for number, turn in enumerate(self.turns):
            out.append({"role": "user", "content": user_html(turn.question)})
            if turn.error:
                content = error_html(turn.error)
            elif turn.answer is None and not turn.text:
                content = '<div class="answer pending">Searching the corpus…</div>'
            else:
                content = answer_html(turn.answer.text if turn.answer else turn.text, number, turn.answer)
            out.append({"role": "assistant", "content": content})
        return out

    def answer(self, turn: int) -> Answer | None:
        return self.turns[turn].answer if 0 <= turn < len(self.turns) else None


def document_texts(bot: Assistant, answer: Answer) -> dict[str, str | None]:
    texts: dict[str, str | None] = {}
    for item in [*answer.citations, *answer.retrieved]:
        if item.doc_id not in texts:
            try:
                texts[item.doc_id] = bot.document_text(item.doc_id)
            except QuestionError:  # deleted from the corpus since the answer
                texts[item.doc_id] = None
    return texts


def one_line(exc: BaseException) -> str:
    if isinstance(exc, AssistantError):
        return str(exc)
    log.exception("unexpected error in the UI")
    return INTERNAL_ERROR.format(type(exc).__name__)


# --- the app -------------------------------------------------------------------------------------
def build_app(bot: Assistant, max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> gr.Blocks:
    modes = available_modes(bot.settings)
    default_mode = bot.mode if bot.mode in modes else modes[0]
    max_bytes = int(max_upload_mb * MB)
    settings = bot.settings

    def brand() -> str:
        docs = bot.list_documents()
        chunks = sum(chunk_counts(bot).values())
        return (
            "<h1>Corpus assistant</h1>"
            f'<div class="sub">Answers from {len(docs)} document(s), {chunks} passages in '
            f"<code>{escape(str(settings.corpus_dir))}</code>. Every sentence cites its source; "
            "click a [n] marker to read it.</div>"
        )

    def sources_for(conv: Conversation, turn: int, active: tuple[str, int] | None = None) -> str:
        answer = conv.answer(turn)
        texts = document_texts(bot, answer) if answer else {}
        return sources_html(answer, turn, texts, active)

    def open_span(conv: Conversation, turn: int, kind: str, n: int) -> tuple[str, str]:
        answer = conv.answer(turn)
        span = span_for(answer, kind, n) if answer else None
        conv.opened += 1
        text = document_texts(bot, answer).get(span.doc_id) if answer and span else None
        return sources_for(conv, turn, (kind, n)), document_html(span, text, conv.opened)

    # --- chat events ---------------------------------------------------------------------
    def respond(message: str, conv: Conversation, k: float, mode: str) -> Iterator[tuple[Any, ...]]:
        question = (message or "").strip()
        if not question:
            yield conv.messages(), gr.skip(), gr.skip(), "", conv
            return
        history, previous = conv.history(), conv.last_answer()
        turn = Turn(question)
        conv.turns.append(turn)
        number = len(conv.turns) - 1
        yield conv.messages(), gr.skip(), gr.skip(), "", conv
        try:
            for piece in bot.stream(question, history=history, k=int(k), mode=mode, previous=previous):
                if isinstance(piece, Answer):
                    turn.answer = piece
                else:
                    turn.text += piece
                    yield conv.messages(), gr.skip(), gr.skip(), "", conv
        except Exception as exc:  # every error ends up in the page
            turn.error = one_line(exc)
        yield conv.messages(), sources_for(conv, number), document_html(None, None), "", conv

    def new_conversation() -> tuple[Any, ...]:
        conv = Conversation()
        return [], sources_html(None, -1, {}), document_html(None, None), "", conv

    def on_select(conv: Conversation, evt: gr.SelectData) -> str:
        index = evt.index[0] if isinstance(evt.index, (list, tuple)) else evt.index
        return sources_for(conv, int(index) // 2)  # a user message and its answer make one turn

    def on_marker(conv: Conversation, evt: gr.EventData) -> tuple[str, str, Conversation]:
        data = getattr(evt, "_data", None) or {}
        try:
            turn, n, kind = int(data["turn"]), int(data["n"]), str(data.get("kind", "cite"))
        except (KeyError, TypeError, ValueError):
            return gr.skip(), gr.skip(), conv
        panel, doc = open_span(conv, turn, kind, n)
        return panel, doc, conv

    # --- corpus events -------------------------------------------------------------------
    def corpus_views() -> tuple[str, Any, str]:
        docs = bot.list_documents()
        titles: dict[str, str] = {}
        for doc in docs:
            titles.setdefault(str(doc["path"]), str(doc.get("title") or ""))
        choices = [(f"{path} — {title}" if title else path, path) for path, title in sorted(titles.items())]
        return documents_table(docs, chunk_counts(bot)), gr.update(choices=choices, value=None), brand()

    def report_lines(change: Change) -> list[tuple[str, str]]:
        lines = [("ok", f"added {rel}") for rel in change.done]
        lines += [("error", f"not added: {reason}") for reason in change.refused]
        if change.report is not None:
            lines.append(("info", f"index: {change.report.line()}"))
            lines += [("error", detail) for detail in change.report.details()]
        return lines

    def upload(
        files: list[str] | None, progress: gr.Progress = gr.Progress(track_tqdm=True)
    ) -> Iterator[tuple[Any, ...]]:
        if not files:
            yield status_html([("error", "choose one or more files first")]), gr.skip(), gr.skip(), gr.skip(), None
            return
        uploads, refused = guard.sort(files)  # API callers choose the paths: only real uploads go on
        yield status_html([("info", f"checking and indexing {len(files)} file(s)…")]), *[gr.skip()] * 3, gr.skip()
        try:
            change = add_files(bot, uploads, max_bytes, lambda share, step: progress(share, desc=step))
            change.refused[:0] = refused
            lines = report_lines(change)
        except Exception as exc:
            lines = [("error", f"nothing was added: {one_line(exc)}; the index is unchanged")]
        yield status_html(lines), *corpus_views(), None

    def delete(rel: str | None, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:
        if not rel:
            return status_html([("error", "choose a document to delete first")]), gr.skip(), gr.skip(), gr.skip()
        progress(0.3, desc=f"Removing {rel}")
        try:
            change = delete_file(bot, rel)
            lines = [("ok", f"deleted {rel} and its metadata"), ("info", f"index: {change.report.line()}")]
        except Exception as exc:
            lines = [("error", f"{rel} was not deleted: {one_line(exc)}")]
        return status_html(lines), *corpus_views()

    def rescan(progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple[Any, ...]:
        progress(0.3, desc="Re-scanning the corpus folder")
        try:
            lines = report_lines(Change(report=bot.ingest()))
        except Exception as exc:
            lines = [("error", f"re-scan failed: {one_line(exc)}; the index is unchanged")]
        return status_html(lines), *corpus_views()

    # --- API-only endpoints ----------------------------------------------------------------
    def api_ask(question: str, k: int = 0) -> str:
        """Answer one question (no history); k = passages to retrieve (0: configured). Returns the answer's
        to_dict() as JSON text: text, citations, abstained, retrieved, unsupported, notice."""
        try:
            return json.dumps(bot.ask(question, k=k or None).to_dict())
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def api_chat(question: str, k: float, conv: Conversation) -> Iterator[tuple[str, Conversation]]:
        history, previous = conv.history(), conv.last_answer()
        turn = Turn(question)
        try:
            for piece in bot.stream(question, history=history, k=int(k) or None, previous=previous):
                if isinstance(piece, Answer):
                    turn.answer = piece
                else:
                    turn.text += piece
                    yield json.dumps({"question": question, "text": turn.text, "done": False}), conv
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None
        assert turn.answer is not None
        conv.turns.append(turn)
        yield json.dumps(turn.answer.to_dict() | {"done": True}), conv

    # --- layout ----------------------------------------------------------------------------
    # Uploaded files wait in Gradio's cache only until they are copied: clear it hourly.
    with gr.Blocks(title="Corpus assistant", analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        guard = UploadGuard.of(demo)
        conv_state = gr.State(Conversation())
        header = gr.HTML(brand(), elem_id="brand")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=420):
                        chatbot = gr.Chatbot(
                            elem_id="chat",
                            label="Conversation",
                            height=560,
                            render_markdown=False,  # answers quote documents: text only, never Markdown
                            sanitize_html=True,
                            latex_delimiters=[],
                            feedback_options=None,
                            placeholder="Ask a question about the documents. Answers cite numbered passages.",
                            buttons=[],  # "copy" would copy the message's HTML, not its text
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder="e.g. At which port were the Russian ships loaded?",
                                show_label=False,
                                scale=5,
                                autofocus=True,
                                max_lines=4,
                                elem_id="question",
                            )
                            send = gr.Button("Ask", variant="primary", scale=1, min_width=80, elem_id="ask")
                        with gr.Row():
                            mode = gr.Dropdown(
                                modes,
                                value=default_mode,
                                label="Answer mode",
                                interactive=len(modes) > 1,
                                scale=2,
                            )
                            k = gr.Slider(
                                1, max(30, settings.top_k), value=settings.top_k, step=1,
                                label="Passages retrieved (k)", scale=3,
                            )
                            new = gr.Button("New conversation", scale=1, min_width=120, elem_id="new-conversation")
                    with gr.Column(scale=2, min_width=340):
                        sources = gr.HTML(
                            sources_html(None, -1, {}),
                            html_template='<div class="panel-title">Sources</div>${value}',
                            elem_id="sources",
                            js_on_load=SOURCES_JS,
                        )
                        document = gr.HTML(
                            document_html(None, None),
                            html_template='<div class="panel-title">Document</div>${value}',
                            elem_id="document",
                            js_on_load=DOCUMENT_JS,
                        )
            with gr.Tab("Corpus", id="corpus"):
                gr.Markdown("#### Documents in the index")
                docs_table = gr.HTML(elem_id="docs-table")
                gr.Markdown(
                    "#### Change the corpus\nNew files are indexed incrementally; what is already indexed stays "
                    "searchable if a change fails."
                )
                with gr.Row(equal_height=False):
                    with gr.Column():
                        files = gr.File(
                            label=f"Add documents ({' '.join(ALLOWED_SUFFIXES)}; up to {max_upload_mb:g} MB each)",
                            file_count="multiple",
                            type="filepath",
                            elem_id="upload",
                        )
                        add = gr.Button("Add to corpus", variant="primary", elem_id="add-files")
                    with gr.Column():
                        # Custom values let API callers name a path; delete_file checks it against the index.
                        to_delete = gr.Dropdown(
                            [], label="Document to delete", allow_custom_value=True, elem_id="delete-choice"
                        )
                        remove = gr.Button("Delete document (file and metadata)", variant="stop", elem_id="delete")
                        rescan_button = gr.Button("Re-scan corpus folder", elem_id="rescan")
                corpus_status = gr.HTML(elem_id="corpus-status")

        chat_io = dict(
            inputs=[question, conv_state, k, mode], outputs=[chatbot, sources, document, question, conv_state]
        )
        for trigger in (question.submit, send.click):
            trigger(respond, **chat_io, api_visibility="private", concurrency_limit=4, show_progress="hidden")
        reset_io = dict(outputs=[chatbot, sources, document, question, conv_state], api_visibility="private")
        new.click(new_conversation, **reset_io)
        chatbot.clear(new_conversation, **reset_io)  # its trash button must forget the history too
        chatbot.select(on_select, [conv_state], [sources], api_visibility="private")
        marker_io = dict(inputs=[conv_state], outputs=[sources, document, conv_state], api_visibility="private")
        sources.cite(on_marker, **marker_io)
        sources.open(on_marker, **marker_io)

        corpus_out = [corpus_status, docs_table, to_delete, header]
        corpus_queue = dict(concurrency_id="corpus", concurrency_limit=1, show_progress_on=[corpus_status])
        add.click(upload, [files], [*corpus_out, files], api_name="upload", **corpus_queue)
        remove.click(delete, [to_delete], corpus_out, api_name="delete", **corpus_queue)
        rescan_button.click(rescan, None, corpus_out, api_name="rescan", **corpus_queue)
        demo.load(corpus_views, None, [docs_table, to_delete, header], api_visibility="private")

        gr.api(api_ask, api_name="ask", concurrency_limit=4)
        api_question = gr.Textbox(visible=False)
        api_k = gr.Number(0, precision=0, visible=False)
        api_answer = gr.Textbox(visible=False)
        api_trigger = gr.Button(visible=False)
        api_trigger.click(
            api_chat,
            [api_question, api_k, conv_state],
            [api_answer, conv_state],
            api_name="chat",
            api_description="Answer a question in this session's conversation (follow-ups use its history). "
            "Streams JSON text: {text, done: false} while answering, then the answer's to_dict() with done: true.",
            concurrency_limit=4,
        )
    return demo


# --- serving -------------------------------------------------------------------------------------
def launch_options(host: str, port: int, credentials: tuple[str, str] | None, max_upload_mb: float) -> dict[str, Any]:
    return dict(
        server_name=host,
        server_port=port,
        auth=credentials,
        auth_message=LOGIN_MESSAGE if credentials else None,
        share=False,
        max_file_size=int(max_upload_mb * MB),
        footer_links=["api"],
        run_history=False,  # would keep questions and document text in the browser
        enable_monitoring=False,
        mcp_server=False,
        ssr_mode=False,
        show_error=True,
        theme=theme(),
        css=CSS,
        app_kwargs={"middleware": [Middleware(LoginThrottle)]},
    )


def serve(
    settings: Settings,
    host: str = "127.0.0.1",
    port: int = 7860,
    credentials: tuple[str, str] | None = None,
    max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB,
) -> None:
    """Bring the index in line with the corpus folder (building it on first start) and serve until interrupted.

    The caller has checked the address with `ui.bind.check_bind`.
    """
    check_port(port)
    if not (0 < max_upload_mb < math.inf):  # also refuses NaN
        raise ConfigError(f"--max-upload-mb {max_upload_mb:g} must be a positive number of megabytes (e.g. 20)")
    index = open_index(settings)
    built = index.exists()
    print(f"{'Syncing' if built else 'Building'} the {index.describe()} from {settings.corpus_dir}…",
          file=sys.stderr)
    try:
        report = ingest(settings)
    except (CorpusError, IndexStateError) as exc:  # e.g. nothing usable in the folder, a read-only index
        if not built:
            raise
        print(f"warning: {exc}; serving the index as it was", file=sys.stderr)
    else:
        print("\n".join([report.line(), *report.details()]), file=sys.stderr)
    bot = Assistant(settings)
    demo = build_app(bot, max_upload_mb)
    try:
        demo.queue().launch(**launch_options(host, port, credentials, max_upload_mb))
    except OSError:
        raise ConfigError(
            f"cannot listen on {host}:{port} (in use, or not allowed); pass another --port or --host"
        ) from None
