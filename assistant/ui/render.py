"""HTML for the web UI. Every piece of document or user text goes through `html.escape` here.

Documents are shown as text, never as markup: no Markdown is rendered and nothing from a document
reaches the page unescaped, so a `<script>` or `onerror=` in a file stays visible, inert text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from assistant.core.types import Answer, Citation, Passage

MARKERS = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")
CONTEXT_CHARS = 320  # of the surrounding paragraph shown on each side of a cited sentence
RELATED_SHOWN = 5
UNCITED = "no citation: "


def e(value: object) -> str:
    return escape(str(value), quote=True)


@dataclass
class Span:
    """A stretch of a document to show: a citation or a related passage."""

    doc_id: str
    title: str
    path: str
    source: str
    date: str
    text: str
    start: int
    end: int
    label: str  # "[2]" or "related"
    page: int | None = None  # paged documents: the page the span starts on

    @classmethod
    def of(cls, item: Citation | Passage, label: str) -> Span:
        return cls(
            item.doc_id, item.title, item.path, item.source, item.date, item.text, item.start, item.end, label, item.page
        )


def meta_line(span: Span | Mapping[str, Any]) -> str:
    get = span.get if isinstance(span, Mapping) else lambda key, default="": getattr(span, key, default)
    page = get("page", None)
    parts = [get("date", "") or "undated", get("source", "") or "outlet not stated", get("path", ""), f"p. {page}" if page else ""]
    return " · ".join(e(part) for part in parts if part)


# --- chat messages ---------------------------------------------------------------------------
def marker_html(numbers: str, turn: int) -> str:
    # The chat sanitiser drops data-* attributes; the class carries turn and number instead.
    spans = [
        f'<span class="cite cite-{turn}-{int(n)}" role="button" tabindex="0" title="Show source {int(n)}">'
        f"[{int(n)}]</span>"
        for n in numbers.split(",")
    ]
    return "".join(spans)


def with_markers(escaped: str, turn: int) -> str:
    return MARKERS.sub(lambda m: marker_html(m.group(1), turn), escaped)


def answer_html(text: str, turn: int, answer: Answer | None = None) -> str:
    """An answer (or the part streamed so far) with clickable [n] markers and unsupported sentences marked."""
    body = e(text)
    if answer is None:
        return f'<div class="answer">{with_markers(body, turn)}</div>'
    flagged, other_problems = [], []
    for problem in dict.fromkeys(answer.unsupported):
        quoted = e(problem.removeprefix(UNCITED).strip())  # the citation check reports "no citation: <sentence>"
        (flagged if quoted and quoted in body else other_problems).append(quoted or problem)
    if flagged:  # one pass, longest first, so that a sentence inside another is not marked twice
        pattern = re.compile("|".join(re.escape(q) for q in sorted(flagged, key=len, reverse=True)))
        body = pattern.sub(lambda m: f'<span class="unsupported" title="No source supports this">⚠ {m[0]}</span>', body)
    html = f'<div class="answer">{with_markers(body, turn)}</div>'
    notes = []
    if flagged:
        notes.append("Sentences marked ⚠ cite no source: check them before relying on them.")
    notes += [f"Citation check: {problem}" for problem in other_problems]
    if answer.abstained and answer.retrieved:
        notes.append("The closest passages are listed under Sources as related reading, not as citations.")
    if answer.notice:
        notes.append(answer.notice)
    html += "".join(f'<div class="note">{e(note)}</div>' for note in notes)
    return html


def error_html(message: str) -> str:
    return f'<div class="error">⚠ {e(message)}</div>'


def user_html(question: str) -> str:
    return f'<div class="question">{e(question)}</div>'


# --- sources panel ---------------------------------------------------------------------------
def context_parts(document: str, start: int, end: int) -> tuple[str, str, str, bool, bool]:
    """(before, cited, after, clipped_left, clipped_right): the cited span inside its paragraph."""
    line_start = document.rfind("\n", 0, start) + 1
    line_end = document.find("\n", end)
    line_end = len(document) if line_end < 0 else line_end
    left = max(line_start, start - CONTEXT_CHARS)
    right = min(line_end, end + CONTEXT_CHARS)
    if left > line_start:  # a long paragraph is clipped at a word boundary
        left = document.find(" ", left, start) + 1 or left
    if right < line_end:
        cut = document.rfind(" ", end, right)
        right = cut if cut > end else right
    return document[left:start], document[start:end], document[end:right], left > line_start, right < line_end


def excerpt(text: str, limit: int = 2 * CONTEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    cut = text.rfind(" ", 0, limit)
    return text[: cut if cut > 0 else limit] + " …"


def highlighted_context(document: str | None, span: Span) -> str:
    if span.label == "related":  # a whole retrieved chunk, not a cited sentence: an excerpt, unmarked
        return f'<p class="ctx">{e(excerpt(span.text))}</p>'
    if document is None:
        return f'<p class="ctx gone">This document is no longer in the corpus. Quoted: <mark>{e(span.text)}</mark></p>'
    start, end = locate(document, span)
    if start < 0:
        return f'<p class="ctx gone">The document changed since this answer. Quoted: <mark>{e(span.text)}</mark></p>'
    if end - start > 2 * CONTEXT_CHARS:  # a whole passage was cited: its opening, marked
        return f'<p class="ctx"><mark>{e(excerpt(document[start:end]))}</mark></p>'
    before, cited, after, left, right = context_parts(document, start, end)
    lead, tail = ("… " if left else ""), (" …" if right else "")
    return f'<p class="ctx">{lead}{e(before)}<mark>{e(cited)}</mark>{e(after)}{tail}</p>'


def locate(document: str, span: Span) -> tuple[int, int]:
    """The span's offsets, or where its text moved to after an edit; (-1, -1) when it is gone."""
    if document[span.start : span.end] == span.text:
        return span.start, span.end
    found = document.find(span.text)
    return (found, found + len(span.text)) if found >= 0 and span.text else (-1, -1)


def source_card(span: Span, document: str | None, turn: int, kind: str, n: int, active: bool) -> str:
    classes = "src active" if active else "src"
    badge = e(span.label)
    return (
        f'<div class="{classes}" id="src-{kind}-{n}">'
        f'<div class="src-head"><span class="badge {kind}">{badge}</span>'
        f'<span class="src-title">{e(span.title or span.path)}</span></div>'
        f'<div class="src-meta">{meta_line(span)}</div>'
        f"{highlighted_context(document, span)}"
        f'<button class="open" data-open="1" data-kind="{kind}" data-turn="{turn}" data-n="{n}">'
        "Show in document</button></div>"
    )


def sources_html(
    answer: Answer | None, turn: int, documents: Mapping[str, str | None], active: tuple[str, int] | None = None
) -> str:
    """The sources of one answer: its citations, or for an abstention the related reading."""
    if answer is None:
        return '<div class="empty">Ask a question; the passages each answer cites appear here.</div>'
    head = f'<div class="for">Sources for: <q>{e(answer.question)}</q>'
    if answer.standalone_question:  # a follow-up, read together with the conversation so far
        head += f'<div class="as">Read as: <q>{e(answer.standalone_question)}</q></div>'
    head += "</div>"
    if answer.citations:
        cards = [
            source_card(Span.of(c, f"[{c.number}]"), documents.get(c.doc_id), turn, "cite", c.number,
                        active == ("cite", c.number))
            for c in answer.citations
        ]
        return head + f'<div class="src-list">{"".join(cards)}</div>'
    if answer.retrieved:
        related = answer.retrieved[:RELATED_SHOWN]
        cards = [
            source_card(Span.of(p, "related"), documents.get(p.doc_id), turn, "related", i,
                        active == ("related", i))
            for i, p in enumerate(related)
        ]
        return (
            head
            + '<div class="related-note">The corpus does not answer this. Related reading (not citations):</div>'
            + f'<div class="src-list">{"".join(cards)}</div>'
        )
    return head + '<div class="empty">No passages were found for this question.</div>'


def span_for(answer: Answer, kind: str, n: int) -> Span | None:
    if kind == "cite":
        return next((Span.of(c, f"[{c.number}]") for c in answer.citations if c.number == n), None)
    if kind == "related" and 0 <= n < len(answer.retrieved):
        return Span.of(answer.retrieved[n], "related")
    return None


# --- document view ---------------------------------------------------------------------------
def document_html(span: Span | None, document: str | None, nonce: int = 0) -> str:
    """The whole document, the passage highlighted; `nonce` makes each opening a new value (re-scroll)."""
    if span is None:
        return '<div class="empty">Click a [n] marker or “Show in document” to read the passage in context.</div>'
    head = (
        f'<div class="doc-head" data-nonce="{nonce}"><div class="doc-title">{e(span.title or span.path)}</div>'
        f'<div class="src-meta">{meta_line(span)} · passage {e(span.label)}</div></div>'
    )
    if document is None:
        return head + '<div class="empty">This document is no longer in the corpus.</div>'
    start, end = locate(document, span)
    if start < 0:
        return head + '<div class="empty">The passage is no longer in this document (it changed).</div>' + (
            f'<div class="doc-text">{e(document)}</div>'
        )
    return head + (
        f'<div class="doc-text">{e(document[:start])}<mark id="passage">{e(document[start:end])}</mark>'
        f"{e(document[end:])}</div>"
    )


# --- corpus tab --------------------------------------------------------------------------------
def documents_table(docs: Iterable[Mapping[str, Any]], chunks: Mapping[str, int]) -> str:
    rows = [
        f"<tr><td>{e(d.get('title') or d.get('path'))}</td><td>{e(d.get('date') or '—')}</td>"
        f"<td>{e(d.get('source') or '—')}</td><td><code>{e(d.get('path'))}</code></td>"
        f'<td class="num">{chunks.get(str(d.get("doc_id")), 0)}</td></tr>'
        for d in sorted(docs, key=lambda d: (str(d.get("path")), str(d.get("title"))))
    ]
    if not rows:
        return '<div class="empty">The index holds no documents.</div>'
    return (
        '<table class="docs"><thead><tr><th>Title</th><th>Date</th><th>Outlet</th><th>Path</th>'
        f'<th class="num">Chunks</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def status_html(lines: Iterable[tuple[str, str]]) -> str:
    """Status lines of a corpus operation: (level, text) with level ok|info|error."""
    return "".join(f'<div class="status {e(level)}">{e(text)}</div>' for level, text in lines)
