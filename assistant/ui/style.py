"""Look and client-side behaviour of the web UI: theme, CSS, and the small scripts of two HTML panels."""

from __future__ import annotations

from typing import Any

# Local font stacks only: the default themes fetch Google Fonts, and the UI must not call out.
SANS = ["ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica Neue", "Arial", "sans-serif"]
MONO = ["ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "Liberation Mono", "monospace"]


def theme() -> Any:
    import gradio as gr

    return gr.themes.Soft(primary_hue="indigo", secondary_hue="slate", neutral_hue="slate", font=SANS, font_mono=MONO)


CSS = """
.gradio-container { max-width: 1400px !important; }
#brand h1 { margin: 0; font-size: 1.45rem; }
#brand .sub { color: var(--body-text-color-subdued); font-size: .92rem; }
#chat .question, #chat .answer { white-space: pre-wrap; }
#chat .cite { color: var(--color-accent); font-weight: 600; cursor: pointer; border-radius: 4px; padding: 0 1px; }
#chat .cite:hover, #chat .cite:focus { background: var(--color-accent-soft); outline: none; }
#chat .unsupported { background: #fff3cd; color: #664d03; border-bottom: 2px dashed #d39e00; }
#chat .note { margin-top: .4em; font-size: .85em; color: var(--body-text-color-subdued); font-style: italic; }
#chat .error { color: #b42318; }
#chat .pending { color: var(--body-text-color-subdued); font-style: italic; }
.panel-title { font-weight: 600; margin: .2em 0 .4em; }
#sources .for { font-size: .85em; color: var(--body-text-color-subdued); margin-bottom: .5em; }
#sources .for .as { margin-top: .15em; font-style: italic; }
#sources .related-note { font-size: .9em; margin: .3em 0 .6em; color: #8a5a00; font-weight: 600; }
#sources .src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .75em;
  margin-bottom: .6em; background: var(--background-fill-primary); }
#sources .src.active { border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft); }
#sources .src-head { display: flex; gap: .5em; align-items: baseline; }
#sources .badge { font-weight: 700; color: var(--color-accent); white-space: nowrap; }
#sources .badge.related { color: #8a5a00; font-weight: 600; font-size: .8em; text-transform: uppercase; }
#sources .src-title, #document .doc-title { font-weight: 600; }
.src-meta { font-size: .8em; color: var(--body-text-color-subdued); margin: .15em 0 .35em; overflow-wrap: anywhere; }
#sources .ctx { margin: .3em 0; font-size: .92em; line-height: 1.5; white-space: pre-wrap; }
#sources .ctx.gone { color: var(--body-text-color-subdued); }
#sources mark, #document mark { background: #ffe58f; color: inherit; padding: 0 1px; border-radius: 2px; }
#sources .open { font-size: .8em; border: 1px solid var(--border-color-primary); border-radius: 6px;
  padding: .15em .6em; background: var(--background-fill-secondary); cursor: pointer; }
#sources .open:hover { border-color: var(--color-accent); }
#document .doc-head { padding-bottom: .3em; border-bottom: 1px solid var(--border-color-primary); margin-bottom: .4em; }
#document .doc-text { position: relative; max-height: 300px; overflow-y: auto; white-space: pre-wrap; line-height: 1.55;
  font-size: .93em; padding-right: .4em; }
#sources .src-list { position: relative; max-height: 300px; overflow-y: auto; padding: 2px 4px 2px 2px; }
#document mark { background: #ffd666; box-shadow: 0 0 0 1px #f0b400;
  -webkit-box-decoration-break: clone; box-decoration-break: clone; }
.empty { color: var(--body-text-color-subdued); font-style: italic; padding: .5em 0; }
#docs-table table.docs { width: 100%; border-collapse: collapse; font-size: .92em; }
#docs-table th, #docs-table td { text-align: left; padding: .35em .5em; border-bottom: 1px solid var(--border-color-primary);
  vertical-align: top; }
#docs-table td.num, #docs-table th.num { text-align: right; }
#docs-table code { font-size: .85em; overflow-wrap: anywhere; }
#corpus-status .status { padding: .3em .6em; border-radius: 6px; margin: .2em 0; }
#corpus-status .status.ok { background: #e7f6ec; color: #05603a; }
#corpus-status .status.info { background: var(--background-fill-secondary); }
#corpus-status .status.error { background: #fef3f2; color: #b42318; }
"""

# Sources panel: "Show in document" buttons, and the [n] markers inside chat messages (listened for
# on the document, in the capture phase, so that a marker click does not also select the message).
SOURCES_JS = r"""
const onMarker = (ev) => {
  const marker = ev.target.closest && ev.target.closest('#chat .cite');
  if (!marker || (ev.type === 'keydown' && ev.key !== 'Enter' && ev.key !== ' ')) return;
  const found = /cite-(\d+)-(\d+)/.exec(marker.className);
  if (!found) return;
  ev.preventDefault(); ev.stopPropagation();
  trigger('cite', {turn: Number(found[1]), n: Number(found[2]), kind: 'cite'});
};
document.addEventListener('click', onMarker, true);
document.addEventListener('keydown', onMarker, true);
element.addEventListener('click', (ev) => {
  const button = ev.target.closest('[data-open]');
  if (button) trigger('open', {turn: Number(button.dataset.turn), n: Number(button.dataset.n), kind: button.dataset.kind});
});
watch('value', () => {
  const list = element.querySelector('.src-list'), active = element.querySelector('.src.active');
  if (list && active) list.scrollTop = active.offsetTop - 8;
});
"""

# Document view: scroll the text (not the page) to the highlighted passage each time one is opened.
DOCUMENT_JS = """
watch('value', () => {
  const text = element.querySelector('.doc-text'), mark = element.querySelector('mark');
  if (text && mark) text.scrollTop = Math.max(0, mark.offsetTop - text.clientHeight / 3);
});
"""
