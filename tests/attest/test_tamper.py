"""Tamper matrix: each case breaks one thing and ``ftpolicy verify`` must exit 1 naming it."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from ftpolicy.attest import Subject, build_default_layout, sign_layout, verify_chain, write_draft
from ftpolicy.attest.link import link_rel
from ftpolicy.cli.main import main
from ftpolicy.identities import format_time

from .conftest import (
    ADAPTER,
    ADAPTER_DIR,
    ADAPTER_FILES,
    DATASET,
    SHARDS,
    TRAIN_CONFIG,
    Chain,
    attest_adapter,
    attest_dataset,
    eval_evidence,
)


def verify_cli(chain: Chain, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, dict[str, Any]]:
    """Run `ftpolicy verify adapter bot@1.0 --format json`; return (exit code, document)."""
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(chain.root), "--format", "json", *extra])
    out = capsys.readouterr().out
    return int(exc.value.code or 0), json.loads(out)


def codes(doc: dict[str, Any]) -> set[str]:
    return {f["code"] for f in doc["failures"]}


def failure(doc: dict[str, Any], code: str) -> dict[str, Any]:
    found = [f for f in doc["failures"] if f["code"] == code]
    assert found, f"no {code} among {doc['failures']}"
    return found[0]


def key_of(chain: Chain, who: str) -> str:
    return chain.signer(who).public_key.keyid


def test_honest_chain_exits_0(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = verify_cli(chain, capsys)
    assert (code, doc["failures"]) == (0, [])
    assert doc["ok"] is True and doc["in_toto"] == "passed"
    steps = {s["name"]: s for s in doc["steps"]}
    assert steps["dataset-review"]["identities"] == ["rita", "rob"]
    assert steps["train"]["attestations"][0]["identity"] == "tom"
    assert doc["policies"]["evaluated"] is True and doc["policies"]["allow"] is True
    assert doc["policies"]["deny"] == []


def test_honest_chain_text_has_one_line_per_step(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(chain.root)])
    out = capsys.readouterr().out
    assert exc.value.code == 0
    assert "verify: OK" in out
    for step in ("ingest", "dataset-review", "train", "security-approval", "promote"):
        line = next(x for x in out.splitlines() if f" {step} " in x)
        assert line.strip().startswith("ok")


def test_shard_modified_after_review_then_trained_on(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    attest_dataset(governed)
    (governed.root / SHARDS[0]).write_text('{"messages": [{"role": "user", "content": "poison"}]}\n')
    attest_adapter(governed)
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    f = failure(doc, "artifact-rule")
    assert f["step"] == "train" and SHARDS[0] in f["message"]


def test_shard_modified_after_the_chain(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    (chain.root / SHARDS[1]).write_text("tampered\n")
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert failure(doc, "artifact-mismatch")["path"] == SHARDS[1]


def test_adapter_file_swapped_after_training(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    (chain.root / ADAPTER_FILES[1]).write_bytes(os.urandom(4096))
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert failure(doc, "artifact-mismatch")["path"] == ADAPTER_FILES[1]


def test_adapter_swapped_before_eval(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    attest_dataset(governed)
    attest_adapter(governed, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    original = (governed.root / ADAPTER_FILES[1]).read_bytes()
    (governed.root / ADAPTER_FILES[1]).write_bytes(os.urandom(4096))
    governed.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=eval_evidence(governed))
    (governed.root / ADAPTER_FILES[1]).write_bytes(original)
    attest_adapter(governed, skip=("train", "adapter-scan", "security-eval"))
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    assert failure(doc, "artifact-rule")["step"] == "security-eval"


def test_extra_file_in_the_adapter(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    (chain.root / ADAPTER_DIR / "extra_weights.safetensors").write_bytes(b"\0" * 64)
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert failure(doc, "artifact-extra")["path"] == f"{ADAPTER_DIR}/extra_weights.safetensors"


def _resign_link(chain: Chain, step: str, subject: Subject, old_who: str, new_who: str) -> Path:
    """Move a link to another signer: same payload, signed with ``new_who``'s key."""
    from in_toto.models.metadata import Envelope, Metadata

    old = chain.root / link_rel(subject, step, key_of(chain, old_who))
    link = Metadata.load(str(old)).get_payload()
    env = Envelope.from_signable(link)
    env.create_signature(chain.signer(new_who))
    new = chain.root / link_rel(subject, step, key_of(chain, new_who))
    new.write_text(json.dumps(env.to_dict()))
    old.unlink()
    return new


def test_link_signed_by_key_outside_the_steps_team(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    _resign_link(chain, "quality-eval", ADAPTER, "quinn", "paul")  # paul is a publisher
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    f = failure(doc, "unauthorised-functionary")
    assert f["step"] == "quality-eval" and "paul" in f["message"]


def test_trainer_signs_the_security_approval(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    _resign_link(chain, "security-approval", ADAPTER, "eve", "tom")
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    f = failure(doc, "unauthorised-functionary")
    assert f["step"] == "security-approval" and "tom" in f["message"]


def test_attest_refuses_a_key_outside_the_steps_team(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(
            [
                "attest",
                "security-approval",
                "--subject",
                str(ADAPTER),
                "--key",
                str(governed.keys["tom"]),
                "--repo",
                str(governed.root),
            ]
        )
    assert exc.value.code == 1
    assert "not a functionary of step security-approval" in capsys.readouterr().err


def test_single_reviewer_signs_dataset_review_twice_with_one_key(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    attest_dataset(governed)
    rob_link = governed.root / link_rel(DATASET, "dataset-review", key_of(governed, "rob"))
    rob_link.unlink()
    review = {"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET), "decision": "approve"}
    with pytest.raises(Exception, match="already exists"):
        governed.attest(
            "dataset-review",
            "rita",
            materials=[*SHARDS, f"{DATASET.evidence_dir}/scan.json"],
            evidence=review,
        )
    attest_adapter(governed)
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    f = failure(doc, "threshold-not-met")
    assert f["step"] == "dataset-review" and "found 1 (rita)" in f["message"]


def test_single_reviewer_signs_dataset_review_twice_with_two_keys(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    second = governed.new_key("rita-2", "rita", ["data-review"])
    governed.sign_layout()  # the layout now also lists rita's second key
    attest_dataset(governed)
    (governed.root / link_rel(DATASET, "dataset-review", key_of(governed, "rob"))).unlink()
    review = {"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET), "decision": "approve"}
    governed.attest(
        "dataset-review",
        "rita",
        materials=[*SHARDS, f"{DATASET.evidence_dir}/scan.json"],
        evidence=review,
        key=second,
    )
    attest_adapter(governed)
    facts = verify_chain(governed.root, ADAPTER)
    review_step = next(s for s in facts.steps if s.name == "dataset-review")
    assert len(review_step.attestations) == 2  # two keys ...
    assert review_step.identities == ["rita"]  # ... one person
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    assert failure(doc, "threshold-not-met")["step"] == "dataset-review"
    assert doc["in_toto"] == "passed"  # in-toto counts keys, not people: ftpolicy must catch it


def test_layout_expired(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    write_draft(chain.root, build_default_layout(chain.root))
    sign_layout(chain.root, chain.signer("olivia"), expires_days=-1)
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert "layout-expired" in codes(doc)


def test_layout_expires_with_time(chain: Chain) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=31)  # config expires_days: 30
    facts = verify_chain(chain.root, ADAPTER, now=later)
    assert [f.code for f in facts.failures] == ["layout-expired"]


def test_layout_signed_by_a_non_owner_key(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    from in_toto.models.metadata import Envelope, Metadata

    path = chain.root / "layouts/finetune.layout"
    layout = Metadata.load(str(path)).get_payload()
    env = Envelope.from_signable(layout)
    env.create_signature(chain.signer("eve"))  # security, but not a layout owner
    path.write_text(json.dumps(env.to_dict()))
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    f = failure(doc, "layout-signature")
    assert "eve" in f["message"] and "not by a layout owner" in f["message"]


def test_layout_sign_refuses_a_non_owner_key(governed: Chain) -> None:
    from ftpolicy.errors import FtpolicyError

    with pytest.raises(FtpolicyError, match="not to a layout owner"):
        sign_layout(governed.root, governed.signer("eve"))


def test_layout_edited_after_signing(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    path = chain.root / "layouts/finetune.layout"
    env = json.loads(path.read_text())
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["steps"][3]["threshold"] = 1  # dataset-review down to one reviewer
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    path.write_text(json.dumps(env))
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert "layout-signature" in codes(doc)


def _set_key_field(chain: Chain, who: str, name: str, value: str) -> None:
    path = chain.root / f"identities/{who}.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["keys"][0][name] = value
    path.write_text(yaml.safe_dump(doc, sort_keys=False))


def test_revoked_key_used_after_revocation(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    revoked = format_time(dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    _set_key_field(chain, "quinn", "revoked_at", revoked)
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    f = failure(doc, "key-revoked")
    assert f["step"] == "quality-eval" and "quinn" in f["message"]


def test_key_revoked_after_signing_still_counts(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    _set_key_field(
        chain, "quinn", "revoked_at", format_time(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=10))
    )
    code, doc = verify_cli(chain, capsys)
    assert (code, doc["failures"]) == (0, [])


def test_key_used_outside_its_validity_window(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    _set_key_field(chain, "paul", "valid_until", "2020-01-01T00:00:00Z")
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert failure(doc, "key-expired")["step"] == "promote"


def test_evidence_file_edited_after_signing(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    path = chain.root / ADAPTER.evidence_dir / "security-eval.json"
    doc = json.loads(path.read_text())
    doc["results"][0]["score"] = 1.0
    path.write_text(json.dumps(doc))
    code, out = verify_cli(chain, capsys)
    assert code == 1
    f = failure(out, "evidence-digest")
    assert f["step"] == "security-eval" and f["path"] == f"{ADAPTER.evidence_dir}/security-eval.json"


def test_evidence_file_deleted(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    (chain.root / DATASET.evidence_dir / "dataset-review.json").unlink()
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert failure(doc, "evidence-missing")["step"] == "dataset-review"


def test_link_payload_edited(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    import base64

    path = chain.root / link_rel(ADAPTER, "train", key_of(chain, "tom"))
    env = json.loads(path.read_text())
    payload = json.loads(base64.b64decode(env["payload"]))
    payload["materials"].pop(TRAIN_CONFIG)
    env["payload"] = base64.b64encode(json.dumps(payload).encode()).decode()
    path.write_text(json.dumps(env))
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert failure(doc, "link-signature")["step"] == "train"


def test_links_replayed_for_another_adapter_version(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    other = Subject("adapter", "bot", "1.1")
    shutil.copytree(chain.root / ADAPTER.dir, chain.root / other.dir)
    manifest = (chain.root / ADAPTER.manifest_path).read_text().replace('version: "1.0"', 'version: "1.1"')
    (chain.root / other.manifest_path).write_text(manifest)
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", other.ref, "--repo", str(chain.root), "--format", "json"])
    doc = json.loads(capsys.readouterr().out)
    assert exc.value.code == 1
    f = failure(doc, "subject-mismatch")
    assert "adapter:bot@1.0" in f["message"]


def test_eval_that_skips_the_weights(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    attest_dataset(governed)
    attest_adapter(governed, skip=("quality-eval", "security-approval", "promote"))
    governed.attest("quality-eval", "quinn", materials=ADAPTER_FILES[:1], evidence=eval_evidence(governed))
    attest_adapter(governed, skip=("train", "adapter-scan", "security-eval", "quality-eval"))
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    assert failure(doc, "materials-incomplete")["step"] == "quality-eval"


def test_adapter_manifest_lists_other_files(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    path = chain.root / ADAPTER.manifest_path
    text = path.read_text()
    digest = yaml.safe_load(text)["files"][1]["sha256"]
    path.write_text(text.replace(digest, "f" * 64))
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    assert "manifest-mismatch" in codes(doc)


def test_missing_step(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    attest_dataset(governed)
    attest_adapter(governed, skip=("promote",))
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    assert failure(doc, "step-missing")["step"] == "promote"


def test_adapter_files_missing_from_artifacts_dir(
    chain: Chain, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = tmp_path / "artifacts-elsewhere"
    empty.mkdir()
    code, doc = verify_cli(chain, capsys, "--artifacts", str(empty))
    assert code == 1
    assert {f["path"] for f in doc["failures"] if f["code"] == "artifact-missing"} == set(ADAPTER_FILES)
    assert set(doc["dataset_files_not_present"]) >= set(SHARDS)


def test_eval_evidence_for_another_adapter_digest(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    attest_dataset(governed)
    attest_adapter(governed, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    replayed = eval_evidence(governed)
    replayed["adapter"]["digest"] = "sha256:" + "e" * 64  # results of some other adapter
    governed.attest("security-eval", "eve", materials=ADAPTER_FILES, evidence=replayed)
    attest_adapter(governed, skip=("train", "adapter-scan", "security-eval"))
    code, doc = verify_cli(governed, capsys)
    assert code == 1
    f = failure(doc, "evidence-adapter-digest")
    assert f["step"] == "security-eval" and f["path"] == f"{ADAPTER.evidence_dir}/security-eval.json"


def test_export_for_the_reference_tools(
    chain: Chain, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _doc = verify_cli(chain, capsys, "--export", str(tmp_path / "out"))
    assert code == 0
    links = sorted(p.name.split(".")[0] for p in (tmp_path / "out/links").iterdir())
    assert len(links) == 11 and links.count("dataset-review") == 2
    assert (tmp_path / "out/finetune.layout").is_file()
    assert len(list((tmp_path / "out").glob("owner-olivia-*.pub"))) == 1


def test_until_security_approval_before_promoting(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    attest_dataset(governed)
    attest_adapter(governed, skip=("promote",))
    code, doc = verify_cli(governed, capsys, "--until", "security-approval")
    assert (code, doc["failures"]) == (0, [])
    assert [s["name"] for s in doc["steps"]][-1] == "security-approval"
    code, doc = verify_cli(governed, capsys)
    assert code == 1 and failure(doc, "step-missing")["step"] == "promote"


def test_until_still_checks_the_rules(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    attest_dataset(governed)
    (governed.root / SHARDS[0]).write_text("poison\n")
    attest_adapter(governed, skip=("promote",))
    code, doc = verify_cli(governed, capsys, "--until", "security-approval")
    assert code == 1
    assert failure(doc, "artifact-rule")["step"] == "train"


def dataset_cli(chain: Chain, capsys: pytest.CaptureFixture[str]) -> tuple[int, dict[str, Any]]:
    with pytest.raises(SystemExit) as exc:
        main(["verify", "dataset", DATASET.ref, "--repo", str(chain.root), "--format", "json"])
    return int(exc.value.code or 0), json.loads(capsys.readouterr().out)


def test_verify_dataset(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    attest_dataset(governed)
    code, doc = dataset_cli(governed, capsys)
    assert (code, doc["failures"]) == (0, [])
    assert [s["name"] for s in doc["steps"]] == ["ingest", "preprocess", "scan", "dataset-review"]
    assert doc["artifacts_checked"] == len(SHARDS)
    (governed.root / SHARDS[0]).write_text("edited after review\n")
    code, doc = dataset_cli(governed, capsys)
    assert code == 1
    f = failure(doc, "artifact-mismatch")
    assert f["path"] == SHARDS[0] and f["step"] == "dataset-review"


def test_link_naming_files_outside_the_repository(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    from in_toto.models.metadata import Envelope, Metadata

    path = chain.root / link_rel(ADAPTER, "adapter-scan", key_of(chain, "scanbot"))
    link = Metadata.load(str(path)).get_payload()
    link.materials = {**link.materials, "../../outside.bin": {"sha256": "0" * 64}}
    env = Envelope.from_signable(link)
    env.create_signature(chain.signer("scanbot"))
    path.write_text(json.dumps(env.to_dict()))
    code, doc = verify_cli(chain, capsys)
    assert code == 1
    f = failure(doc, "artifact-name")
    assert f["step"] == "adapter-scan" and "../../outside.bin" in f["message"]


def test_sarif_and_github_output(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    schema = json.loads((Path(__file__).parents[1] / "sarif-2.1.0-rtm.5.json").read_text())
    (chain.root / ADAPTER_FILES[1]).write_bytes(os.urandom(4096))
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(chain.root), "--format", "sarif"])
    assert exc.value.code == 1
    doc = json.loads(capsys.readouterr().out)
    jsonschema.Draft4Validator(schema).validate(doc)
    results = doc["runs"][0]["results"]
    assert [r["ruleId"] for r in results] == ["verify/artifact-mismatch"]
    assert results[0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == ADAPTER_FILES[1]
    with pytest.raises(SystemExit) as exc:
        main(["verify", "adapter", ADAPTER.ref, "--repo", str(chain.root), "--format", "github"])
    assert exc.value.code == 1
    assert "verify/artifact-mismatch" in capsys.readouterr().out


def test_chain_still_verifies_after_a_key_rotation(chain: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    """Rita's key is revoked after she reviewed; she gets a new key; the layout is re-signed."""
    _set_key_field(
        chain, "rita", "revoked_at", format_time(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=2))
    )
    chain.new_key("rita-2027", "rita", ["data-review"])
    chain.sign_layout()
    code, doc = verify_cli(chain, capsys)
    assert (code, doc["failures"]) == (0, [])


def test_a_key_revoked_from_the_start_leaves_the_layout(
    chain: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    """A key revoked at its valid_from (compromised, time unknown) is no functionary at all."""
    path = chain.root / "identities/quinn.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["keys"][0]["revoked_at"] = doc["keys"][0]["valid_from"]
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    chain.sign_layout()
    code, out = verify_cli(chain, capsys)
    assert code == 1
    assert failure(out, "unauthorised-functionary")["step"] == "quality-eval"
