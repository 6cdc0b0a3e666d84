"""The reference governed repository examples/governed-repo/ is valid, consistent and reproducible."""

from __future__ import annotations

import hashlib
import json
import re
import struct
import subprocess
import sys
from pathlib import Path

from ftpolicy._internal.canonical_json import dumps as canonical_json
from ftpolicy.manifest import check_manifest, discover, load_manifest

PROJECT = Path(__file__).resolve().parent.parent
EXAMPLE = PROJECT / "examples" / "governed-repo"
SCRIPT = PROJECT / "scripts" / "make_example_data.py"
CATEGORIES = {"prompt-injection", "secret-leakage", "unsafe-code", "refusal"}
# Folders whose every file comes from the generator (nothing hand-made may hide there).
GENERATED_FOLDERS = ("data/", "holdout/", "artifacts/", "config/", "datasets/", "evals/", "adapters/")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _jsonl(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text("utf-8").splitlines()]


def _manifest(rel: str) -> dict[str, object]:
    return load_manifest(EXAMPLE, rel).data


def _items_digest(digests: list[str]) -> str:
    return "sha256:" + _sha("".join(d + "\n" for d in sorted(digests)).encode("ascii"))


def test_every_manifest_validates_with_zero_problems() -> None:
    found = discover(EXAMPLE)
    kinds: dict[str, int] = {}
    for rel in found:
        manifest, problems = check_manifest(rel, (EXAMPLE / rel).read_bytes(), root=EXAMPLE)
        assert problems == [], f"{rel}: {problems}"
        kinds[manifest.kind] = kinds.get(manifest.kind, 0) + 1
    assert kinds == {
        "config": 1,
        "teams": 1,
        "identity": 7,
        "dataset": 2,
        "eval-suite": 1,
        "adapter": 1,
        "registry": 1,
    }


def test_dataset_shards_match_their_manifests() -> None:
    for version in ("1.0.0", "1.1.0"):
        data = _manifest(f"datasets/support-tickets/{version}.yaml")
        shards = data["shards"]
        assert isinstance(shards, list) and shards
        for shard in shards:
            raw = (EXAMPLE / shard["path"]).read_bytes()
            assert _sha(raw) == shard["sha256"], shard["path"]
            assert len(raw) == shard["bytes"]
            assert raw.count(b"\n") == shard["records"]
            for line in raw.decode("ascii").splitlines():
                record = json.loads(line)
                assert set(record) == {"id", "messages"}
                assert [m["role"] for m in record["messages"]] == ["system", "user", "assistant"]
                assert all(m["content"].strip() for m in record["messages"])


def test_preprocessing_and_training_digests_match_committed_files() -> None:
    params = {"sha256:" + _sha(p.read_bytes()) for p in (EXAMPLE / "config" / "preprocess").glob("*.yaml")}
    for version in ("1.0.0", "1.1.0"):
        steps = _manifest(f"datasets/support-tickets/{version}.yaml")["preprocessing"]
        assert isinstance(steps, list)
        assert {s["parameters_digest"] for s in steps} <= params
    training = _manifest("adapters/code-assistant-lora/1.0.0.yaml")["training"]
    assert isinstance(training, dict)
    assert training["config_digest"] == "sha256:" + _sha((EXAMPLE / training["config_path"]).read_bytes())


def test_dataset_versions_differ_by_the_documented_counts() -> None:
    def records(version: str) -> dict[str, dict[str, object]]:
        out: dict[str, dict[str, object]] = {}
        for path in sorted((EXAMPLE / "data" / "support-tickets" / version).glob("*.jsonl")):
            for record in _jsonl(path):
                assert record["id"] not in out, f"duplicate id {record['id']}"
                out[str(record["id"])] = record
        return out

    old, new = records("1.0.0"), records("1.1.0")
    added = new.keys() - old.keys()
    removed = old.keys() - new.keys()
    modified = {k for k in old.keys() & new.keys() if old[k] != new[k]}
    assert (len(old), len(new)) == (300, 342)
    assert (len(added), len(removed), len(modified)) == (60, 18, 24)
    readme = (EXAMPLE / "README.md").read_text("utf-8")
    assert "**60 added, 18 removed, 24 modified, 258 unchanged**" in readme
    assert _manifest("datasets/support-tickets/1.1.0.yaml")["parent"] == "1.0.0"


def test_dataset_records_are_clean_ascii_without_key_material() -> None:
    suspicious = re.compile(r"AKIA|ghp_|xox[bp]-|BEGIN [A-Z ]*PRIVATE KEY|password\s*[=:]|[0-9a-f]{32}", re.I)
    for path in (EXAMPLE / "data").rglob("*.jsonl"):
        text = path.read_bytes().decode("ascii")  # raises on any non-ASCII byte
        assert "\\u" not in text, f"{path.name}: escaped non-ASCII character"
        for record in _jsonl(path):
            for message in record["messages"]:
                assert not suspicious.search(message["content"]), (record["id"], message["content"])


def test_holdout_items_match_the_sealed_digests() -> None:
    suite = _manifest("evals/security-holdout/2026.11.yaml")
    items_meta = suite["items"]
    assert isinstance(items_meta, dict)
    items = _jsonl(EXAMPLE / items_meta["path"])
    digests = {str(i["id"]): _sha(canonical_json(i)) for i in items}
    assert len(items) == items_meta["count"] == 60
    assert items_meta["digest"] == _items_digest(list(digests.values()))
    categories = suite["categories"]
    assert isinstance(categories, dict)
    assert set(categories) == CATEGORIES
    for name, entry in categories.items():
        mine = sorted(digests[str(i["id"])] for i in items if i["category"] == name)
        assert entry["items"] == len(mine) == 15
        assert entry["item_digests"] == mine
        assert entry["items_digest"] == _items_digest(mine)
        assert 0 < entry["threshold"] <= 1
    assert suite["owner_team"] == "security"


def _read_safetensors(raw: bytes) -> tuple[dict[str, dict[str, object]], dict[str, str], int]:
    (length,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + length])
    metadata = header.pop("__metadata__")
    return header, metadata, 8 + length


def test_adapter_files_match_manifest_and_safetensors_is_well_formed() -> None:
    manifest = _manifest("adapters/code-assistant-lora/1.0.0.yaml")
    files = {f["path"].rsplit("/", 1)[1]: f for f in manifest["files"]}
    assert set(files) == {"adapter_config.json", "adapter_model.safetensors"}
    for entry in files.values():
        raw = (EXAMPLE / entry["path"]).read_bytes()
        assert (_sha(raw), len(raw)) == (entry["sha256"], entry["bytes"])

    config = json.loads((EXAMPLE / files["adapter_config.json"]["path"]).read_bytes())
    peft = manifest["peft"]
    base = manifest["base_model"]
    assert isinstance(peft, dict) and isinstance(base, dict)
    assert config["peft_type"] == peft["type"] == "LORA"
    assert config["r"] == peft["r"] == 4
    assert config["lora_alpha"] == peft["lora_alpha"] == 8
    assert sorted(config["target_modules"]) == sorted(peft["target_modules"]) == ["q_proj", "v_proj"]
    assert config["base_model_name_or_path"] == base["id"]
    assert config["revision"] == base["revision"] and re.fullmatch(r"[0-9a-f]{40}", base["revision"])

    raw = (EXAMPLE / files["adapter_model.safetensors"]["path"]).read_bytes()
    tensors, metadata, data_start = _read_safetensors(raw)
    assert metadata == {"format": "pt"}
    name = re.compile(
        r"base_model\.model\.model\.layers\.([01])\.self_attn\.(q_proj|v_proj)\.lora_([AB])\.weight"
    )
    assert len(tensors) == 8
    expected_offset = 0
    for tensor_name, info in sorted(tensors.items(), key=lambda kv: kv[1]["data_offsets"]):
        match = name.fullmatch(tensor_name)
        assert match, tensor_name
        shape = info["shape"]
        assert isinstance(shape, list)
        assert info["dtype"] == "F32"
        assert (shape[0] if match.group(3) == "A" else shape[1]) == 4  # [r, in] / [out, r]
        start, end = info["data_offsets"]
        assert start == expected_offset and end - start == 4 * shape[0] * shape[1]
        expected_offset = end
    assert data_start + expected_offset == len(raw)


def test_identities_keys_match_their_keyids_and_no_private_keys_are_committed() -> None:
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    teams = set(_manifest("identities/teams.yaml")["teams"])
    names = set()
    for path in sorted((EXAMPLE / "identities").glob("*.yaml")):
        if path.name == "teams.yaml":
            continue
        doc = _manifest(f"identities/{path.name}")
        names.add(doc["name"])
        assert set(doc["teams"]) <= teams
        (key,) = doc["keys"]
        pem = (EXAMPLE / key["public_key"]).read_bytes()
        assert SSlibKey.from_crypto(load_pem_public_key(pem)).keyid == key["keyid"]
    assert names == {"alice", "bob", "carol", "dave", "erin", "frank", "ci-scanner"}
    for path in EXAMPLE.rglob("*"):
        if path.is_file():
            assert b"PRIVATE KEY" not in path.read_bytes(), path


def test_generator_reproduces_identical_bytes(tmp_path: Path) -> None:
    out = tmp_path / "regenerated"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), "--keys-from", str(EXAMPLE)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    generated = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert ".gitattributes" in generated
    assert len(generated) == 36
    for rel in sorted(generated):
        assert (EXAMPLE / rel).read_bytes() == (out / rel).read_bytes(), f"{rel} differs from the generator"
    committed = {p.relative_to(EXAMPLE).as_posix() for p in EXAMPLE.rglob("*") if p.is_file()}
    extra = {rel for rel in committed - generated if rel.startswith(GENERATED_FOLDERS)}
    assert not extra, f"files not produced by scripts/make_example_data.py: {sorted(extra)}"

    check = subprocess.run(
        [sys.executable, str(SCRIPT), "--check"], capture_output=True, text=True, check=False, timeout=120
    )
    assert check.returncode == 0, check.stderr


def _generate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, check=False, timeout=120
    )


def test_generator_private_keys_only_outside_the_repository(tmp_path: Path) -> None:
    out, keys = tmp_path / "o", tmp_path / "keys"
    refused = _generate("--out", str(out), "--private-keys-out", str(keys))
    assert refused.returncode == 2 and "needs --new-keys" in refused.stderr
    inside = _generate("--out", str(out), "--new-keys", "--private-keys-out", str(out / "keys"))
    assert inside.returncode == 2 and "outside the governed repository" in inside.stderr
    assert not keys.exists() and not out.exists()

    fresh = _generate("--out", str(out), "--new-keys", "--private-keys-out", str(keys))
    assert fresh.returncode == 0, fresh.stderr
    assert sorted(p.name for p in keys.iterdir()) == sorted(
        f"{n}.key" for n in ("alice", "bob", "carol", "dave", "erin", "frank", "ci-scanner")
    )
    assert all(p.stat().st_mode & 0o777 == 0o600 for p in keys.iterdir())
    assert (out / "identities/keys/alice.pub").read_bytes() != (
        EXAMPLE / "identities/keys/alice.pub"
    ).read_bytes()
    assert not any(b"PRIVATE KEY" in p.read_bytes() for p in out.rglob("*") if p.is_file())
    for rel in discover(out):
        assert check_manifest(rel, (out / rel).read_bytes(), root=out)[1] == [], rel
