"""Every extractive answer to a fixed set of questions, as JSON lines, so that a change meant to leave answers
alone (a refactor, a move of modules) can be shown to: take a snapshot before it and after it, then compare.

The questions: every item of eval/gold.jsonl and eval/calibration.jsonl (asked in a fresh conversation after its
history, as `assistant eval` asks them) over an index of the shipped corpus built afresh, and the first N
questions of the SQuAD v1.1 dev split (default 1,500) over bench/squad.py's cached index. For each: the
question as read, the answer text, whether it abstained, its citations (doc_id, start, end) and the retrieved
chunks' ids.

    python bench/answer_snapshot.py --out bench/out/before.jsonl
    python bench/answer_snapshot.py --out bench/out/after.jsonl --compare bench/out/before.jsonl
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import BENCHMARKS, ROOT  # noqa: E402
from squad import load, workdir  # noqa: E402

GOLD_FILES = (ROOT / "eval" / "gold.jsonl", ROOT / "eval" / "calibration.jsonl")


def record(source: str, item_id: str, answer: Any) -> dict[str, Any]:
    return {
        "source": source,
        "id": item_id,
        "read_as": answer.standalone_question,
        "text": answer.text,
        "abstained": answer.abstained,
        "citations": [[c.doc_id, c.start, c.end] for c in answer.citations],
        "retrieved": [p.node_id for p in answer.retrieved],
    }


def gold_answers(index_dir: Path) -> Iterator[dict[str, Any]]:
    from assistant import Assistant

    bot = Assistant.open(corpus_dir=ROOT / "corpus", index_dir=index_dir, answer_mode="extractive")
    for path in GOLD_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            item = json.loads(line)
            chat = bot.chat()
            for turn in item.get("history", []):
                chat.ask(turn)
            yield record(path.name, item["id"], chat.ask(item["question"]))


def squad_answers(limit: int) -> Iterator[dict[str, Any]]:
    from assistant import Assistant

    docs, questions = load(BENCHMARKS / "squad-v1.1" / "dev-v1.1.json", "dev", None)
    folder = workdir(docs)
    if not (folder / "index").is_dir():
        sys.exit(f"error: no SQuAD index at {folder / 'index'}; build it with "
                 "`python bench/squad.py --split dev --limit 1500 --no-baseline`")
    bot = Assistant.open(corpus_dir=folder / "corpus", index_dir=folder / "index", answer_mode="extractive")
    for number, question in enumerate(questions[:limit]):
        if number and number % 250 == 0:
            print(f"squad: {number}/{limit}", file=sys.stderr)
        yield record("squad-dev", str(number), bot.ask(question.text))


def compare(ours: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> int:
    """Print each question whose answer differs; the number of differences."""
    keyed = {(r["source"], r["id"]): r for r in theirs}
    differ = 0
    for row in ours:
        other = keyed.pop((row["source"], row["id"]), None)
        if other != row:
            differ += 1
            print(f"differs: {row['source']} {row['id']}\n  now:    {row}\n  before: {other}")
    for key in keyed:
        differ += 1
        print(f"missing now: {key}")
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="JSON lines file to write")
    parser.add_argument("--squad", type=int, default=1500, help="first N SQuAD dev questions (0: none)")
    parser.add_argument("--compare", type=Path, help="an earlier snapshot: list the answers that differ, exit 1 if any")
    args = parser.parse_args()

    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        rows = list(gold_answers(Path(tmp) / "index"))
    if args.squad:
        rows += squad_answers(args.squad)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    text = "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    args.out.write_text(text, encoding="utf-8")
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    print(f"{len(rows)} answers in {time.perf_counter() - started:.0f}s -> {args.out} (sha256 {digest})")
    if args.compare:
        before = [json.loads(line) for line in args.compare.read_text(encoding="utf-8").splitlines()]
        differ = compare(rows, before)
        print(f"{differ} of {len(rows)} answers differ from {args.compare}")
        sys.exit(1 if differ else 0)


if __name__ == "__main__":
    main()
