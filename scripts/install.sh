#!/usr/bin/env bash
# Install corpus-assistant into a virtualenv (default .venv) with the given extras (default: all of them),
# with llama.cpp built to run on any x86-64 CPU with AVX2.
#
#   bash scripts/install.sh                 # .venv with dev, local-llm and openai
#   VENV=/opt/ca bash scripts/install.sh local-llm
#
# llama-cpp-python compiles llama.cpp for the CPU it is built on unless told otherwise, and a build with
# AVX-512 or AMX kernels crashes on a CPU without them (and has crashed on some with them). pip also reuses
# a wheel it built before whatever CMAKE_ARGS say, so the check below rebuilds without its cache when the
# installed build is not the portable one. For speed on your own CPU or a GPU, see the README.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${VENV:-.venv}
EXTRAS=${1:-dev,local-llm,openai}
LLAMA_CPP=$(grep -o 'llama-cpp-python\[server\]==[0-9.]*' pyproject.toml | sed 's/\[server\]//')
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF}"

[ -x "$VENV/bin/python" ] || python3.11 -m venv "$VENV" 2>/dev/null || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
# torch==2.13.0 is pinned: pip takes the local CPU build instead of several GB of CUDA packages.
"$VENV/bin/pip" install -q -e ".[$EXTRAS]"

# The instruction sets llama.cpp was compiled with (llama_print_system_info), beyond AVX2.
beyond_avx2() {
  "$VENV/bin/python" -c '
import re, llama_cpp
info = llama_cpp.llama_print_system_info().decode()
print(" ".join(sorted(set(re.findall(r"\b(AVX512\w*|AVX_VNNI\w*|AVX10\w*|AMX\w*) = 1", info)))))'
}

if [ "$CMAKE_ARGS" = "-DGGML_NATIVE=OFF" ] && "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null; then
  found=$(beyond_avx2)
  if [ -n "$found" ]; then
    echo "llama.cpp was built for this CPU ($found), not portably: rebuilding it (about 4 minutes)" >&2
    "$VENV/bin/pip" cache remove 'llama_cpp_python*' >/dev/null 2>&1 || true
    "$VENV/bin/pip" install -q --no-cache-dir --force-reinstall --no-deps "$LLAMA_CPP"
    found=$(beyond_avx2)
    if [ -n "$found" ]; then
      echo "error: llama.cpp still uses $found after a rebuild with CMAKE_ARGS=$CMAKE_ARGS" >&2
      exit 1
    fi
  fi
fi
