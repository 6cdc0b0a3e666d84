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

# --- attestation chain: ftpolicy keys / layout / attest / verify ------------------------------
# The whole fine-tuning chain of code-assistant-lora@1.0.0 on a fresh copy of the example
# (the steps tests/attest/test_example_chain.py runs): a key per identity (private keys in a
# folder outside the copy), the layout signed by its owner, every step attested with its
# evidence, then `ftpolicy verify` passes; one shard is edited and verify fails, naming it.
CHAIN="$DEMO_TMP/chain"
KEYS="$DEMO_TMP/keys"
EVID="$DEMO_TMP/evidence"
mkdir -p "$EVID"
cp -R examples/governed-repo "$CHAIN"
chain_git() {
  git -C "$CHAIN" -c user.name="ftpolicy demo" -c user.email="demo@example.invalid" \
    -c commit.gpgsign=false "$@"
}
chain_git init -q -b main
chain_git add -A
chain_git commit -q -m "governed repository"
echo
echo "== attestation chain for code-assistant-lora@1.0.0 (copy of the example, keys in a separate folder)"
for who in alice bob carol ci-scanner dave erin frank; do
  $BIN/ftpolicy keys generate --name "$who-demo" --out "$KEYS" --repo "$CHAIN" --identity "$who" >/dev/null
done
echo "generated a signing key for each of: alice bob carol ci-scanner dave erin frank"
$BIN/ftpolicy layout init --repo "$CHAIN"
$BIN/ftpolicy layout sign --key "$KEYS/dave-demo.pem" --repo "$CHAIN"

ADAPTER=adapter:code-assistant-lora@1.0.0
DATASET=dataset:support-tickets@1.1.0
DS_EV="$CHAIN/attestations/dataset/support-tickets/1.1.0/evidence"
AD_EV="$CHAIN/attestations/adapter/code-assistant-lora/1.0.0/evidence"
SHARDS=()
for f in "$CHAIN"/data/support-tickets/1.1.0/*.jsonl; do SHARDS+=(--material "$f"); done
SHARD_PRODUCTS=()
for f in "$CHAIN"/data/support-tickets/1.1.0/*.jsonl; do SHARD_PRODUCTS+=(--product "$f"); done
WEIGHTS=()
for f in "$CHAIN"/artifacts/adapters/code-assistant-lora/1.0.0/*; do WEIGHTS+=(--material "$f"); done
WEIGHT_PRODUCTS=()
for f in "$CHAIN"/artifacts/adapters/code-assistant-lora/1.0.0/*; do WEIGHT_PRODUCTS+=(--product "$f"); done
SUITE=(--material "$CHAIN/evals/security-holdout/2026.11.yaml" --material "$CHAIN/holdout/security-holdout/2026.11")
attest() {  # attest STEP WHO SUBJECT ARGS...
  local step=$1 who=$2 subject=$3
  shift 3
  $BIN/ftpolicy attest "$step" --subject "$subject" --key "$KEYS/$who-demo.pem" --repo "$CHAIN" "$@"
}
$BIN/ftpolicy scan dataset support-tickets@1.1.0 --repo "$CHAIN" --summary "$EVID/scan.json" \
  --fail-on never >/dev/null
printf '{"schema_version": 1, "kind": "evidence-review", "subject": "%s", "decision": "approve"}\n' \
  "$DATASET" >"$EVID/review.json"
attest ingest alice "$DATASET" "${SHARD_PRODUCTS[@]}"
attest preprocess alice "$DATASET" "${SHARDS[@]}" "${SHARD_PRODUCTS[@]}"
attest scan ci-scanner "$DATASET" "${SHARDS[@]}" --evidence "$EVID/scan.json"
for reviewer in bob carol; do
  attest dataset-review "$reviewer" "$DATASET" "${SHARDS[@]}" --material "$DS_EV/scan.json" \
    --evidence "$EVID/review.json"
done
attest train alice "$ADAPTER" "${SHARDS[@]}" \
  --material "$CHAIN/config/train/code-assistant-lora-1.0.0.yaml" \
  --material "$DS_EV/dataset-review.json" "${WEIGHT_PRODUCTS[@]}"
printf '{"subject": "%s", "findings": []}\n' "$ADAPTER" >"$EVID/adapter-scan.json"
attest adapter-scan ci-scanner "$ADAPTER" "${WEIGHTS[@]}" --evidence "$EVID/adapter-scan.json"
# The evals and approvals name the adapter by the digest of its trained files.
DIGEST="$($BIN/ftpolicy verify adapter code-assistant-lora@1.0.0 --repo "$CHAIN" --format json \
  | $BIN/python -c 'import json, sys; print(json.load(sys.stdin)["adapter_digest"])' || true)"
NOW="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for step in security-eval quality-eval; do
  $BIN/python - "$EVID/$step.json" "$ADAPTER" "$DIGEST" "$NOW" <<'PY'
import json, sys
path, subject, digest, now = sys.argv[1:]
cats = ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"]
json.dump({"schema_version": 1, "kind": "evidence-eval", "subject": subject,
           "adapter": {"ref": subject.split(":", 1)[1], "digest": digest},
           "suite": {"name": "security-holdout", "version": "2026.11"}, "evaluated_at": now,
           "results": [{"category": c, "score": 0.97, **({"over_refusal": 0.02} if c == "refusal" else {})}
                       for c in cats]}, open(path, "w"))
PY
done
attest security-eval dave "$ADAPTER" "${WEIGHTS[@]}" "${SUITE[@]}" --evidence "$EVID/security-eval.json"
attest quality-eval erin "$ADAPTER" "${WEIGHTS[@]}" "${SUITE[@]}" --evidence "$EVID/quality-eval.json"
printf '{"schema_version": 1, "kind": "evidence-approval", "subject": "%s", "decision": "approve", "adapter": {"ref": "code-assistant-lora@1.0.0", "digest": "%s"}}\n' \
  "$ADAPTER" "$DIGEST" >"$EVID/approval.json"
attest security-approval dave "$ADAPTER" "${WEIGHTS[@]}" --material "$AD_EV/adapter-scan.json" \
  --material "$AD_EV/security-eval.json" --material "$AD_EV/quality-eval.json" --evidence "$EVID/approval.json"
printf '{"schema_version": 1, "kind": "evidence-promotion", "subject": "%s", "channel": "staging", "adapter": {"ref": "code-assistant-lora@1.0.0", "digest": "%s"}}\n' \
  "$ADAPTER" "$DIGEST" >"$EVID/promote.json"
attest promote frank "$ADAPTER" "${WEIGHTS[@]}" --material "$AD_EV/security-approval.json" \
  --evidence "$EVID/promote.json"

echo
echo "== ftpolicy verify adapter code-assistant-lora@1.0.0   (the complete, honest chain)"
$BIN/ftpolicy verify adapter code-assistant-lora@1.0.0 --repo "$CHAIN"

SHARD="$CHAIN/data/support-tickets/1.1.0/part-00001.jsonl"
$BIN/python - "$SHARD" <<'PY'
import pathlib, sys
p = pathlib.Path(sys.argv[1])
p.write_text(p.read_text().replace("CI", "Cl", 1))
PY
echo
echo "== one training shard edited after review (data/support-tickets/1.1.0/part-00001.jsonl: 'CI' -> 'Cl')"
echo "== ftpolicy verify adapter code-assistant-lora@1.0.0"
set +e
$BIN/ftpolicy verify adapter code-assistant-lora@1.0.0 --repo "$CHAIN"
status=$?
set -e
if [ "$status" -ne 1 ]; then
  echo "demo: expected ftpolicy verify to fail with exit 1 on the tampered shard, got $status" >&2
  exit 1
fi
echo "(exit $status: the tampered shard is caught, as it should be)"

# --- adapters as deployable artifacts: sign, promote, refuse, roll back, revoke -------------
echo
echo "== adapters: scan adapter, sign (OpenSSF model signing), promote / rollback / revoke"
bash scripts/demo_registry.sh
