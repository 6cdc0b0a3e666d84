#!/usr/bin/env bash
# Demo of adapters as deployable artifacts on a scratch copy of examples/governed-repo:
# attest the chain of code-assistant-lora 1.0.0 (and a 1.0.1 made from it) through the CLI,
# with the real `ftpolicy scan adapter` summary as adapter-scan evidence; sign 1.0.0 with
# OpenSSF model signing (checked by the upstream model_signing CLI too); then promote,
# refuse what the registry policies forbid, roll back and revoke.
# The example itself is never changed. Usage: bash scripts/demo_registry.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BIN="$PWD/.venv/bin"
FT="$BIN/ftpolicy"
T="$(mktemp -d)"
trap 'rm -rf "$T"' EXIT
G="$T/gov"
K="$T/keys"
cp -R examples/governed-repo "$G"
git -C "$G" init -q -b main
demo_commit() {
  git -C "$G" -c user.name="ftpolicy demo" -c user.email="demo@example.invalid" -c commit.gpgsign=false \
    add -A
  git -C "$G" -c user.name="ftpolicy demo" -c user.email="demo@example.invalid" -c commit.gpgsign=false \
    commit -q -m "$1"
}
N=code-assistant-lora
DS=dataset:support-tickets@1.1.0

# A second version, 1.0.1, in the scratch copy only (same weights, its own folder and manifest).
cp -R "$G/artifacts/adapters/$N/1.0.0" "$G/artifacts/adapters/$N/1.0.1"
sed -e 's/version: "1.0.0"/version: "1.0.1"/' -e "s#adapters/$N/1.0.0/#adapters/$N/1.0.1/#" \
  "$G/adapters/$N/1.0.0.yaml" >"$G/adapters/$N/1.0.1.yaml"

echo "== keys for every identity of the example, layout signed by dave (owner)"
for id in alice bob carol ci-scanner dave erin frank; do
  "$FT" keys generate --name "$id-demo" --out "$K" --repo "$G" --identity "$id" >/dev/null
done
"$FT" layout init --repo "$G" >/dev/null
"$FT" layout sign --key "$K/dave-demo.pem" --repo "$G" >/dev/null
demo_commit "demo keys and layout"

att() { # att STEP KEY SUBJECT ARGS...
  local step=$1 key=$2 subject=$3
  shift 3
  "$FT" attest "$step" --subject "$subject" --key "$K/$key-demo.pem" --repo "$G" "$@" >/dev/null
}
ev() { # ev NAME JSON -> path of an evidence file
  printf '%s\n' "$2" >"$T/$1.json"
  echo "$T/$1.json"
}
mapfile -t SHARDS < <(cd "$G" && ls data/support-tickets/1.1.0/*.jsonl)
SH=()
for s in "${SHARDS[@]}"; do SH+=(--material "$G/$s"); done
PR=()
for s in "${SHARDS[@]}"; do PR+=(--product "$G/$s"); done
"$FT" scan dataset support-tickets@1.1.0 --repo "$G" --summary "$T/scan.json" --fail-on never >/dev/null
att ingest alice "$DS" "${PR[@]}"
att preprocess alice "$DS" "${SH[@]}" "${PR[@]}"
att scan ci-scanner "$DS" "${SH[@]}" --evidence "$T/scan.json"
REVIEW='{"schema_version": 1, "kind": "evidence-review", "subject": "'$DS'", "decision": "approve"}'
DSEV="$G/attestations/dataset/support-tickets/1.1.0/evidence"
for r in bob carol; do att dataset-review "$r" "$DS" "${SH[@]}" --material "$DSEV/scan.json" \
  --evidence "$(ev review "$REVIEW")"; done

adapter_chain() { # adapter_chain VERSION: train .. security-approval
  local v=$1 sub="adapter:$N@$1" dir="$G/artifacts/adapters/$N/$1"
  local adev="$G/attestations/adapter/$N/$1/evidence"
  local W=(--material "$dir/adapter_config.json" --material "$dir/adapter_model.safetensors")
  att train alice "$sub" "${SH[@]}" --material "$G/config/train/$N-1.0.0.yaml" \
    --material "$DSEV/dataset-review.json" --product "$dir/adapter_config.json" \
    --product "$dir/adapter_model.safetensors"
  "$FT" scan adapter "$N@$v" --repo "$G" --summary "$T/adapter-scan-$v.json" >/dev/null
  att adapter-scan ci-scanner "$sub" "${W[@]}" --evidence "$T/adapter-scan-$v.json"
  local digest
  digest=$("$BIN/python" -c 'import json,sys; print(json.load(open(sys.argv[1]))["adapter"]["digest"])' \
    "$T/adapter-scan-$v.json")
  local ref='{"ref": "'$N@$v'", "digest": "'$digest'"}'
  local res='[{"category": "prompt-injection", "score": 0.97}, {"category": "secret-leakage", "score": 0.97},
    {"category": "unsafe-code", "score": 0.97}, {"category": "refusal", "score": 0.97, "over_refusal": 0.02}]'
  local evl='{"schema_version": 1, "kind": "evidence-eval", "subject": "'$sub'", "adapter": '$ref',
    "suite": {"name": "security-holdout", "version": "2026.11"}, "evaluated_at": "2026-11-28T10:00:00Z",
    "results": '$res'}'
  local suite=(--material "$G/evals/security-holdout/2026.11.yaml" --material "$G/holdout/security-holdout/2026.11")
  att security-eval dave "$sub" "${W[@]}" "${suite[@]}" --evidence "$(ev eval "$evl")"
  att quality-eval erin "$sub" "${W[@]}" "${suite[@]}" --evidence "$(ev eval "$evl")"
  local appr='{"schema_version": 1, "kind": "evidence-approval", "subject": "'$sub'", "decision": "approve",
    "adapter": '$ref'}'
  att security-approval dave "$sub" "${W[@]}" --material "$adev/adapter-scan.json" \
    --material "$adev/security-eval.json" --material "$adev/quality-eval.json" --evidence "$(ev approval "$appr")"
}
echo "== attest the chains of $N 1.0.0 and 1.0.1 (adapter-scan evidence from ftpolicy scan adapter)"
adapter_chain 1.0.0
adapter_chain 1.0.1
demo_commit "demo chains up to security-approval"

echo
echo "== ftpolicy scan adapter $N@1.0.0"
"$FT" scan adapter "$N@1.0.0" --repo "$G"
echo
echo "== ftpolicy sign adapter $N@1.0.0 --key alice (OpenSSF model signing)"
"$FT" sign adapter "$N@1.0.0" --key "$K/alice-demo.pem" --repo "$G"
echo "== upstream: model_signing verify key ..."
"$BIN/model_signing" verify key "$G/artifacts/adapters/$N/1.0.0" \
  --signature "$G/signatures/adapters/$N/1.0.0.sig" --public_key "$G/identities/keys/alice-demo.pub"
demo_commit "sign 1.0.0"

refuse() { # refuse CMD...: the command must exit 1
  set +e
  "$@" 2>"$T/err"
  local st=$?
  set -e
  if [ "$st" -ne 1 ]; then
    echo "demo: expected exit 1 from: $*" >&2
    exit 1
  fi
  echo "refused: ${*:2:4} -> $(head -1 "$T/err")"
}
echo
echo "== registry policies"
refuse "$FT" promote "$N@1.0.0" --channel staging --key "$K/alice-demo.pem" --repo "$G"
refuse "$FT" promote "$N@1.0.0" --channel production --key "$K/erin-demo.pem" --repo "$G"
refuse "$FT" promote "$N@1.0.0" --channel production --key "$K/frank-demo.pem" --repo "$G"
echo
echo "== promote 1.0.0 and then 1.0.1 to staging and production (frank, publishers), roll back"
"$FT" promote "$N@1.0.0" --channel staging --key "$K/frank-demo.pem" --repo "$G"
"$FT" promote "$N@1.0.0" --channel production --key "$K/frank-demo.pem" --repo "$G" --commit
"$FT" promote "$N@1.0.1" --channel staging --key "$K/frank-demo.pem" --repo "$G"
"$FT" promote "$N@1.0.1" --channel production --key "$K/frank-demo.pem" --repo "$G" --commit
"$FT" rollback "$N" --channel production --key "$K/frank-demo.pem" --repo "$G" --commit
echo
echo "== revoke 1.0.1 (dave, security); verify and promote now refuse it"
"$FT" revoke "$N@1.0.1" --reason "demo: leaks an internal hostname" --key "$K/dave-demo.pem" --repo "$G"
refuse "$FT" promote "$N@1.0.1" --channel staging --key "$K/frank-demo.pem" --repo "$G"
set +e
"$FT" verify adapter "$N@1.0.1" --repo "$G" | grep -F "[revoked]"
set -e
echo
echo "== ftpolicy verify adapter $N@1.0.0 (chain incl. promote link, model signature, not revoked)"
"$FT" verify adapter "$N@1.0.0" --repo "$G" | tail -3
echo
"$FT" registry show "$N" --repo "$G"
