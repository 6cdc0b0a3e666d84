#!/usr/bin/env bash
# Build in-toto-golang's CLI once (cached) and print the path of the binary on stdout.
#
#   scripts/ensure_in_toto_go.sh            -> .../ftpolicy-tools/in-toto-golang-v0.11.0/in-toto-golang
#   IN_TOTO_GO_VERSION=v0.10.0 scripts/ensure_in_toto_go.sh
#
# The binary lives under $(go env GOCACHE)/ftpolicy-tools/ so repeated test runs reuse it.
# Exits non-zero, with the reason on stderr, when Go or the module proxy is unavailable.
set -euo pipefail

version="${IN_TOTO_GO_VERSION:-v0.11.0}"
if ! command -v go >/dev/null 2>&1; then
    echo "go is not installed; in-toto-golang cannot be built" >&2
    exit 1
fi
dir="$(go env GOCACHE)/ftpolicy-tools/in-toto-golang-${version}"
bin="${dir}/in-toto-golang"
if [ ! -x "${bin}" ]; then
    mkdir -p "${dir}"
    if ! GOBIN="${dir}" GOFLAGS="${GOFLAGS:-} -buildvcs=false" \
        go install "github.com/in-toto/in-toto-golang@${version}" >&2; then
        echo "go install github.com/in-toto/in-toto-golang@${version} failed" >&2
        exit 1
    fi
fi
echo "${bin}"
