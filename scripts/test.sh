#!/usr/bin/env bash
# Everything `make test` runs, in order. Installs the test tools it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin

# shellcheck source=scripts/test_env.sh
source scripts/test_env.sh

echo "== ruff"; $BIN/ruff check .
echo "== mypy"; $BIN/mypy
for hook in scripts/test.d/*.sh; do
  [ -e "$hook" ] || continue
  echo "== $hook"; bash "$hook"
done
echo "== pytest"
$BIN/python -m pytest -n "${FTPOLICY_TEST_JOBS:-2}" -q "$@"
