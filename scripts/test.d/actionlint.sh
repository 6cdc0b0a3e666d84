#!/usr/bin/env bash
# make test hook: the GitHub Actions files pass actionlint.
#   1. actionlint examples/workflows/ftpolicy.yml (the workflow as users copy it)
#   2. the same workflow with `uses: ./` in a scratch project holding this action.yml: actionlint
#      then loads the local action's metadata and checks it and every `with:` input against it
#      (actionlint lints workflows, not the run: scripts inside an action; tests/action covers
#      those, and validates action.yml against tests/action/action-metadata.schema.json)
#   3. when shellcheck is on PATH: the bash steps of action.yml, expressions replaced by a value
# actionlint comes from scripts/ensure_actionlint.sh (a pinned build with go install). Only when
# there is no Go toolchain is this skipped (loudly); any other failure fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

status=0
actionlint="$(bash scripts/ensure_actionlint.sh)" || status=$?
if [[ $status -ne 0 ]]; then
  if [[ $status -eq 1 ]] && ! command -v go >/dev/null 2>&1; then
    echo "################################################################################"
    echo "SKIP actionlint: no Go toolchain to build it; examples/workflows/ftpolicy.yml and"
    echo "     action.yml were NOT linted (install Go, or set FTPOLICY_ACTIONLINT)."
    echo "################################################################################"
    exit 0
  fi
  echo "actionlint.sh: could not get an actionlint binary (exit $status)" >&2
  exit 1
fi
echo "using actionlint $("$actionlint" -version | head -n 1) at $actionlint"

echo "-- actionlint examples/workflows/ftpolicy.yml"
"$actionlint" -no-color examples/workflows/ftpolicy.yml

echo "-- actionlint with uses: ./ (action.yml metadata and the example's inputs)"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/.github/workflows"
cp action.yml "$scratch/action.yml"
sed -E 's#^( +uses: )[A-Za-z0-9_.-]+/ftpolicy@v1 *$#\1./#' examples/workflows/ftpolicy.yml \
  > "$scratch/.github/workflows/ftpolicy.yml"
if ! grep -qE '^ +uses: \./$' "$scratch/.github/workflows/ftpolicy.yml"; then
  echo "actionlint.sh: examples/workflows/ftpolicy.yml has no 'uses: <owner>/ftpolicy@v1' line to point at ./" >&2
  exit 1
fi
git -C "$scratch" init -q
(cd "$scratch" && "$actionlint" -no-color .github/workflows/ftpolicy.yml)

if command -v shellcheck >/dev/null 2>&1; then
  echo "-- shellcheck on the bash steps of action.yml"
  .venv/bin/python - "$scratch" <<'PY'
import re, sys, yaml
from pathlib import Path
out = Path(sys.argv[1])
steps = yaml.safe_load(Path("action.yml").read_text(encoding="utf-8"))["runs"]["steps"]
for i, step in enumerate(steps):
    if step.get("shell") == "bash":
        body = re.sub(r"\$\{\{.*?\}\}", "EXPR", step["run"], flags=re.S)
        (out / f"step{i}.sh").write_text("#!/usr/bin/env bash\nset -eo pipefail\n" + body, encoding="utf-8")
PY
  shellcheck -S warning "$scratch"/step*.sh
else
  echo "(shellcheck not on PATH: the bash steps of action.yml were not shellchecked)"
fi
echo "actionlint.sh: workflow and action metadata passed"
