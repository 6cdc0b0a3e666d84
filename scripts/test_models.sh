#!/usr/bin/env bash
# What `make test-models` runs after installing the models extra: the tests marked `models`
# (the transformers eval backend on a tiny random model with a real PEFT adapter, and the
# openai backend against that model served over HTTP). Nothing is downloaded from a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# shellcheck source=scripts/test_env.sh
source scripts/test_env.sh

# fail here, loudly, rather than letting the gated tests skip
$BIN/python -c "import torch, transformers, peft, tokenizers; print('torch', torch.__version__, '| transformers', transformers.__version__, '| peft', peft.__version__)"
$BIN/python -m pytest -n "${FTPOLICY_TEST_JOBS:-2}" -q -m models "$@"
