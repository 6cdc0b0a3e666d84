#!/usr/bin/env bash
# What `make test-models` runs after installing the models extra: the tests marked `models`
# (the transformers eval backend on a tiny random model with a real PEFT adapter, and the
# openai backend against that model served over HTTP). Nothing is downloaded from a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-ftpolicy tests}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-tests@ftpolicy.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-ftpolicy tests}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-tests@ftpolicy.invalid}"
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false

# fail here, loudly, rather than letting the gated tests skip
$BIN/python -c "import torch, transformers, peft, tokenizers; print('torch', torch.__version__, '| transformers', transformers.__version__, '| peft', peft.__version__)"
$BIN/python -m pytest -n "${FTPOLICY_TEST_JOBS:-2}" -q -m models "$@"
