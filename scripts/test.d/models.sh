#!/usr/bin/env bash
# The tests marked `models` run the transformers eval backend on a tiny random model with a
# real PEFT adapter, and the openai backend against that model served over HTTP. They need
# the models extra (torch, transformers, peft): PyPI's Linux torch is a CUDA build, about
# 5.6 GB in .venv and about three minutes to install from PyPI. Install it when the disk has
# room for it (and FTPOLICY_TEST_MODELS is not 0); otherwise say loudly that those tests
# will be skipped. With --force (what `make test-models` runs) it installs regardless and
# fails when it cannot.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN=.venv/bin
STAMP=.venv/.installed-models
NEED_GIB=12
FORCE=0
[ "${1:-}" = "--force" ] && FORCE=1

if $BIN/python -c "import torch, transformers, peft" >/dev/null 2>&1; then
  touch "$STAMP"
  echo "models: $($BIN/python -c "import torch, transformers, peft; print('torch', torch.__version__, '| transformers', transformers.__version__, '| peft', peft.__version__)" 2>/dev/null)"
  exit 0
fi
if [ "$FORCE" = 0 ] && [ "${FTPOLICY_TEST_MODELS:-1}" = "0" ]; then
  echo "SKIP models: FTPOLICY_TEST_MODELS=0; the tests marked 'models' will be skipped (make test-models runs them)"
  exit 0
fi
free_kib=$(df -Pk .venv | awk 'NR == 2 {print $4}')
if [ "$FORCE" = 0 ] && { [ -z "$free_kib" ] || [ "$free_kib" -lt $((NEED_GIB * 1024 * 1024)) ]; }; then
  echo "SKIP models: less than ${NEED_GIB} GiB free for .venv; the tests marked 'models' will be skipped"
  echo "     (make test-models installs torch, transformers and peft and runs them)"
  exit 0
fi
echo "models: installing the models extra (torch, transformers, peft) for the tests marked 'models'"
start=$(date +%s)
if $BIN/python -m pip install --quiet -e '.[dev,models]'; then
  touch "$STAMP"
  echo "models: installed in $(( $(date +%s) - start )) s"
elif [ "$FORCE" = 1 ]; then
  echo "models: installing the models extra failed (see pip's message above)" >&2
  exit 1
else
  echo "SKIP models: installing the models extra failed (see pip's message above);"
  echo "     the tests marked 'models' will be skipped (make test-models retries)"
fi
