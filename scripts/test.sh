#!/usr/bin/env bash
# Set up a virtual environment with every extra, check answers against the gold set, run the tests.
# The UI tests drive Debian's chromium (`apt-get install -y chromium`); .ci/run installs it.
set -euo pipefail
cd "$(dirname "$0")/.."
export VENV=${VENV:-.venv}
bash scripts/install.sh dev,local-llm,openai  # llama.cpp built portably, and checked
export PATH="$PWD/$VENV/bin:$PATH"

# The gold set, per answer mode, against eval/thresholds.toml (exit 1 when a metric drops below).
assistant eval --mode extractive --out eval/out/extractive --json
if python -c "import llama_cpp" 2>/dev/null; then
  # Bounded generation keeps the 81 questions to about a minute on 2 cores.
  ASSISTANT_LLM_MAX_TOKENS=96 ASSISTANT_LLM_CONTEXT_WINDOW=2048 \
    assistant eval --mode llamacpp --out eval/out/llamacpp --json
fi

python -m pytest -q "$@"
