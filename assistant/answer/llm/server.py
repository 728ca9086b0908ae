"""The local model in a child process: llama-cpp-python's OpenAI-compatible server on 127.0.0.1.

llama.cpp is native code: a crash (a build for another CPU, a bad GGUF) or a hang would take the
whole app, and every user's conversation, down with it. Here it costs one answer instead. The child
starts on the first question, not at import; a question that finds it dead, hung past `llm_timeout`
or unable to start gets a one-line `LLMError`, and the next question starts a new one. Questions
take turns: the server answers one at a time, and a question that waits longer than
`llm_queue_timeout` is told the model is busy rather than left hanging.

The child dies with the app however the app ends: it is stopped at exit or garbage collection, and
it watches its stdin, a pipe only the app holds, so that it also exits when the app is killed
(SIGTERM, SIGKILL) and no exit handler runs. It runs in a session of its own, so a Ctrl-C in the
terminal reaches the app, which then stops it, rather than killing it in the middle of an answer.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING

from assistant.core.config import Settings
from assistant.core.errors import LLMError

if TYPE_CHECKING:
    from llama_index.core.llms import LLM

HOST = "127.0.0.1"
PORT_ATTEMPTS = 3  # a free port can be taken between choosing it and the child binding it
POLL_SECONDS = 0.2
# Run as `python -c`: the server exits when its stdin reaches end of file, i.e. when the app is gone.
# (os.read, not sys.stdin: a daemon thread holding stdin's buffer lock aborts the interpreter's shutdown.)
WATCHED_SERVER = """
import os, runpy, threading
def watch():
    while os.read(0, 1024):
        pass
    os._exit(0)
threading.Thread(target=watch, daemon=True).start()
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""
RESTARTS = "it starts again with the next question"
TIMEOUTS = ("APITimeoutError", "ReadTimeout", "TimeoutException")
DISCONNECTS = ("APIConnectionError", "ConnectError", "RemoteProtocolError", "ReadError", "ConnectionError")


def timed_out(exc: BaseException) -> bool:
    """An OpenAI client or httpx timeout (the client wraps the request's, a stream raises httpx's own)."""
    return type(exc).__name__ in TIMEOUTS


def check_model(path: Path) -> None:
    if not path.is_file():
        raise LLMError(f"model file {path} not found; set ASSISTANT_LLM_MODEL_PATH to a GGUF file")


def port_is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind((HOST, port))
        except OSError:
            return False
    return True


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def kill(proc: subprocess.Popen[bytes]) -> None:
    """End the child's process group and reap it. A model server has nothing to save, and SIGKILL also
    ends one that is hung or stopped."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.wait()
    if proc.stdin:
        proc.stdin.close()


def exit_reason(returncode: int) -> str:
    """'killed by SIGSEGV' / 'exit code 1', and what to do when it is how a build for another CPU fails."""
    if returncode >= 0:
        return f"exit code {returncode}"
    try:
        reason = f"killed by {signal.Signals(-returncode).name}"
    except ValueError:
        return f"killed by signal {-returncode}"
    if -returncode in (signal.SIGSEGV, signal.SIGILL):
        reason += "; a llama.cpp built for another CPU fails so: reinstall it with bash scripts/install.sh"
    return reason


@dataclass
class Child:
    """One running server process, its log (an unnamed temporary file) and a client bound to it."""

    proc: subprocess.Popen[bytes]
    log: IO[bytes]
    url: str
    llm: LLM
    stop: Callable[[], object]  # kills it, once: a finalizer that also runs at garbage collection or exit

    def exited(self, grace: float = 0.0) -> bool:
        """Whether it has ended, waiting up to `grace` seconds (a killed process closes its sockets a moment
        before it can be reaped)."""
        try:
            self.proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            return False
        return True

    def last_line(self) -> str:
        """The last line the server wrote: its error when it could not start."""
        self.log.seek(0)
        lines = [line.strip() for line in self.log.read().decode("utf-8", "replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else ""


class LocalModelServer:
    """Starts, supervises and restarts one `llama_cpp.server` child serving `model`.

    `client(url, model_name)` makes the LLM client for a running child: the caller's OpenAI-compatible
    client, so that generation has one code path for a local and a remote server.
    """

    def __init__(self, settings: Settings, model: Path, client: Callable[[str, str], LLM]) -> None:
        self.settings = settings
        self.model = model
        self.name = model.stem
        self.client = client
        self._turn = threading.Lock()  # held by the question the model is answering
        self._child: Child | None = None

    @property
    def pid(self) -> int | None:
        """The running child's process id (None before the first question or after a failure)."""
        child = self._child
        return child.proc.pid if child and child.proc.poll() is None else None

    @contextmanager
    def session(self) -> Iterator[LLM]:
        """A client for the running child, for one call; the model answers one call at a time.

        A failure that is the child's (it died, hung or dropped the connection) ends it and becomes an
        LLMError that says so; other errors (a bad request) are left to the caller to explain.
        """
        waited = self.settings.llm_queue_timeout
        if not self._turn.acquire(timeout=waited):
            raise LLMError(
                f"the local model is busy with other questions (waited {waited:g} s); ask again in a moment "
                "or raise ASSISTANT_LLM_QUEUE_TIMEOUT"
            )
        try:
            child = self._running()
            try:
                yield child.llm
            except Exception as exc:
                reason = self._failure(child, exc)
                if reason:
                    raise LLMError(reason) from None
                raise
        finally:
            self._turn.release()

    def stop(self) -> None:
        """Stop the child if one runs (the app calls nothing: this also runs at exit)."""
        child, self._child = self._child, None
        if child:
            child.stop()

    # --- failures ---
    def _failure(self, child: Child, exc: Exception) -> str:
        if child.exited(grace=1.0):
            self.stop()
            return f"the local model process stopped while answering ({exit_reason(child.proc.returncode)}); {RESTARTS}"
        if timed_out(exc):
            self.stop()
            return (
                f"the local model process did not answer within {self.settings.llm_timeout:g} s and was stopped; "
                f"{RESTARTS} (raise ASSISTANT_LLM_TIMEOUT for a slow model)"
            )
        if type(exc).__name__ in DISCONNECTS:
            self.stop()
            return f"lost the connection to the local model process ({type(exc).__name__}); {RESTARTS}"
        return ""

    # --- starting ---
    def _running(self) -> Child:
        if self._child and self._child.proc.poll() is None:
            return self._child
        self.stop()  # reap one that died between questions
        check_model(self.model)
        fixed = self.settings.llm_server_port
        for _ in range(1 if fixed else PORT_ATTEMPTS):
            port = fixed or free_port()
            if not port_is_free(port):
                continue
            child = self._launch(port)
            try:
                self._await_ready(child)
            except PortTaken:
                continue
            except BaseException:
                child.stop()
                raise
            self._child = child
            return child
        raise LLMError(
            f"cannot start the local model process: port {fixed} on {HOST} is in use; free it or set "
            "ASSISTANT_LLM_SERVER_PORT=0 to use any free port"
            if fixed
            else f"cannot start the local model process: no free port on {HOST} after {PORT_ATTEMPTS} tries"
        )

    def _launch(self, port: int) -> Child:
        log = tempfile.TemporaryFile()  # noqa: SIM115 - the Child keeps it: its tail explains a failed start
        command = [
            sys.executable, "-c", WATCHED_SERVER,
            "--model", str(self.model), "--model_alias", self.name,
            "--host", HOST, "--port", str(port),
            "--n_ctx", str(self.settings.llm_context_window),
            "--n_gpu_layers", str(self.settings.llm_gpu_layers),
            "--logits_all", "False",  # the server's default keeps every position's logits: slower prompts
            "--interrupt_requests", "False",  # a second request must wait its turn, not cut the first one off
            "--verbose", "False",
        ]  # fmt: skip
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        url = f"http://{HOST}:{port}/v1"
        return Child(proc, log, url, self.client(url, self.name), weakref.finalize(self, kill, proc))

    def _await_ready(self, child: Child) -> None:
        """Wait until the child serves `/v1/models` with our model (not some other server on that port)."""
        limit = self.settings.llm_start_timeout
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if child.exited():
                last = child.last_line()
                child.stop()
                if "address already in use" in last:
                    raise PortTaken
                raise LLMError(
                    f"the local model process could not start with {self.model} ({exit_reason(child.proc.returncode)}: "
                    f"{last or 'no output'}); check that it is a GGUF file llama.cpp can read"
                )
            try:
                with urllib.request.urlopen(f"{child.url}/models", timeout=1) as response:
                    if self.name in {m.get("id") for m in json.load(response).get("data", [])}:
                        return
            except (OSError, ValueError):
                pass
            time.sleep(POLL_SECONDS)
        child.stop()
        raise LLMError(
            f"the local model process did not start within {limit:g} s; raise ASSISTANT_LLM_START_TIMEOUT "
            "for a large model or a busy machine"
        )


class PortTaken(Exception):
    """Another process bound the chosen port first."""
