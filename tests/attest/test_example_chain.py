"""End to end on a copy of examples/governed-repo, through the CLI only (what `make demo` shows).

New keys are generated for every identity of the example (its committed public keys have
no private half here), the layout is initialised and signed by the owner (dave), every
step of code-assistant-lora@1.0.0 is attested, `ftpolicy verify` passes, and then one
shard is edited and verify fails naming it.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml
from helpers.gitrepo import init_repo

from ftpolicy.cli.main import main
from ftpolicy.policy.input import format_now

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "governed-repo"
ADAPTER = "adapter:code-assistant-lora@1.0.0"
DATASET = "dataset:support-tickets@1.1.0"


def run(argv: list[str]) -> int:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    return int(exc.value.code or 0)


@pytest.mark.skipif(not (EXAMPLE / "ftpolicy.yaml").is_file(), reason="examples/governed-repo is not present")
def test_example_adapter_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = tmp_path / "acme"
    shutil.copytree(EXAMPLE, repo)
    init_repo(repo)
    keys = tmp_path / "keys"
    who = [p.stem for p in sorted((repo / "identities").glob("*.yaml")) if p.name != "teams.yaml"]
    for name in who:
        assert (
            run(
                [
                    "keys",
                    "generate",
                    "--name",
                    f"{name}-demo",
                    "--out",
                    str(keys),
                    "--repo",
                    str(repo),
                    "--identity",
                    name,
                ]
            )
            == 0
        )
    assert run(["layout", "init", "--repo", str(repo)]) == 0
    assert run(["layout", "sign", "--key", str(keys / "dave-demo.pem"), "--repo", str(repo)]) == 0

    adapter_doc = yaml.safe_load((repo / "adapters/code-assistant-lora/1.0.0.yaml").read_text())
    dataset_doc = yaml.safe_load((repo / "datasets/support-tickets/1.1.0.yaml").read_text())
    shards = [str(repo / s["path"]) for s in dataset_doc["shards"]]
    weights = [str(repo / f["path"]) for f in adapter_doc["files"]]
    config = str(repo / adapter_doc["training"]["config_path"])
    suite = [
        str(repo / "evals/security-holdout/2026.11.yaml"),
        str(repo / "holdout/security-holdout/2026.11"),
    ]
    ds_ev = repo / "attestations/dataset/support-tickets/1.1.0/evidence"
    ad_ev = repo / "attestations/adapter/code-assistant-lora/1.0.0/evidence"
    inputs = tmp_path / "evidence"
    inputs.mkdir()

    def evidence(step: str, doc: dict[str, object]) -> str:
        path = inputs / f"{step}.json"
        path.write_text(json.dumps(doc))
        return str(path)

    def attest(step: str, key: str, subject: str, *args: str) -> None:
        argv = [
            "attest",
            step,
            "--subject",
            subject,
            "--key",
            str(keys / f"{key}-demo.pem"),
            "--repo",
            str(repo),
        ]
        assert run([*argv, *args]) == 0, capsys.readouterr().err

    def many(flag: str, paths: list[str]) -> list[str]:
        return [x for p in paths for x in (flag, p)]

    summary = tmp_path / "scan-summary.json"  # the dataset scanner writes the scan evidence
    scan_argv = ["scan", "dataset", "support-tickets@1.1.0", "--repo", str(repo), "--summary", str(summary)]
    assert run([*scan_argv, "--fail-on", "never"]) == 0
    review = {"schema_version": 1, "kind": "evidence-review", "subject": DATASET, "decision": "approve"}
    attest("ingest", "alice", DATASET, *many("--product", shards))
    attest("preprocess", "alice", DATASET, *many("--material", shards), *many("--product", shards))
    attest("scan", "ci-scanner", DATASET, *many("--material", shards), "--evidence", str(summary))
    for reviewer in ("bob", "carol"):
        attest(
            "dataset-review",
            reviewer,
            DATASET,
            *many("--material", [*shards, str(ds_ev / "scan.json")]),
            "--evidence",
            evidence("dataset-review", review),
        )
    attest(
        "train",
        "alice",
        ADAPTER,
        *many("--material", [*shards, config, str(ds_ev / "dataset-review.json")]),
        *many("--product", weights),
    )
    attest(
        "adapter-scan",
        "ci-scanner",
        ADAPTER,
        *many("--material", weights),
        "--evidence",
        evidence("adapter-scan", {"subject": ADAPTER, "findings": []}),
    )
    capsys.readouterr()
    with pytest.raises(SystemExit):
        main(["verify", "adapter", "code-assistant-lora@1.0.0", "--repo", str(repo), "--format", "json"])
    digest = json.loads(capsys.readouterr().out)["adapter_digest"]
    ref = {"ref": "code-assistant-lora@1.0.0", "digest": digest}
    results = [
        {"category": c, "score": 0.97}
        for c in ("prompt-injection", "secret-leakage", "unsafe-code", "refusal")
    ]
    results[3]["over_refusal"] = 0.02  # the suite limits over-refusal of benign look-alikes
    for step, key in (("security-eval", "dave"), ("quality-eval", "erin")):
        doc = {
            "schema_version": 1,
            "kind": "evidence-eval",
            "subject": ADAPTER,
            "adapter": ref,
            "suite": {"name": "security-holdout", "version": "2026.11"},
            "evaluated_at": format_now(),  # evals.max_age_days is 30 in the example
            "results": results,
        }
        attest(step, key, ADAPTER, *many("--material", [*weights, *suite]), "--evidence", evidence(step, doc))
    approval = {
        "schema_version": 1,
        "kind": "evidence-approval",
        "subject": ADAPTER,
        "decision": "approve",
        "adapter": ref,
    }
    approval_inputs = [
        *weights,
        *(str(ad_ev / f"{s}.json") for s in ("adapter-scan", "security-eval", "quality-eval")),
    ]
    attest(
        "security-approval",
        "dave",
        ADAPTER,
        *many("--material", approval_inputs),
        "--evidence",
        evidence("security-approval", approval),
    )
    promotion = {
        "schema_version": 1,
        "kind": "evidence-promotion",
        "subject": ADAPTER,
        "channel": "staging",
        "adapter": ref,
    }
    attest(
        "promote",
        "frank",
        ADAPTER,
        *many("--material", [*weights, str(ad_ev / "security-approval.json")]),
        "--evidence",
        evidence("promote", promotion),
    )
    capsys.readouterr()

    assert run(["verify", "adapter", "code-assistant-lora@1.0.0", "--repo", str(repo)]) == 0
    out = capsys.readouterr().out
    assert "verify: OK: the chain holds and the policies allow" in out and "bob, carol [data-review]" in out

    Path(shards[1]).write_text(Path(shards[1]).read_text().replace("CI", "Cl", 1))
    assert run(["verify", "adapter", "code-assistant-lora@1.0.0", "--repo", str(repo)]) == 1
    out = capsys.readouterr().out
    assert "[artifact-mismatch] data/support-tickets/1.1.0/part-00001.jsonl" in out
