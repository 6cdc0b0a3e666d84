#!/usr/bin/env bash
# Everything `make test` runs, in order. Installs the test tools it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# Git identity for the repositories the tests create (CI runs as a fresh root user).
export GIT_AUTHOR_NAME="${GIT_AUTHOR_NAME:-ftpolicy tests}" GIT_AUTHOR_EMAIL="${GIT_AUTHOR_EMAIL:-tests@ftpolicy.invalid}"
export GIT_COMMITTER_NAME="${GIT_COMMITTER_NAME:-ftpolicy tests}" GIT_COMMITTER_EMAIL="${GIT_COMMITTER_EMAIL:-tests@ftpolicy.invalid}"

echo "== ruff"; $BIN/ruff check .
echo "== mypy"; $BIN/mypy
for hook in scripts/test.d/*.sh; do
  [ -e "$hook" ] || continue
  echo "== $hook"; bash "$hook"
done
echo "== pytest"
$BIN/python -m pytest -n "${FTPOLICY_TEST_JOBS:-2}" -q "$@"
