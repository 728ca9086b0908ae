"""The web UI in a real browser: Debian's Chromium, headless, driven by Playwright, against a real server."""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_ui import PORT_QUESTION, UPLOAD_LIMIT_MB, Server

from assistant.ui.corpus import delete_file

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
WAIT_MS = 120_000  # answering on a busy 2-core machine; a bound, not a speed claim

pytestmark = pytest.mark.skipif(
    not shutil.which(CHROMIUM), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = Server(tmp_path_factory.mktemp("browser"))
    yield running
    running.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@dataclass
class Tab:
    """A page plus what it did that it should not: dialogs opened, requests to other hosts."""

    page: Any
    dialogs: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)


def open_tab(browser: Any, server: Server) -> Tab:
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = Tab(context.new_page())
    tab.page.set_default_timeout(WAIT_MS)
    tab.page.on("dialog", lambda dialog: (tab.dialogs.append(dialog.message), dialog.dismiss()))
    tab.page.on("request", lambda request: tab.requests.append(request.url))
    tab.page.goto(server.url)
    tab.page.wait_for_selector("#question textarea")
    return tab


@pytest.fixture
def tab(browser: Any, server: Server) -> Iterator[Tab]:
    opened = open_tab(browser, server)
    yield opened
    opened.page.context.close()


def ask(page: Any, question: str, turns: int = 1) -> None:
    """Type a question and wait until its answer has streamed in and its sources are shown."""
    page.fill("#question textarea", question)
    page.keyboard.press("Enter")
    page.wait_for_function(
        "([q, n]) => document.querySelector('#sources .for')?.innerText.includes(q)"
        " && document.querySelectorAll('#chat .message-row').length >= 2 * n"
        " && !document.querySelector('#chat .pending')",
        arg=[question, turns],
    )


def test_question_streams_cites_and_opens_the_passage(tab: Tab, server: Server, tmp_path: Path) -> None:
    page = tab.page
    ask(page, PORT_QUESTION)
    answer = page.locator("#chat .message-row").nth(1)
    assert "Najin" in answer.inner_text()
    markers = answer.locator(".cite")
    assert markers.count() >= 1

    markers.first.click()
    mark = page.locator("#document mark#passage")
    mark.wait_for()
    active = page.locator("#sources .src.active")
    assert active.locator(".badge").inner_text() == "[1]"
    assert mark.inner_text() == active.locator("mark").inner_text()  # the same cited sentence
    document = server.bot.document_text(server.bot.ask(PORT_QUESTION).citations[0].doc_id)
    assert mark.inner_text().strip() in document
    page.wait_for_function(  # scrolled so that the passage is inside the document view
        "() => { const box = document.querySelector('#document .doc-text').getBoundingClientRect();"
        " const m = document.querySelector('#document mark').getBoundingClientRect();"
        " return m.top >= box.top && m.top < box.bottom; }"
    )

    cards = page.locator("#sources .src")
    najin = next(i for i in range(cards.count()) if "Najin" in cards.nth(i).locator("mark").inner_text())
    cards.nth(najin).locator(".open").click()
    page.wait_for_function("() => document.querySelector('#document mark')?.innerText.includes('Najin')")

    shot = Path(os.environ.get("UI_SCREENSHOT") or tmp_path / "ui.png")
    page.screenshot(path=str(shot))
    assert shot.stat().st_size > 20_000
    assert not tab.dialogs
    assert all(url.startswith(server.url) for url in tab.requests), "the page called out to another host"


def test_markup_in_documents_stays_inert_text(tab: Tab, server: Server) -> None:
    page = tab.page
    ask(page, "What did the harbour master log?")
    page.locator("#chat .cite").first.click()
    page.locator("#document mark#passage").wait_for()
    shown = page.inner_text("#document")
    assert '<img src=x onerror="window.__xss = 2; alert(2)">' in shown
    assert "<script>window.__xss = 1; alert(1)</script>" in shown
    assert "**bold claim**, a [link](javascript:alert(3)), ${alert(4)} and {{value}}" in shown
    assert '<img src=x onerror="window.__xss = 2; alert(2)">' in page.inner_text("#chat")

    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#docs-table table")
    assert "<script>window.__xss = 1; alert(1)</script>" in page.inner_text("#docs-table")
    page.locator("#delete-choice input").click()
    assert page.get_by_role("option", name="<script>", exact=False).count() == 1

    for panel in ("#chat", "#sources", "#document", "#docs-table"):
        assert page.locator(f"{panel} img, {panel} script, {panel} a[href^='javascript']").count() == 0
    assert page.evaluate("window.__xss") is None
    assert not tab.dialogs


def test_each_browser_session_has_its_own_conversation(browser: Any, server: Server, tab: Tab) -> None:
    ask(tab.page, PORT_QUESTION)
    other = open_tab(browser, server)
    try:
        assert other.page.locator("#chat .message-row").count() == 0
        ask(other.page, "Which company are they tied to?")
        assert tab.page.locator("#chat .message-row").count() == 2  # untouched by the other session
        assert PORT_QUESTION not in other.page.inner_text("#chat")
    finally:
        other.page.context.close()
    ask(tab.page, "Which company are they tied to?", turns=2)
    assert "Read as" in tab.page.inner_text("#sources .for")  # resolved against this session's question
    tab.page.locator("#chat [data-testid=bot]").first.click(position={"x": 4, "y": 4})  # the earlier answer
    tab.page.wait_for_function(f"() => document.querySelector('#sources .for').innerText.includes({PORT_QUESTION!r})")
    tab.page.click("#new-conversation")
    tab.page.wait_for_function("() => document.querySelectorAll('#chat .message-row').length === 0")
    assert "Ask a question" in tab.page.inner_text("#sources")


def test_clearing_the_chat_forgets_its_history(tab: Tab) -> None:
    page = tab.page
    ask(page, PORT_QUESTION)
    page.get_by_role("button", name="Clear").first.click()
    # The chat empties in the page at once; the server's reset (history, sources, question box) lands
    # later, so wait for it too, or it could wipe the next question as it is typed.
    page.wait_for_function(
        "() => document.querySelectorAll('#chat .message-row').length === 0"
        " && document.querySelector('#sources').innerText.includes('Ask a question')"
    )
    ask(page, "Which company are they tied to?")
    assert "Read as" not in page.inner_text("#sources .for")  # not resolved against the cleared question


def test_disallowed_and_oversized_uploads_are_refused_in_the_page(tab: Tab, server: Server, tmp_path: Path) -> None:
    page = tab.page
    before = sorted(p.name for p in server.corpus.iterdir())
    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#docs-table table")

    evil = tmp_path / "payload.exe"
    evil.write_bytes(b"MZ not a document")
    page.set_input_files("#upload input[type=file]", [str(evil)])
    page.locator("#upload [data-testid=download-link]").wait_for()  # uploaded, not just picked
    page.click("#add-files")
    page.wait_for_selector("#corpus-status .status.error")
    assert "type .exe is not allowed" in page.inner_text("#corpus-status")

    big = tmp_path / "big.txt"
    big.write_text("word " * int(UPLOAD_LIMIT_MB * 1024 * 1024 / 4))
    page.set_input_files("#upload input[type=file]", [str(big)])
    page.get_by_text("exceed the maximum allowed size").first.wait_for()
    assert sorted(p.name for p in server.corpus.iterdir()) == before


def test_multi_file_upload_shows_its_progress(tab: Tab, server: Server, tmp_path: Path) -> None:
    page = tab.page
    page.get_by_role("tab", name="Corpus").click()
    page.wait_for_selector("#docs-table table")
    names = [f"tide-table-{n}.md" for n in range(4)]
    for n, name in enumerate(names):
        tides = f"High water at berth {n} comes at {n + 5} o'clock. " * 80
        (tmp_path / name).write_text(f"# Tide table {n}\n\n{tides}")
    # Gradio sends only the latest progress every 0.1 s: record every text the status box shows.
    page.evaluate(
        "() => { const box = document.querySelector('#corpus-status'); window.__progress = [];"
        " new MutationObserver(() => window.__progress.push(box.innerText))"
        ".observe(box, {subtree: true, childList: true, characterData: true}); }"
    )
    page.set_input_files("#upload input[type=file]", [str(tmp_path / name) for name in names])
    page.wait_for_function("() => document.querySelectorAll('#upload [data-testid=download-link]').length === 4")
    page.click("#add-files")
    page.wait_for_function("() => document.querySelector('#corpus-status').innerText.includes('index:')")
    assert all(f"added {name}" in page.inner_text("#corpus-status") for name in names)
    shown = [text for text in page.evaluate("window.__progress") if re.search(r"\d%", text)]
    assert shown, "no progress was shown while the files were indexed"
    assert any("checking" in text or "indexing" in text for text in shown)
    for name in names:
        delete_file(server.bot, name)


def test_errors_are_shown_in_the_page(tab: Tab) -> None:
    page = tab.page
    page.fill("#question textarea", "why " * 400)
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat .error")
    assert "over the limit" in page.inner_text("#chat .error")
    page.get_by_role("tab", name="Corpus").click()
    page.click("#delete")
    page.wait_for_selector("#corpus-status .status.error")
    assert "choose a document to delete first" in page.inner_text("#corpus-status")


def test_a_line_of_control_characters_is_refused_not_answered(tab: Tab) -> None:
    page = tab.page
    ask(page, PORT_QUESTION)
    page.fill("#question textarea", "\u0001\u0002\u200b")
    page.keyboard.press("Enter")
    page.wait_for_selector("#chat .error")
    assert "only invisible or control characters" in page.inner_text("#chat .error")
    assert page.locator("#chat .message-row").count() == 4  # the refused line is not answered again
    ask(page, "Which company are they tied to?", turns=3)
    assert "Oboronlogistika" in page.locator("#chat .message-row").nth(5).inner_text()
