#!/usr/bin/env bash
# Print the path of an OPA v1.x binary, building a pinned one with `go install` when needed.
#
#   scripts/ensure_opa.sh            -> prints e.g. /home/me/.cache/go-build/ftpolicy-tools/opa-v1.22.3/opa
#
# Order: $FTPOLICY_OPA (if set), `opa` on PATH when it reports v1.x, then a pinned OPA built once with
# `go install` into the user's Go build cache (never into the repository) and reused afterwards.
# Exit status: 0 with the path on stdout; 1 when neither a usable opa nor go is available;
# 2 when go is present but the build failed. Diagnostics go to stderr only.
set -euo pipefail

OPA_VERSION="v1.22.3"
OPA_MODULE="github.com/open-policy-agent/opa"

is_opa_v1() {
  # `opa version` prints "Version: 1.22.3" on its first line.
  local out
  out="$("$1" version 2>/dev/null)" || return 1
  [[ "${out%%$'\n'*}" =~ ^Version:\ v?1\. ]]
}

if [[ -n "${FTPOLICY_OPA:-}" ]]; then
  if [[ -x "$FTPOLICY_OPA" ]] && is_opa_v1 "$FTPOLICY_OPA"; then
    echo "$FTPOLICY_OPA"
    exit 0
  fi
  echo "ensure_opa: FTPOLICY_OPA=$FTPOLICY_OPA is not an executable OPA v1.x binary" >&2
  exit 1
fi

if command -v opa >/dev/null 2>&1 && is_opa_v1 "$(command -v opa)"; then
  command -v opa
  exit 0
fi

if ! command -v go >/dev/null 2>&1; then
  echo "ensure_opa: no OPA v1.x on PATH and no Go toolchain to build one" >&2
  echo "  hint: install OPA (https://www.openpolicyagent.org/docs/#running-opa) or Go, then rerun" >&2
  exit 1
fi

gocache="$(go env GOCACHE)"
if [[ -z "$gocache" || "$gocache" == "off" ]]; then
  gocache="${XDG_CACHE_HOME:-$HOME/.cache}/go-build"
fi
bindir="$gocache/ftpolicy-tools/opa-$OPA_VERSION"
if [[ -x "$bindir/opa" ]] && is_opa_v1 "$bindir/opa"; then
  echo "$bindir/opa"
  exit 0
fi

echo "ensure_opa: building OPA $OPA_VERSION with go install (once; cached in $bindir)" >&2
mkdir -p "$bindir"
if ! GOBIN="$bindir" CGO_ENABLED=0 \
    go install "$OPA_MODULE@$OPA_VERSION" >&2; then
  echo "ensure_opa: go install $OPA_MODULE@$OPA_VERSION failed (see above)" >&2
  exit 2
fi
if ! is_opa_v1 "$bindir/opa"; then
  echo "ensure_opa: $bindir/opa was built but does not report a v1.x version" >&2
  exit 2
fi
echo "$bindir/opa"
