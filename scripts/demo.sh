#!/usr/bin/env bash
# `make demo`: run the main job on the bundled example governed repository.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ftpolicy validate examples/governed-repo"
$BIN/ftpolicy validate --repo examples/governed-repo
