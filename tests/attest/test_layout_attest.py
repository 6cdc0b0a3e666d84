"""`ftpolicy layout init|sign` and `ftpolicy attest` (one-shot, with a command, start/stop)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import pytest

from ftpolicy.attest.layout import STEPS
from ftpolicy.attest.link import link_rel, unfinished_rel
from ftpolicy.cli.main import main

from .conftest import ADAPTER, ADAPTER_FILES, DATASET, SHARDS, Chain, scan_evidence


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


def payload(path: Path) -> dict[str, Any]:
    env = json.loads(path.read_text())
    assert env["payloadType"] == "application/vnd.in-toto+json"
    return dict(json.loads(base64.b64decode(env["payload"])))


def test_layout_init_writes_the_default_pipeline(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["layout", "init", "--repo", str(governed.root)]) == 0
    assert "wrote layouts/finetune.layout.json (10 steps" in capsys.readouterr().out
    draft = json.loads((governed.root / "layouts/finetune.layout.json").read_text())
    assert [s["name"] for s in draft["steps"]] == list(STEPS)
    for step in draft["steps"]:
        for rules in (step["expected_materials"], step["expected_products"]):
            assert rules[-1] == ["DISALLOW", "*"], step["name"]
    steps = {s["name"]: s for s in draft["steps"]}
    assert steps["dataset-review"]["threshold"] == 2
    assert all(s["threshold"] == 1 for n, s in steps.items() if n != "dataset-review")
    keyid = {who: governed.signer(who).public_key.keyid for who in governed.keys}
    assert sorted(steps["dataset-review"]["pubkeys"]) == sorted([keyid["rita"], keyid["rob"]])
    assert steps["train"]["pubkeys"] == [keyid["tom"]]
    assert sorted(steps["scan"]["pubkeys"]) == sorted([keyid["olivia"], keyid["eve"], keyid["scanbot"]])
    assert ["MATCH", "data/*", "WITH", "MATERIALS", "FROM", "dataset-review"] in steps["train"][
        "expected_materials"
    ]
    assert ["MATCH", "artifacts/*", "WITH", "PRODUCTS", "FROM", "train"] in steps["security-eval"][
        "expected_materials"
    ]


def test_layout_init_warns_about_steps_nobody_can_sign(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    (governed.root / "identities/rob.yaml").unlink()
    (governed.root / "identities/paul.yaml").unlink()
    assert run(["layout", "init", "--repo", str(governed.root)]) == 0
    err = capsys.readouterr().err
    assert "step promote: no valid key in team 'publishers'" in err
    assert "step dataset-review: needs 2 distinct identities of team 'data-review', found 1" in err


def test_layout_sign_cli(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["layout", "init", "--repo", str(governed.root), "--expires-days", "7"]) == 0
    key = str(governed.keys["olivia"])
    assert run(["layout", "sign", "--key", key, "--repo", str(governed.root), "--expires-days", "7"]) == 0
    assert "signed layouts/finetune.layout" in capsys.readouterr().out
    layout = payload(governed.root / "layouts/finetune.layout")
    assert layout["_type"] == "layout" and len(layout["steps"]) == 10
    assert run(["layout", "sign", "--key", str(governed.keys["eve"]), "--repo", str(governed.root)]) == 1
    assert "not to a layout owner (olivia)" in capsys.readouterr().err


def attest_cli(chain: Chain, who: str, *args: str) -> int:
    return run(["attest", "--key", str(chain.keys[who]), "--repo", str(chain.root), *args])


def test_attest_with_a_command(governed: Chain, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = "data/support/raw/new.jsonl"
    script = f"import pathlib; pathlib.Path({str(governed.root / raw)!r}).write_text('x\\n')"
    code = attest_cli(
        governed, "tom", "ingest", "--subject", str(DATASET), "--product", str(governed.root / raw),
        "--", sys.executable, "-c", script,
    )  # fmt: skip
    assert code == 0
    assert "attested ingest for dataset:support@1.0: 0 materials, 1 products" in capsys.readouterr().out
    link = payload(governed.root / link_rel(DATASET, "ingest", governed.signer("tom").public_key.keyid))
    assert link["byproducts"] == {"return-value": 0}
    assert link["command"][0] == sys.executable
    assert list(link["products"]) == [raw]
    env = link["environment"]["ftpolicy"]
    assert env["subject"] == "dataset:support@1.0" and env["signed_at"].endswith("Z")


def test_attest_failing_command_writes_nothing(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    code = attest_cli(
        governed,
        "tom",
        "ingest",
        "--subject",
        str(DATASET),
        "--",
        sys.executable,
        "-c",
        "raise SystemExit(3)",
    )
    assert code == 1
    assert "command exited with 3; no attestation written" in capsys.readouterr().err
    assert not (governed.root / DATASET.dir).exists()


def test_attest_start_stop(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    governed.attest("ingest", "tom", products=[SHARDS[0]])
    mats = ["--material", str(governed.root / SHARDS[0])]
    assert attest_cli(governed, "tom", "start", "preprocess", "--subject", str(DATASET), *mats) == 0
    keyid = governed.signer("tom").public_key.keyid
    half = governed.root / unfinished_rel(DATASET, "preprocess", keyid)
    assert half.is_file()
    (governed.root / SHARDS[1]).write_text("new shard\n")
    prods = ["--product", str(governed.root / SHARDS[1])]
    assert attest_cli(governed, "tom", "stop", "preprocess", "--subject", str(DATASET), *prods) == 0
    assert not half.exists()
    link = payload(governed.root / link_rel(DATASET, "preprocess", keyid))
    assert list(link["materials"]) == [SHARDS[0]] and list(link["products"]) == [SHARDS[1]]
    assert "attested preprocess" in capsys.readouterr().out


def test_attest_stop_refuses_a_tampered_start(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    mats = ["--material", str(governed.root / ADAPTER_FILES[0])]
    assert attest_cli(governed, "tom", "start", "train", "--subject", str(ADAPTER), *mats) == 0
    half = governed.root / unfinished_rel(ADAPTER, "train", governed.signer("tom").public_key.keyid)
    env = json.loads(half.read_text())
    body = json.loads(base64.b64decode(env["payload"]))
    body["materials"] = {}
    env["payload"] = base64.b64encode(json.dumps(body).encode()).decode()
    half.write_text(json.dumps(env))
    assert attest_cli(governed, "tom", "stop", "train", "--subject", str(ADAPTER)) == 1
    assert "signature does not verify" in capsys.readouterr().err


def test_attest_validates_evidence_against_its_schema(
    governed: Chain, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "review.json"
    bad.write_text(json.dumps({"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET)}))
    code = attest_cli(governed, "rita", "dataset-review", "--subject", str(DATASET), "--evidence", str(bad))
    assert code == 1
    assert "'decision' is a required property" in capsys.readouterr().err
    other = tmp_path / "other.json"
    other.write_text(json.dumps(scan_evidence(DATASET)).replace("support@1.0", "support@2.0"))
    code = attest_cli(governed, "scanbot", "scan", "--subject", str(DATASET), "--evidence", str(other))
    assert code == 1
    assert "evidence is about 'dataset:support@2.0'" in capsys.readouterr().err


def test_co_signers_must_sign_the_same_evidence(governed: Chain, capsys: pytest.CaptureFixture[str]) -> None:
    review = {"schema_version": 1, "kind": "evidence-review", "subject": str(DATASET), "decision": "approve"}
    governed.attest("dataset-review", "rita", evidence=review)
    with pytest.raises(Exception, match="already holds different dataset-review evidence"):
        governed.attest("dataset-review", "rob", evidence={**review, "decision": "reject"})
    with pytest.raises(Exception, match="records different materials or products"):
        governed.attest("dataset-review", "rob", materials=[SHARDS[0]], evidence=review)


def test_attest_checks_the_subject_kind_of_the_step(
    governed: Chain, capsys: pytest.CaptureFixture[str]
) -> None:
    assert attest_cli(governed, "tom", "train", "--subject", str(DATASET)) == 2
    assert "step train is attested for an adapter" in capsys.readouterr().err


def test_attest_refuses_artifacts_outside_the_base(
    governed: Chain, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    outside = tmp_path / "outside.bin"
    outside.write_bytes(b"x")
    code = attest_cli(governed, "tom", "ingest", "--subject", str(DATASET), "--product", str(outside))
    assert code == 2
    assert "is outside the artifact base" in capsys.readouterr().err
    code = attest_cli(
        governed,
        "tom",
        "ingest",
        "--subject",
        str(DATASET),
        "--product",
        str(outside),
        "--base",
        str(tmp_path),
    )
    assert code == 0
    link = payload(governed.root / link_rel(DATASET, "ingest", governed.signer("tom").public_key.keyid))
    assert list(link["products"]) == ["outside.bin"]


@pytest.mark.slow
def test_attest_command_has_no_timeout(governed: Chain) -> None:
    """in-toto-run would kill this after 10 s; a training run must never be killed."""
    code = attest_cli(
        governed,
        "tom",
        "ingest",
        "--subject",
        str(DATASET),
        "--",
        sys.executable,
        "-c",
        "import time; time.sleep(11)",
    )
    assert code == 0
