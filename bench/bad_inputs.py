"""Bad input, tried for real: files, questions, settings, CLI flags, uploads and API calls, each against the
`assistant` command (and, for uploads and the API, a server it started), on a copy of the shipped corpus.

    python bench/bad_inputs.py [--only KIND] [--timeout 120]

Prints a Markdown table (what was tried, exit code, the exact message, whether it held) and writes
eval/reports/bad_inputs.json and .md. A case holds when it exits as expected (2 for a refusal; 0 when a bad
file is skipped or a harmless question is answered), prints no traceback, says what happened in one line and,
for files, loses no document already indexed. Messages are recorded as they are, not checked: they may change.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, table, write_report  # noqa: E402

TRACEBACK = "Traceback (most recent call last)"
BOX = "│╭╮╰╯─"


@dataclass
class Result:
    kind: str  # file, question, setting, flag, upload, api
    tried: str
    expected: int | str  # the exit code; for uploads and API calls, "refused"
    exit: int | str = ""  # the exit code, "timeout"; for uploads and API calls, "refused" or "accepted"
    message: str = ""
    traceback: bool = False
    kept: bool = True  # files: every document indexed before is still there
    seconds: float = 0.0
    held: bool = False
    notes: dict[str, Any] = field(default_factory=dict)

    def check(self) -> Result:
        self.held = self.exit == self.expected and not self.traceback and bool(self.message) and self.kept
        return self


@dataclass
class Run:
    code: int | str
    out: str
    err: str
    seconds: float


def run(args: list[str | bytes], env: dict[str, str] | None = None, stdin: bytes | None = None,
        timeout: float = 120, memory_gb: float | None = None) -> Run:
    """The `assistant` command in its own process group (killed whole on a timeout)."""

    def limit_memory() -> None:  # a read that never ends (/dev/zero) must not take the machine's memory with it
        size = int((memory_gb or 0) * 2**30)
        resource.setrlimit(resource.RLIMIT_AS, (size, size))

    started = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", *args], cwd=ROOT, env={**os.environ, **(env or {})},
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        preexec_fn=limit_memory if memory_gb else None,
    )
    try:
        out, err = proc.communicate(stdin or b"", timeout=timeout)
        code: int | str = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = "timeout"
    return Run(code, out.decode(errors="replace"), err.decode(errors="replace"), time.perf_counter() - started)


def message_of(done: Run, name: str = "") -> str:
    """The one line that says what happened: an `error:` line, the skip line naming `name`, a usage error's
    reason, or a traceback's last line."""
    lines = [line.strip().strip(BOX).strip() for line in done.err.splitlines()]
    lines = [line for line in lines if line]
    if TRACEBACK in done.err:
        return lines[-1] if lines else ""
    for line in lines:
        if line.startswith(("error:", "Error:")):
            return line
    if name:
        for line in lines:
            if name in line and not line.startswith(("Syncing", "Building")):
                return line
    for line in lines:
        if line.startswith(("Invalid value", "Missing argument", "No such command", "Got unexpected")):
            return line
    return ""


def one_line(text: str, width: int = 160) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


# --- the setup: a corpus copy and its index, built once ------------------------------------------------------
@dataclass
class Base:
    root: Path
    corpus: Path
    index: Path

    def where(self) -> list[str | bytes]:
        return ["--corpus", str(self.corpus), "--index", str(self.index)]

    def copy(self, name: str) -> Base:
        """A corpus and index of its own for one file case (an ingest that skips nothing loads no model)."""
        folder = self.root / "cases" / name
        shutil.copytree(self.corpus, folder / "corpus", symlinks=True)
        shutil.copytree(self.index, folder / "index")
        return Base(folder, folder / "corpus", folder / "index")

    def documents(self) -> int:
        try:
            return int(json.loads((self.index / "manifest.json").read_text())["documents"])
        except (OSError, ValueError, KeyError):
            return 0


def build_base(root: Path) -> Base:
    base = Base(root, root / "corpus", root / "index")
    shutil.copytree(ROOT / "corpus", base.corpus)
    built = run(["ingest", *base.where()], timeout=900)
    if built.code != 0:
        raise SystemExit(f"could not build the base index: {built.err}")
    return base


# --- files ---------------------------------------------------------------------------------------------------
def fifo(path: Path) -> None:
    target = path.parent.parent / "pipe"
    os.mkfifo(target)
    path.symlink_to(target)


def broken_docx(path: Path) -> None:
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("word/document.xml", "<w:document><w:body><w:p>unclosed")


# (file name, what it is, how to make it)
FILES: list[tuple[str, str, Callable[[Path], Any]]] = [
    ("empty.txt", "an empty .txt file", lambda p: p.write_bytes(b"")),
    ("blank.md", "a .md file of white space only", lambda p: p.write_text(" \n\t\n   \n")),
    ("noise.txt", "random bytes (with NUL) named .txt", lambda p: p.write_bytes(os.urandom(4096))),
    ("nul-inside.md", "a text file with one NUL byte inside", lambda p: p.write_bytes(b"# Notes\n\nThe quay\x00 opened.\n")),
    ("image.pdf", "a PNG named .pdf", lambda p: p.write_bytes(b"\x89PNG\r\n\x1a\n" + os.urandom(2048))),
    ("truncated.pdf", "a PDF cut after its header", lambda p: p.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<")),
    ("broken.docx", "a .docx whose XML is cut off", broken_docx),
    ("text.docx", "plain text named .docx", lambda p: p.write_text("not a zip archive")),
    ("bad.json", "a .json file that is not JSON", lambda p: p.write_text('{"title": "x", "body": ')),
    ("no-text.json", "a JSON list without article text", lambda p: p.write_text('[{"id": 1, "tags": ["a"]}]')),
    ("scripts.html", "an HTML page of scripts and styles only", lambda p: p.write_text(
        "<html><head><style>p{}</style></head><body><script>alert(1)</script></body></html>")),
    ("latin1.txt", "Latin-1 text (not UTF-8)", lambda p: p.write_bytes(
        "Le café du port ouvre à six heures; la capitainerie est fermée le dimanche.\n".encode("latin-1"))),
    ("utf16.txt", "UTF-16 text with a byte-order mark", lambda p: p.write_text(
        "The harbour office opens at six.\n", encoding="utf-16")),
    ("front-matter.md", "front matter that is not YAML", lambda p: p.write_text(
        "---\ntitle: [unclosed\n---\n\nThe quay opened in May.\n")),
    ("bad-date.md", "front matter with an impossible date", lambda p: p.write_text(
        "---\npublished: 2024-13-40\n---\n\nThe quay opened in May.\n")),
    ("sidecar.txt", "a sidecar with a misspelt key", lambda p: (
        p.write_text("The ferry leaves at noon.\n"),
        p.with_name(p.name + ".meta.toml").write_text('titel = "Ferry"\n'))),
    ("orphan.txt.meta.toml", "a sidecar without its document", lambda p: p.write_text('title = "Lost"\n')),
    ("passwd.txt", "a symlink to /etc/passwd", lambda p: p.symlink_to("/etc/passwd")),
    ("zero.txt", "a symlink to /dev/zero", lambda p: p.symlink_to("/dev/zero")),
    ("fifo.txt", "a symlink to a FIFO", fifo),
    ("dangling.txt", "a symlink to nothing", lambda p: p.symlink_to(p.parent / "missing-target.txt")),
    ("loop.txt", "a symlink loop", lambda p: p.symlink_to(p)),
    ("name\udcff.txt", "a file name that is not UTF-8", lambda p: p.write_text("The pier is closed.\n")),
    ("one-token.txt", "1 MB of one unbroken word", lambda p: p.write_text("x" * 1_000_000)),
]


# Files that may also be indexed, with a note or silently (their text is readable); every other one must be skipped.
MAY_INDEX = {
    "nul-inside.md", "latin1.txt", "utf16.txt", "sidecar.txt", "bad-date.md", "front-matter.md", "name\udcff.txt",
    "one-token.txt",
}


def file_cases(base: Base, timeout: float) -> list[Result]:
    results = []
    before = base.documents()
    for number, (name, tried, make) in enumerate(FILES):
        case = base.copy(f"file-{number}")
        make(case.corpus / name)
        memory = 4 if "zero" in name else None
        done = run(["ingest", *case.where()], timeout=timeout, memory_gb=memory)
        stem = re.match(r"[\w-]+", name).group(0)  # how the skip line names the file, however it shows the rest
        result = Result("file", tried, 0, done.code, message_of(done, stem), TRACEBACK in done.err,
                        case.documents() >= before, done.seconds)
        indexed = case.documents() > before
        result.notes["indexed"] = indexed
        if done.code == 0 and not result.message and indexed and name in MAY_INDEX:
            result.message = "(indexed) " + one_line(done.err.strip().splitlines()[-1])
        results.append(result.check())
        shutil.rmtree(case.root, ignore_errors=True)
    return results


# --- questions -----------------------------------------------------------------------------------------------
QUESTIONS: list[tuple[str, str | bytes, int]] = [
    ("an empty question", "", 2),
    ("white space only", " \t ", 2),
    ("zero-width characters only", "\u200b\u200c\u200d\u2060", 2),
    ("control characters only", "\x01\x02\x1b\x7f", 2),
    ("bytes that are not UTF-8", b"Which port \xff\xfe ships?", 2),
    ("a 600-word question", "why " * 600, 2),
    ("one 10,000-letter word", "a" * 10_000, 2),
    ("zero-width characters inside words", "At which p\u200bort were the Rus\u200dsian ships loa\u00added?", 0),
    ("a right-to-left override inside", "At which port were the \u202eRussian\u202c ships loaded?", 0),
    ("punctuation only", "?!?", 0),
    ("a lone stopword", "the", 0),
    ("HTML and script", "<script>alert(1)</script><img src=x onerror=alert(2)>", 0),
    ("emoji only", "\U0001f6a2\U0001f6a2\U0001f6a2", 0),
    ("Rich markup", "[bold red]Which port[/] were the ships loaded at?", 0),
]


def question_cases(base: Base, timeout: float) -> list[Result]:
    results = []
    for tried, question, expected in QUESTIONS:
        done = run(["ask", question, *base.where()], timeout=timeout)
        message = message_of(done)
        if done.code == 0 and not message:
            message = "(answer) " + one_line(done.out.strip().splitlines()[0] if done.out.strip() else "", 90)
        results.append(Result("question", tried, expected, done.code, message, TRACEBACK in done.err,
                              seconds=done.seconds).check())
    return results


# --- settings and flags --------------------------------------------------------------------------------------
def setting_cases(base: Base, timeout: float) -> list[Result]:
    configs = base.root / "configs"
    configs.mkdir()
    (configs / "broken.toml").write_text("chunk_size = [\n")
    (configs / "unknown.toml").write_text("chunk_sise = 128\n")
    (configs / "typed.toml").write_text('top_k = "ten"\n')
    fresh = ["--corpus", str(base.corpus), "--index", str(base.root / "fresh-index")]
    cases: list[tuple[str, list[str | bytes], dict[str, str]]] = [
        ("chunk overlap above chunk size", ["ingest", *fresh], {"ASSISTANT_CHUNK_SIZE": "32", "ASSISTANT_CHUNK_OVERLAP": "64"}),
        ("chunk overlap equal to chunk size", ["ingest", *fresh], {"ASSISTANT_CHUNK_SIZE": "64", "ASSISTANT_CHUNK_OVERLAP": "64"}),
        ("chunk size below the minimum", ["ingest", *fresh], {"ASSISTANT_CHUNK_SIZE": "8"}),
        ("negative chunk overlap", ["ingest", *fresh], {"ASSISTANT_CHUNK_OVERLAP": "-5"}),
        ("top_k of 0", ["status", *base.where()], {"ASSISTANT_TOP_K": "0"}),
        ("top_k that is not a number", ["status", *base.where()], {"ASSISTANT_TOP_K": "ten"}),
        ("an unknown answer mode", ["ask", "Which port?", *base.where()], {"ASSISTANT_ANSWER_MODE": "gpt"}),
        ("an LLM window too small for the answer", ["ask", "Which port?", *base.where()],
         {"ASSISTANT_ANSWER_MODE": "llamacpp", "ASSISTANT_LLM_MAX_TOKENS": "1024", "ASSISTANT_LLM_CONTEXT_WINDOW": "1024"}),
        ("a zero LLM timeout", ["status", *base.where()], {"ASSISTANT_LLM_TIMEOUT": "0"}),
        ("a tuned value out of range", ["status", *base.where()], {"ASSISTANT_ANSWER__CLOSE_TO_BEST": "1.5"}),
        ("a negative lock timeout", ["status", *base.where()], {"ASSISTANT_LOCK_TIMEOUT": "-1"}),
        ("ASSISTANT_CONFIG naming a missing file", ["status", *base.where()], {"ASSISTANT_CONFIG": "/nonexistent.toml"}),
        ("ASSISTANT_CONFIG naming a folder", ["status", *base.where()], {"ASSISTANT_CONFIG": str(configs)}),
        ("a config file that is not TOML", ["status", *base.where()], {"ASSISTANT_CONFIG": str(configs / "broken.toml")}),
        ("a config file with a misspelt key", ["status", *base.where()], {"ASSISTANT_CONFIG": str(configs / "unknown.toml")}),
        ("a config value of the wrong type", ["status", *base.where()], {"ASSISTANT_CONFIG": str(configs / "typed.toml")}),
        ("a missing embedding model", ["ingest", *fresh], {"ASSISTANT_EMBED_MODEL": "/nonexistent/model"}),
        ("a missing GGUF model", ["ask", "Which port?", *base.where()],
         {"ASSISTANT_ANSWER_MODE": "llamacpp", "ASSISTANT_LLM_MODEL_PATH": "/nonexistent.gguf"}),
    ]
    results = []
    for tried, args, env in cases:
        done = run(args, env=env, timeout=timeout)
        results.append(Result("setting", tried, 2, done.code, message_of(done), TRACEBACK in done.err,
                              seconds=done.seconds, notes={"env": env}).check())
        shutil.rmtree(base.root / "fresh-index", ignore_errors=True)
    return results


def flag_cases(base: Base, timeout: float) -> list[Result]:
    a_file = base.root / "a-file"
    a_file.write_text("not a folder")
    scratch = base.copy("flags")  # cases that could write into or empty the corpus get a copy of their own
    where = base.where()
    cases: list[tuple[str, list[str | bytes]]] = [
        ("--k 0", ["ask", "Which port?", "--k", "0", *where]),
        ("--k 1000", ["ask", "Which port?", "--k", "1000", *where]),
        ("--k ten", ["ask", "Which port?", "--k", "ten", *where]),
        ("--mode telepathy", ["ask", "Which port?", "--mode", "telepathy", *where]),
        ("--corpus that does not exist", ["ingest", "--corpus", "/nonexistent", "--index", str(base.root / "i2")]),
        ("--index that is a file", ["status", "--corpus", str(base.corpus), "--index", str(a_file)]),
        ("--index inside the corpus", ["ingest", "--corpus", str(scratch.corpus), "--index", str(scratch.corpus / "idx")]),
        ("--index equal to --corpus, --rebuild", ["ingest", "--rebuild", "--corpus", str(scratch.corpus),
                                                  "--index", str(scratch.corpus)]),
        ("--corpus and --index that do not exist", ["ask", "Which port?", "--corpus", str(base.root / "nothing"),
                                                    "--index", str(base.root / "no-index")]),
        ("serve --port 99999", ["serve", "--port", "99999", *where]),
        ("serve --port -1", ["serve", "--port", "-1", *where]),
        ("serve --port http", ["serve", "--port", "http", *where]),
        ("serve --host 0.0.0.0 without --auth", ["serve", "--host", "0.0.0.0", *where]),
        ("serve --auth without a password", ["serve", "--auth", "admin", *where]),
        ("serve --max-upload-mb 0", ["serve", "--max-upload-mb", "0", *where]),
        ("serve --max-upload-mb nan", ["serve", "--max-upload-mb", "nan", *where]),
        ("eval --gold that does not exist", ["eval", "--gold", "/nonexistent.jsonl", "--no-check", *where]),
        ("an unknown command", ["frobnicate"]),
        ("ask without a question", ["ask", *where]),
    ]
    results = []
    for tried, args in cases:
        done = run(args, timeout=timeout)
        results.append(Result("flag", tried, 2, done.code, message_of(done), TRACEBACK in done.err,
                              seconds=done.seconds).check())
    for result in results:
        if result.tried in ("--index inside the corpus", "--index equal to --corpus, --rebuild"):
            result.notes["corpus_files_after"] = sorted(p.name for p in scratch.corpus.iterdir())
            result.kept = set(result.notes["corpus_files_after"]) == {p.name for p in base.corpus.iterdir()}
            result.check()
    return results


# --- uploads and the API, through a server `assistant serve` started -----------------------------------------
def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_cases(base: Base, timeout: float) -> list[Result]:
    case = base.copy("server")
    port = free_port()
    log = open(case.root / "server.log", "wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "assistant", "serve", "--port", str(port), "--max-upload-mb", "0.05", *case.where()],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        client = wait_for(url, server, timeout)
        outside = case.root / "outside-secret.md"
        outside.write_text("# Vault\n\nThe code is 4417.\n")
        # Over plain HTTP, as a browser or any script would: send a file (POST /gradio_api/upload), then name
        # paths in the /upload event. (gradio_client would read a named path on the caller's side and send it.)
        uploads: list[tuple[str, list[tuple[str, bytes]] | list[str]]] = [
            ("an .exe upload", [("tool.exe", b"MZ" + os.urandom(512))]),
            ("an upload over --max-upload-mb", [("big.txt", b"The quay is long. " * 5000)]),
            ("an empty upload", [("empty.txt", b"")]),
            ("a broken .docx upload", [("broken.docx", b"not a zip archive")]),
            ("an upload named ../../evil.txt", [("../../evil.txt", b"The evil twin docked at noon.\n")]),
            ("a server path outside the upload cache", [str(outside)]),
            ("a relative path with ..", ["../../../etc/hostname.md"]),
            ("no file", []),
        ]
        results = []
        for tried, payload in uploads:
            started = time.perf_counter()
            outcome, message = upload(url, payload)
            result = Result("upload", tried, "refused", outcome, message, seconds=time.perf_counter() - started)
            if "evil" in tried:  # taken, but only inside the corpus
                result.expected = "accepted"
                result.kept = not (case.root / "evil.txt").exists() and not (case.root.parent / "evil.txt").exists()
            results.append(result.check())
        api_calls: list[tuple[str, str, str]] = [
            ("/ask: control characters only", "/ask", "\x01\x02"),
            ("/ask: zero-width characters only", "/ask", "\u200b\u200d"),
            ("/chat: control characters only", "/chat", "\x01\x02\x1b"),
            ("/ask: 600 words", "/ask", "why " * 600),
        ]
        for tried, api, question in api_calls:
            started = time.perf_counter()
            try:
                answer = client.predict(question, api_name=api)
                result = Result("api", tried, "refused", "accepted", one_line(answer), seconds=time.perf_counter() - started)
            except Exception as exc:
                result = Result("api", tried, "refused", "refused", one_line(str(exc)), seconds=time.perf_counter() - started)
            results.append(result.check())
        up = client.predict("At which port were the Russian ships loaded?", api_name="/ask")
        results.append(Result("api", "a good question after all of the above", "accepted",
                              "accepted" if "Najin" in up else "wrong answer", one_line(json.loads(up)["text"])).check())
        results[-1].notes["corpus_after"] = sorted(p.name for p in case.corpus.rglob("*") if p.is_file())
        return results
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()
        shutil.rmtree(case.root, ignore_errors=True)


def upload(url: str, payload: list[tuple[str, bytes]] | list[str]) -> tuple[str, str]:
    """("refused" or "accepted", the message) for files sent (name, bytes) or server paths named (str)."""
    import httpx

    with httpx.Client(base_url=url, timeout=300) as http:
        paths = [item for item in payload if isinstance(item, str)]
        sent = [item for item in payload if isinstance(item, tuple)]
        if sent:
            response = http.post("gradio_api/upload", files=[("files", item) for item in sent])
            if response.status_code != 200:
                return "refused", f"HTTP {response.status_code}: {response.text}"
            paths += response.json()
        files = [{"path": path, "meta": {"_type": "gradio.FileData"}} for path in paths]
        event_id = http.post("gradio_api/call/upload", json={"data": [files]}).json()["event_id"]
        event, data = http.get(f"gradio_api/call/upload/{event_id}").text.strip().split("\n")[-2:]
    data = data.removeprefix("data: ")
    if event != "event: complete":
        return "refused", f"{event.removeprefix('event: ')}: {data}"
    message = strip_tags(json.loads(data)[0])
    refused = any(words in message for words in ("not added", "nothing was added", "choose one"))
    return "refused" if refused else "accepted", message


def wait_for(url: str, server: subprocess.Popen[bytes], timeout: float) -> Any:
    from gradio_client import Client

    deadline = time.monotonic() + max(timeout, 300)
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("the server exited before it was ready")
        try:
            return Client(url, verbose=False)
        except Exception:
            time.sleep(2)
    raise SystemExit("the server did not come up")


def strip_tags(html: str) -> str:
    from bs4 import BeautifulSoup

    return BeautifulSoup(html, "html.parser").get_text(" ")


KINDS: dict[str, Callable[[Base, float], list[Result]]] = {
    "file": file_cases, "question": question_cases, "setting": setting_cases, "flag": flag_cases,
    "server": server_cases,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", choices=sorted(KINDS), action="append", help="run these kinds only")
    parser.add_argument("--timeout", type=float, default=120, help="seconds before a case counts as hung")
    args = parser.parse_args()
    started = time.perf_counter()
    results: list[Result] = []
    with tempfile.TemporaryDirectory(prefix="bad-inputs-") as tmp:
        base = build_base(Path(tmp))
        for kind in args.only or list(KINDS):
            results += KINDS[kind](base, args.timeout)
            print(f"{kind} cases done; {sum(r.held for r in results)} of {len(results)} held so far", file=sys.stderr)
        for result in results:  # the same table on every run: the temporary folder is $TMP
            result.message = " ".join(result.message.replace(tmp, "$TMP").split())
    rows = [
        {"#": n, "kind": r.kind, "tried": r.tried, "exit": r.exit, "message": f"`{r.message.replace('|', '/')}`",
         "held": "yes" if r.held else "**no**"}
        for n, r in enumerate(results, 1)
    ]
    held = sum(r.held for r in results)
    summary = f"{held} of {len(results)} bad inputs held ({time.perf_counter() - started:.0f} s)"
    markdown = table(rows, ["#", "kind", "tried", "exit", "message", "held"]) + f"\n\n{summary}"
    print(markdown)
    write_report("bad_inputs", {"held": held, "cases": len(results), "results": [asdict(r) for r in results]}, markdown)


if __name__ == "__main__":
    main()
