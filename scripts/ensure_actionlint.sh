#!/usr/bin/env bash
# Print the path of actionlint (the GitHub Actions workflow linter), building a pinned one with
# `go install` when needed.
#
#   scripts/ensure_actionlint.sh     -> prints e.g. /home/me/.cache/go-build/ftpolicy-tools/actionlint-v1.7.12/actionlint
#
# Order: $FTPOLICY_ACTIONLINT (if set), then the pinned version built once with `go install` into
# the user's Go build cache (never into the repository) and reused afterwards. An actionlint on
# PATH is not used: its version may differ from the pinned one.
# Exit status: 0 with the path on stdout; 1 when go is not available; 2 when the build failed.
# Diagnostics go to stderr only.
set -euo pipefail

ACTIONLINT_VERSION="v1.7.12"
ACTIONLINT_MODULE="github.com/rhysd/actionlint/cmd/actionlint"

is_pinned() {
  # `actionlint -version` prints the version on its first line, e.g. "v1.7.12" or "1.7.12".
  local out
  out="$("$1" -version 2>/dev/null)" || return 1
  [[ "${out%%$'\n'*}" == "$ACTIONLINT_VERSION" || "${out%%$'\n'*}" == "${ACTIONLINT_VERSION#v}" ]]
}

if [[ -n "${FTPOLICY_ACTIONLINT:-}" ]]; then
  if [[ -x "$FTPOLICY_ACTIONLINT" ]]; then
    echo "$FTPOLICY_ACTIONLINT"
    exit 0
  fi
  echo "ensure_actionlint: FTPOLICY_ACTIONLINT=$FTPOLICY_ACTIONLINT is not an executable" >&2
  exit 1
fi

if ! command -v go >/dev/null 2>&1; then
  echo "ensure_actionlint: no Go toolchain to build actionlint $ACTIONLINT_VERSION" >&2
  echo "  hint: install Go (https://go.dev/doc/install) or set FTPOLICY_ACTIONLINT to an actionlint binary" >&2
  exit 1
fi

gocache="$(go env GOCACHE)"
if [[ -z "$gocache" || "$gocache" == "off" ]]; then
  gocache="${XDG_CACHE_HOME:-$HOME/.cache}/go-build"
fi
bindir="$gocache/ftpolicy-tools/actionlint-$ACTIONLINT_VERSION"
if [[ -x "$bindir/actionlint" ]] && is_pinned "$bindir/actionlint"; then
  echo "$bindir/actionlint"
  exit 0
fi

echo "ensure_actionlint: building actionlint $ACTIONLINT_VERSION with go install (once; cached in $bindir)" >&2
mkdir -p "$bindir"
if ! GOBIN="$bindir" CGO_ENABLED=0 go install "$ACTIONLINT_MODULE@$ACTIONLINT_VERSION" >&2; then
  echo "ensure_actionlint: go install $ACTIONLINT_MODULE@$ACTIONLINT_VERSION failed (see above)" >&2
  exit 2
fi
if ! is_pinned "$bindir/actionlint"; then
  echo "ensure_actionlint: $bindir/actionlint was built but does not report $ACTIONLINT_VERSION" >&2
  echo "  ($("$bindir/actionlint" -version 2>&1 | head -n 1))" >&2
  exit 2
fi
echo "$bindir/actionlint"
