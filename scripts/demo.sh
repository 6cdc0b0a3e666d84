#!/usr/bin/env bash
# `make demo`: run the main job on the bundled example governed repository.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
echo "== ftpolicy validate examples/governed-repo"
$BIN/ftpolicy validate --repo examples/governed-repo

# --- ftpolicy check: the pull-request gate --------------------------------------------------
echo
echo "== ftpolicy check --repo examples/governed-repo   (every manifest at HEAD, default policies)"
$BIN/ftpolicy check --repo examples/governed-repo

# A deliberately failing change, caught: copy the example into a scratch Git repository,
# branch, swap a dataset licence for one outside the allowlist, and check the branch.
DEMO_TMP="$(mktemp -d)"
trap 'rm -rf "$DEMO_TMP"' EXIT
cp -R examples/governed-repo "$DEMO_TMP/gov"
demo_git() {
  git -C "$DEMO_TMP/gov" -c user.name="ftpolicy demo" -c user.email="demo@example.invalid" \
    -c commit.gpgsign=false "$@"
}
demo_git init -q -b main
demo_git add -A
demo_git commit -q -m "governed repository"
demo_git switch -q -c licence-change
$BIN/python - "$DEMO_TMP/gov/datasets/support-tickets" <<'PY'
import pathlib, sys
folder = pathlib.Path(sys.argv[1])
text = (folder / "1.1.0.yaml").read_text()
text = text.replace('version: "1.1.0"', 'version: "1.2.0"').replace('parent: "1.0.0"', 'parent: "1.1.0"')
text = text.replace("licence: LicenseRef-Acme-Internal", "licence: CC-BY-NC-4.0", 1)
(folder / "1.2.0.yaml").write_text(text)
PY
demo_git add -A
demo_git commit -q -m "support-tickets 1.2.0 with a non-commercial source"
echo
echo "== a change branch adds support-tickets 1.2.0 with a CC-BY-NC-4.0 source"
echo "== ftpolicy check --base main   (only what the branch changed)"
set +e
$BIN/ftpolicy check --repo "$DEMO_TMP/gov" --base main
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "demo: expected ftpolicy check to deny the change with exit 1, got $status" >&2
  exit 1
fi
echo "(exit $status: the change is denied, as it should be)"
