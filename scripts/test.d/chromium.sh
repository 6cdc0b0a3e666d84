#!/usr/bin/env bash
# The audit report test renders the HTML report in headless Chromium (Debian's `chromium`
# package). Install it when it is missing and we may (root with apt-get, as in CI);
# otherwise say loudly that the rendering test will be skipped.
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
  echo "chromium: $(chromium --version 2>/dev/null | head -1)"
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "chromium: installing Debian's chromium package for the audit report rendering test"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
  echo "chromium: $(chromium --version 2>/dev/null | head -1)"
else
  echo "SKIP chromium: not installed and cannot install it here (needs root and apt-get);"
  echo "     tests/audit/test_report.py::test_html_renders_in_headless_chromium will be skipped"
fi
