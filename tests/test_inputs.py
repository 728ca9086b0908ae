"""Bad and odd input: questions with invisible characters or bytes that are not UTF-8, documents with invisible
characters inside words, settings that do not fit together. Through the Python API and the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import ROOT, copy_corpus

from assistant import Assistant
from assistant.core.config import load_settings
from assistant.core.errors import ConfigError, QuestionError
from assistant.core.text import content_terms, normalized

PORT_QUESTION = "At which port were the Russian ships loaded?"
# A soft hyphen, a zero-width joiner and a zero-width space inside words, as web pages and PDFs leave them.
LOG_DOC = "harbour-log.txt"
LOG_TEXT = (
    "Harbour log\n\n"
    "The survey vessel Nord\u00adstjerna moored at the Hammer\u00adfest quay on 3 March.\n"
    "Its crew unloaded sixty con\u200dtainers of drilling equip\u200bment for the offshore field.\n"
)


def run_cli(*args: str | bytes, stdin: bytes | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "assistant", *args], input=stdin, capture_output=True, cwd=ROOT,
        env={**os.environ, **(env or {})}, timeout=600,
    )
    return subprocess.CompletedProcess(result.args, result.returncode, result.stdout.decode(), result.stderr.decode())


def one_line_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """Exit code 2 and a single `error:` line that says each of `words`; no traceback."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and all(word in lines[0] for word in words), result.stderr


@pytest.fixture(scope="module")
def logged(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Assistant]:
    """The shipped corpus and a document whose words hold invisible characters."""
    base = tmp_path_factory.mktemp("invisible")
    corpus = copy_corpus(base / "corpus")
    (corpus / LOG_DOC).write_text(LOG_TEXT, encoding="utf-8")
    yield Assistant.open(corpus, base / "index")


# --- questions ---------------------------------------------------------------------------------
def test_normalized_text_drops_invisible_characters_and_folds_compatibility_forms() -> None:
    assert normalized("Nord\u00adstjerna con\u200dtainers equip\u200bment \ufb01ne \uff21\x07B") == "Nordstjerna containers equipment fine AB"
    assert normalized("tabs\tand\nlines stay") == "tabs\tand\nlines stay"
    assert content_terms("con\u200dtainers") == content_terms("containers")


def test_invisible_characters_inside_question_words_change_nothing(bot: Assistant) -> None:
    plain = bot.ask(PORT_QUESTION)
    hidden = bot.ask("At which p\u200bort were the Rus\u200dsian ships loa\u00added?\u2060")
    assert not plain.abstained and "Najin" in plain.text
    assert hidden.text == plain.text and hidden.citations == plain.citations
    assert hidden.question == PORT_QUESTION


def test_questions_of_invisible_characters_or_broken_bytes_are_refused(bot: Assistant) -> None:
    for question in ["\u200b\u200d\u2060", "\x01\x02\x7f", "\ufeff \u00ad"]:
        with pytest.raises(QuestionError, match="only invisible or control characters"):
            bot.ask(question)
    # Python reads bytes that are not UTF-8 from argv and stdin as lone surrogates ("surrogateescape").
    for question in ["Which port \udcff\udcfe ships?", "lone \ud800 surrogate"]:
        with pytest.raises(QuestionError, match="not valid UTF-8"):
            bot.ask(question)
    chat = bot.chat()
    chat.ask(PORT_QUESTION)
    with pytest.raises(QuestionError, match="invisible"):
        chat.ask("\x01\x02")
    assert len(chat.answers) == 1


def test_cli_refuses_a_question_that_is_not_utf8(shipped: dict[str, Path]) -> None:
    where = ["--corpus", str(shipped["corpus_dir"]), "--index", str(shipped["index_dir"])]
    one_line_error(run_cli("ask", b"Which port \xff\xfe ships?", *where), "not valid UTF-8", "character 12")
    one_line_error(run_cli("ask", "\u200b\u200d\x01", *where), "invisible or control characters")


def test_cli_chat_refuses_bad_lines_and_goes_on(shipped: dict[str, Path]) -> None:
    where = ["--corpus", str(shipped["corpus_dir"]), "--index", str(shipped["index_dir"])]
    lines = b"Which port \xff\xfe ships?\n\x01\x02\n" + PORT_QUESTION.encode() + b"\n\n"
    result = run_cli("chat", *where, stdin=lines)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "UTF-8" in errors[0] and "invisible" in errors[1]
    assert "Najin" in result.stdout


# --- documents ---------------------------------------------------------------------------------
def test_a_word_with_invisible_characters_is_found_by_the_plain_word(logged: Assistant) -> None:
    retriever = logged.retriever
    chunk = next(i for i, node in enumerate(retriever.nodes) if node.metadata["path"] == LOG_DOC)
    for word in ["Nordstjerna", "Hammerfest", "containers", "equipment"]:
        tokens = retriever.tokens(word)
        assert retriever.bm25.get_scores(tokens)[chunk] > 0, word
        assert retriever.best_sentence(retriever.sentence_keyword(tokens))[chunk] > 0, word
    assert "\u00ad" in retriever.nodes[chunk].text  # passages keep the text as it is


@pytest.mark.parametrize(
    "question, hidden",
    [("Where did the Nordstjerna moor?", "\u00ad"), ("How many containers did the crew unload?", "\u200d")],
)
def test_the_cited_span_slices_the_original_text(logged: Assistant, question: str, hidden: str) -> None:
    answer = logged.ask(question)
    cited = [c for c in answer.citations if c.path == LOG_DOC]
    assert cited and not answer.abstained, answer.text
    text = logged.document_text(cited[0].doc_id)
    assert text == LOG_TEXT
    for citation in cited:
        assert text[citation.start : citation.end] == citation.text
    assert any(hidden in c.text for c in cited)


# --- settings ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "env, message",
    [
        ({"ASSISTANT_CHUNK_SIZE": "32", "ASSISTANT_CHUNK_OVERLAP": "64"}, "chunk_overlap (64) must be smaller"),
        ({"ASSISTANT_CHUNK_SIZE": "256", "ASSISTANT_CHUNK_OVERLAP": "256"}, "chunk_overlap (256) must be smaller"),
        ({"ASSISTANT_CHUNK_OVERLAP": "-1"}, "'chunk_overlap'"),
        ({"ASSISTANT_TOP_K": "0"}, "'top_k'"),
        ({"ASSISTANT_TOP_K": "many"}, "'top_k'"),
        ({"ASSISTANT_ANSWER_MODE": "gpt"}, "'answer_mode'"),
        ({"ASSISTANT_LLM_TIMEOUT": "0"}, "'llm_timeout'"),
        ({"ASSISTANT_RETRIEVAL__CANDIDATES": "0"}, "'retrieval.candidates'"),
        ({"ASSISTANT_ANSWER_MODE": "llamacpp", "ASSISTANT_LLM_MAX_TOKENS": "1024", "ASSISTANT_LLM_CONTEXT_WINDOW": "1024"},
         "no room for the prompt"),
        ({"ASSISTANT_CONFIG": "/nonexistent.toml"}, "config file /nonexistent.toml (from ASSISTANT_CONFIG) not found"),
    ],
)
def test_settings_that_do_not_fit_are_one_error(env: dict[str, str], message: str, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ConfigError) as error:
        load_settings()
    assert message in str(error.value) and "\n" not in str(error.value)


def test_the_index_may_not_be_the_corpus_or_inside_it(tmp_path: Path) -> None:
    for index in [tmp_path, tmp_path / "index", tmp_path.parent]:
        with pytest.raises(ConfigError, match="must be apart"):
            load_settings(corpus_dir=tmp_path, index_dir=index)
    load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(ConfigError, match="is a file"):  # not "corrupt; run --rebuild"
        load_settings(corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "a-file")


def test_cli_checks_settings_before_it_loads_or_writes_anything(tmp_path: Path) -> None:
    corpus = copy_corpus(tmp_path / "corpus")
    index = tmp_path / "index"
    where = ["--corpus", str(corpus), "--index", str(index)]
    chunks = {"ASSISTANT_CHUNK_SIZE": "32", "ASSISTANT_CHUNK_OVERLAP": "64"}
    one_line_error(run_cli("ingest", *where, env=chunks), "chunk_overlap (64) must be smaller than chunk_size (32)")
    assert not index.exists()  # no model loaded, no chroma/ folder
    one_line_error(run_cli("status", *where, env={"ASSISTANT_CONFIG": "/nonexistent.toml"}), "/nonexistent.toml", "not found")
    one_line_error(run_cli("serve", *where, "--port", "99999"), "--port 99999", "1 to 65535")
    one_line_error(run_cli("serve", *where, "--max-upload-mb", "nan"), "--max-upload-mb nan")
    assert not index.exists()


def test_an_impossible_date_in_front_matter_is_a_warning_and_the_text_is_indexed(tmp_path: Path) -> None:
    from assistant.corpus.documents import load_corpus

    (tmp_path / "dated.md").write_text("---\npublished: 2024-13-40\n---\n\nThe quay opened in May.\n", encoding="utf-8")
    (tmp_path / "fine.md").write_text("The pier opened in June.\n", encoding="utf-8")
    loaded = load_corpus(tmp_path)  # PyYAML raised ValueError for the date, which ended the whole ingest
    assert sorted(doc.path for doc in loaded.documents) == ["dated.md", "fine.md"] and not loaded.problems
    assert [w.path for w in loaded.warnings] == ["dated.md"] and "front matter unreadable" in str(loaded.warnings[0])
