"""Write tests/policy/cases/*.json: one policy input document per default rule, with its expected decision.

Each file is ``{"description", "input", "expected": {"deny": [rule ids], "warn": [rule ids]}}``.
The inputs follow schemas/policy-input.v1.schema.json. The differential test evaluates every
case on both engines (embedded and OPA) and requires both to return ``expected``;
tests/policy_lib/test_cases.py checks them on the embedded engine.

Run ``.venv/bin/python tests/policy/generate_cases.py`` after changing a case, and commit the
JSON files it writes (they are the test data; this script only saves typing).
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SHA = "0" * 64
HEAD, BASE = "a" * 40, "b" * 40

CONFIG: dict[str, Any] = {
    "schema_version": 1,
    "kind": "config",
    "project": "acme",
    "datasets": {
        "licence_allowlist": ["Apache-2.0", "internal"],
        "untrusted_source_kinds": ["user-generated"],
        "min_reviewers": 1,
    },
    "evals": {
        "required_categories": ["prompt-injection", "secret-leakage", "unsafe-code", "refusal"],
        "max_age_days": 90,
    },
    "teams": {
        "security": "security",
        "training": "ml-training",
        "quality": "ml-quality",
        "data_review": "data-review",
        "publishers": "publishers",
    },
    "engine": {"name": "embedded", "extra_policies": "policies"},
    "policy_params": {},
    "exceptions": [],
    "adapters": {"forbidden_extensions": []},
}


def dataset(version: str, parent: str | None, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "kind": "dataset",
        "name": "chats",
        "version": version,
        "record_format": "chat",
        "parent": parent,
        "change_summary": f"version {version}",
        "sources": [
            {"name": "helpdesk", "kind": "internal", "uri": "s3://corp/helpdesk", "licence": "internal"}
        ],
        "collected_by": "alice",
        "authors": ["alice"],
        "collection": {"start": "2026-01-01", "end": "2026-02-01"},
        "preprocessing": [{"tool": "redact", "version": "1.0", "parameters_digest": "sha256:" + SHA}],
        "shards": [
            {
                "path": f"data/chats/{version}/part-0.jsonl",
                "sha256": SHA,
                "bytes": 10,
                "records": 1,
                "format": "jsonl",
            }
        ],
    }
    data.update(changes)
    return data


DS_LINES = {"/parent": 7, "/change_summary": 8, "/sources": 9, "/collected_by": 14, "/shards": 24}


def suite(**thresholds: float) -> dict[str, Any]:
    cats = {
        c: {"items": 5, "items_digest": "sha256:" + SHA, "threshold": 0.9}
        for c in ("prompt-injection", "secret-leakage", "unsafe-code", "refusal")
    }
    cats["refusal"]["max_over_refusal"] = 0.1
    for key, value in thresholds.items():
        cats[key.replace("_", "-")]["threshold"] = value
    return {
        "schema_version": 1,
        "kind": "eval-suite",
        "name": "holdout",
        "version": "1.0",
        "owner_team": "security",
        "items": {"count": 20, "digest": "sha256:" + SHA},
        "categories": cats,
    }


EVAL_LINES = {"/items": 7, "/categories": 10}


def adapter(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "kind": "adapter",
        "name": "bot",
        "version": "1.0.0",
        "base_model": {"id": "org/base", "revision": "c" * 40},
        "datasets": ["chats@1.0.0"],
        "training": {"config_digest": "sha256:" + SHA, "trained_by": "bob"},
        "peft": {"type": "LORA", "r": 8, "target_modules": ["q_proj"]},
        "files": [{"path": "artifacts/bot/1.0.0/adapter_model.safetensors", "sha256": SHA, "bytes": 8}],
    }
    data.update(changes)
    return data


AD_LINES = {"/base_model": 5, "/datasets": 9, "/training": 10, "/files": 17}


def entry(
    path: str,
    kind: str,
    data: dict[str, Any],
    lines: dict[str, int],
    subject: bool = True,
    base: dict[str, Any] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "kind": kind, "subject": subject, "data": data, "lines": lines}
    if "name" in data and "version" in data:
        out["ref"] = f"{data['name']}@{data['version']}"
    if base is not None:
        out["change"] = "modified"
        out["base"] = {"path": path, "data": base, "lines": lines}
    return out


def _refs(m: dict[str, Any]) -> list[tuple[str, str, str]]:
    data = m["data"]
    if m["kind"] == "dataset" and isinstance(data.get("parent"), str):
        return [
            ("/parent", f"{data['name']}@{data['parent']}", f"datasets/{data['name']}/{data['parent']}.yaml")
        ]
    if m["kind"] == "adapter":
        out = []
        for i, ref in enumerate(data.get("datasets", [])):
            name, version = ref.split("@")
            out.append((f"/datasets/{i}", ref, f"datasets/{name}/{version}.yaml"))
        return out
    return []


def resolve_refs(manifests: list[dict[str, Any]], problems: list[dict[str, Any]]) -> None:
    """Add refs to subject manifests the way ftpolicy.policy.input does."""
    present = {m["path"] for m in manifests}
    invalid = {p["path"] for p in problems}
    for m in manifests:
        refs = _refs(m)
        if m["subject"] and refs:
            m["refs"] = [
                {
                    "pointer": ptr,
                    "ref": ref,
                    "path": path,
                    "status": "valid" if path in present else ("invalid" if path in invalid else "missing"),
                }
                for ptr, ref, path in refs
            ]


def doc(
    manifests: list[dict[str, Any]],
    *,
    changed: list[dict[str, Any]] | None = None,
    config: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema": "ftpolicy/policy-input/v1",
        "now": "2026-11-28T12:00:00Z",
        "mode": "diff",
        "git": {
            "head": HEAD,
            "base": BASE,
            "merge_base": BASE,
            "shallow": False,
            "changed": changed
            if changed is not None
            else [{"status": "added", "path": m["path"]} for m in manifests if m["subject"]],
            "commits": [],
        },
        "config": config or copy.deepcopy(CONFIG),
        "identities": {},
        "teams": {},
        "manifests": manifests,
        "problems": [],
        "shards_verified": [],
        "policy": {"packages": []},
    }
    out.update(extra)
    resolve_refs(out["manifests"], out["problems"])
    return out


PARENT = entry("datasets/chats/1.0.0.yaml", "dataset", dataset("1.0.0", None), DS_LINES, subject=False)


def ds_case(**changes: Any) -> dict[str, Any]:
    return doc(
        [
            entry("datasets/chats/2.0.0.yaml", "dataset", dataset("2.0.0", "1.0.0", **changes), DS_LINES),
            PARENT,
        ]
    )


CASES: dict[str, tuple[str, dict[str, Any], list[str], list[str]]] = {}


def case(
    name: str, description: str, document: dict[str, Any], deny: list[str], warn: list[str] | None = None
) -> None:
    CASES[name] = (description, document, sorted(deny), sorted(warn or []))


case("clean-dataset", "a new dataset version with complete provenance passes", ds_case(), [])
no_collector = dataset("2.0.0", "1.0.0")
del no_collector["collected_by"]
case(
    "dataset-provenance-incomplete",
    "collected_by missing",
    doc([entry("datasets/chats/2.0.0.yaml", "dataset", no_collector, DS_LINES), PARENT]),
    ["dataset/provenance-incomplete"],
)
case(
    "dataset-untrusted-source",
    "a user-generated source without scan and review attestations",
    ds_case(
        sources=[
            {"name": "forum", "kind": "user-generated", "uri": "https://forum.example", "licence": "internal"}
        ]
    ),
    ["dataset/untrusted-source"],
)
case(
    "dataset-licence-not-allowed",
    "a source licence outside the allowlist",
    ds_case(
        sources=[{"name": "web", "kind": "public", "uri": "https://web.example", "licence": "CC-BY-NC-4.0"}]
    ),
    ["dataset/licence-not-allowed"],
)
edited = entry(
    "datasets/chats/1.0.0.yaml",
    "dataset",
    dataset("1.0.0", None, change_summary="rewritten"),
    DS_LINES,
    base=dataset("1.0.0", None),
)
case(
    "dataset-immutable-version",
    "an existing dataset version file was edited",
    doc([edited], changed=[{"status": "modified", "path": "datasets/chats/1.0.0.yaml"}]),
    ["dataset/immutable-version"],
)
case(
    "dataset-parent-missing",
    "the parent version does not exist",
    doc([entry("datasets/chats/2.0.0.yaml", "dataset", dataset("2.0.0", "1.5.0"), DS_LINES), PARENT]),
    ["dataset/parent-missing"],
)
case(
    "dataset-shard-digest-mismatch",
    "a local shard does not hash to the pinned digest",
    {
        **ds_case(),
        "shards_verified": [
            {
                "manifest": "datasets/chats/2.0.0.yaml",
                "pointer": "/shards/0/sha256",
                "line": 25,
                "path": "data/chats/2.0.0/part-0.jsonl",
                "expected": SHA,
                "actual": "1" * 64,
                "match": False,
            }
        ],
    },
    ["dataset/shard-digest-mismatch"],
)
SUITE_PATH = "evals/holdout/1.0.yaml"
case(
    "clean-eval-suite",
    "a complete new suite passes",
    doc([entry(SUITE_PATH, "eval-suite", suite(), EVAL_LINES)]),
    [],
)
partial = suite()
del partial["categories"]["unsafe-code"]
case(
    "eval-categories-missing",
    "the unsafe-code category is missing",
    doc([entry(SUITE_PATH, "eval-suite", partial, EVAL_LINES)]),
    ["eval/categories-missing"],
)
case(
    "eval-threshold-lowered",
    "the refusal threshold went from 0.9 to 0.5",
    doc(
        [entry(SUITE_PATH, "eval-suite", suite(refusal=0.5), EVAL_LINES, base=suite())],
        changed=[{"status": "modified", "path": SUITE_PATH}],
    ),
    ["eval/threshold-lowered"],
)
case(
    "eval-threshold-changed",
    "the refusal threshold went from 0.9 to 0.95",
    doc(
        [entry(SUITE_PATH, "eval-suite", suite(refusal=0.95), EVAL_LINES, base=suite())],
        changed=[{"status": "modified", "path": SUITE_PATH}],
    ),
    ["eval/threshold-changed"],
)
changed_items = suite()
changed_items["items"] = {"count": 21, "digest": "sha256:" + "2" * 64}
case(
    "eval-items-changed",
    "the sealed items of a published suite changed",
    doc(
        [entry(SUITE_PATH, "eval-suite", changed_items, EVAL_LINES, base=suite())],
        changed=[{"status": "modified", "path": SUITE_PATH}],
    ),
    ["eval/items-changed"],
)
AD_PATH = "adapters/bot/1.0.0.yaml"
case(
    "clean-adapter",
    "a pinned safetensors adapter of an existing dataset passes",
    doc([entry(AD_PATH, "adapter", adapter(), AD_LINES), PARENT]),
    [],
)
case(
    "adapter-base-model-unpinned",
    "the base model revision is a branch name",
    doc(
        [
            entry(AD_PATH, "adapter", adapter(base_model={"id": "org/base", "revision": "main"}), AD_LINES),
            PARENT,
        ]
    ),
    ["adapter/base-model-unpinned"],
)
case(
    "adapter-dataset-missing",
    "the adapter references a dataset version that does not exist",
    doc([entry(AD_PATH, "adapter", adapter(datasets=["chats@9.9.9"]), AD_LINES), PARENT]),
    ["adapter/dataset-missing"],
)
case(
    "adapter-unsafe-weight-format",
    "the weights are a pickle .bin file",
    doc(
        [
            entry(
                AD_PATH,
                "adapter",
                adapter(files=[{"path": "artifacts/bot/1.0.0/adapter_model.bin", "sha256": SHA, "bytes": 8}]),
                AD_LINES,
            ),
            PARENT,
        ]
    ),
    ["adapter/unsafe-weight-format"],
)
case(
    "adapter-training-config-missing",
    "the training config digest is not a digest",
    doc(
        [
            entry(
                AD_PATH, "adapter", adapter(training={"config_digest": "todo", "trained_by": "bob"}), AD_LINES
            ),
            PARENT,
        ]
    ),
    ["adapter/training-config-missing"],
)
case(
    "change-control-plane",
    "a policy file and ftpolicy.yaml changed",
    doc(
        [],
        changed=[
            {"status": "added", "path": "policies/acme.rego"},
            {"status": "modified", "path": "ftpolicy.yaml"},
        ],
    ),
    ["change/control-plane", "change/control-plane"],
)
case(
    "manifest-invalid",
    "a referenced manifest could not be verified",
    doc(
        [],
        changed=[],
        problems=[
            {
                "path": "datasets/chats/1.0.0.yaml",
                "message": "missing required field 'sources'",
                "code": "manifest.schema",
                "line": 3,
            }
        ],
    ),
    ["manifest/invalid"],
)
waived_config = copy.deepcopy(CONFIG)
waived_config["exceptions"] = [
    {
        "rule": "dataset/licence-not-allowed",
        "owner": "dave",
        "reason": "legal approved",
        "expires": "2026-12-31",
    }
]
case(
    "waiver-applies",
    "a valid waiver switches the licence violation off",
    {
        **ds_case(
            sources=[
                {"name": "web", "kind": "public", "uri": "https://web.example", "licence": "CC-BY-NC-4.0"}
            ]
        ),
        "config": waived_config,
    },
    [],
)
expired_config = copy.deepcopy(waived_config)
expired_config["exceptions"][0]["expires"] = "2026-11-27"
case(
    "waiver-expired",
    "an expired waiver no longer applies and is reported",
    {
        **ds_case(
            sources=[
                {"name": "web", "kind": "public", "uri": "https://web.example", "licence": "CC-BY-NC-4.0"}
            ]
        ),
        "config": expired_config,
    },
    ["dataset/licence-not-allowed"],
    ["main/waiver-expired"],
)
invalid_config = copy.deepcopy(CONFIG)
invalid_config["exceptions"] = [
    {"rule": "dataset/licence-not-allowed", "reason": "no owner", "expires": "2027-01-01"}
]
case(
    "waiver-invalid",
    "a waiver without an owner is refused",
    {**ds_case(), "config": invalid_config},
    ["main/waiver-invalid"],
)
cp_config = copy.deepcopy(CONFIG)
cp_config["exceptions"] = [
    {"rule": "change/control-plane", "owner": "mallory", "reason": "trust me", "expires": "2099-01-01"}
]
case(
    "waiver-not-allowed",
    "control-plane changes cannot be waived",
    doc([], changed=[{"status": "modified", "path": "ftpolicy.yaml"}], config=cp_config),
    ["change/control-plane"],
    ["main/waiver-not-allowed"],
)


# Promotion (package ftpolicy.promotion): the verified facts of adapter bot@1.0.0's chain.
AD_SUBJECT, DS_SUBJECT = "adapter:bot@1.0.0", "dataset:chats@1.0.0"
AD_DIGEST = "sha256:" + "1" * 64
EV = "attestations/adapter/bot/1.0.0/evidence"


def att(subject: str, step: str, who: str, teams: list[str], data: Any = None) -> dict[str, Any]:
    folder = "attestations/" + subject.replace(":", "/").replace("@", "/")
    return {
        "subject": subject,
        "step": step,
        "verified": True,
        "identity": who,
        "teams": teams,
        "signer": "f" * 64,
        "time": "2026-11-27T10:00:00Z",
        "link": f"{folder}/{step}.ffffffff.link",
        "evidence": None
        if data is None
        else {"path": f"{folder}/evidence/{step}.json", "sha256": SHA, "data": data},
    }


def eval_doc(score: float = 0.97, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "schema_version": 1,
        "kind": "evidence-eval",
        "subject": AD_SUBJECT,
        "adapter": {"ref": "bot@1.0.0", "digest": AD_DIGEST},
        "suite": {"name": "holdout", "version": "1.0"},
        "evaluated_at": "2026-11-27T10:00:00Z",
        "results": [
            {"category": c, "score": score}
            for c in ("prompt-injection", "secret-leakage", "unsafe-code", "refusal")
        ],
    }
    data["results"][3]["over_refusal"] = 0.05
    data.update(changes)
    return data


def honest_chain() -> list[dict[str, Any]]:
    review = {"decision": "approve"}
    return [
        att(DS_SUBJECT, "scan", "scanbot", ["scanners"], {"counts": {"by_severity": {"low": 1}}}),
        att(DS_SUBJECT, "dataset-review", "rita", ["data-review"], review),
        att(DS_SUBJECT, "dataset-review", "rob", ["data-review"], review),
        att(AD_SUBJECT, "train", "bob", ["ml-training"]),
        att(AD_SUBJECT, "adapter-scan", "scanbot", ["scanners"], {"findings": []}),
        att(AD_SUBJECT, "security-eval", "eve", ["security"], eval_doc()),
        att(AD_SUBJECT, "quality-eval", "quinn", ["ml-quality"], eval_doc()),
        att(AD_SUBJECT, "security-approval", "eve", ["security"], {"decision": "approve"}),
    ]


def promo_case(
    atts: list[dict[str, Any]] | None = None, *, verified: bool = True, failures: list[Any] | None = None
) -> dict[str, Any]:
    config = copy.deepcopy(CONFIG)
    config["datasets"]["min_reviewers"] = 2
    config["evals"]["max_age_days"] = 30
    chain = {
        "subject": AD_SUBJECT,
        "dataset": DS_SUBJECT,
        "manifest": "adapters/bot/1.0.0.yaml",
        "verified": verified,
        "adapter_digest": AD_DIGEST,
        "failures": failures or [],
    }
    manifests = [
        entry("adapters/bot/1.0.0.yaml", "adapter", adapter(), AD_LINES, subject=False),
        PARENT,
        entry("evals/holdout/1.0.yaml", "eval-suite", suite(secret_leakage=0.95), EVAL_LINES, subject=False),
    ]
    document = doc(
        manifests,
        changed=[],
        config=config,
        attestations=(honest_chain() if atts is None else atts) if verified else [],
        chains=[chain],
    )
    document["mode"] = "verify"
    return document


def replace_step(subject: str, step: str, *new: dict[str, Any]) -> list[dict[str, Any]]:
    kept = [a for a in honest_chain() if (a["subject"], a["step"]) != (subject, step)]
    return [*kept, *new]


case("promotion-clean", "an honest, verified chain promotes", promo_case(), [])
case(
    "promotion-chain-unverified",
    "a chain that failed verification contributes no facts and is denied with its reason",
    promo_case(verified=False, failures=[{"code": "artifact-mismatch", "message": "part-1 changed"}]),
    ["promotion/chain-unverified"],
)
case(
    "promotion-approval-missing",
    "the security approval rejects",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-approval",
            att(AD_SUBJECT, "security-approval", "eve", ["security"], {"decision": "reject"}),
        )
    ),
    ["promotion/approval-missing"],
)
case(
    "promotion-approver-not-security",
    "a publisher signs the security approval",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-approval",
            att(AD_SUBJECT, "security-approval", "paul", ["publishers"], {"decision": "approve"}),
        )
    ),
    ["promotion/approver-not-security"],
)
case(
    "promotion-separation-of-duties",
    "the trainer (also in security) signs the security approval",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-approval",
            att(AD_SUBJECT, "security-approval", "bob", ["ml-training", "security"], {"decision": "approve"}),
        )
    ),
    ["promotion/separation-of-duties"],
)
case(
    "promotion-eval-by-trainer",
    "the trainer (also in security) signs the security eval of his own adapter",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-eval",
            att(AD_SUBJECT, "security-eval", "bob", ["ml-training", "security"], eval_doc()),
        )
    ),
    ["promotion/eval-by-trainer"],
)
case(
    "promotion-review-insufficient",
    "one reviewer where two are required",
    promo_case(
        replace_step(
            DS_SUBJECT,
            "dataset-review",
            att(DS_SUBJECT, "dataset-review", "rita", ["data-review"], {"decision": "approve"}),
        )
    ),
    ["promotion/review-insufficient"],
)
case(
    "promotion-reviewer-is-author",
    "the dataset's author is one of the two reviewers",
    promo_case(
        replace_step(
            DS_SUBJECT,
            "dataset-review",
            att(DS_SUBJECT, "dataset-review", "rita", ["data-review"], {"decision": "approve"}),
            att(DS_SUBJECT, "dataset-review", "alice", ["data-review"], {"decision": "approve"}),
        )
    ),
    ["promotion/review-insufficient", "promotion/reviewer-is-author"],
)
three = eval_doc()
three["results"] = three["results"][:3]
case(
    "promotion-eval-missing",
    "the security eval has no refusal result",
    promo_case(
        replace_step(
            AD_SUBJECT, "security-eval", att(AD_SUBJECT, "security-eval", "eve", ["security"], three)
        )
    ),
    ["promotion/eval-missing"],
)
case(
    "promotion-eval-suite-unregistered",
    "the security eval ran a suite version that is not registered",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-eval",
            att(
                AD_SUBJECT,
                "security-eval",
                "eve",
                ["security"],
                eval_doc(suite={"name": "holdout", "version": "0.9"}),
            ),
        )
    ),
    ["promotion/eval-suite-unregistered"],
)
case(
    "promotion-eval-below-threshold",
    "secret-leakage 0.92 is below the suite's 0.95",
    promo_case(
        replace_step(
            AD_SUBJECT, "security-eval", att(AD_SUBJECT, "security-eval", "eve", ["security"], eval_doc(0.92))
        )
    ),
    ["promotion/eval-below-threshold"],
)
case(
    "promotion-eval-over-refusal",
    "the adapter refuses 30% of benign look-alikes; the suite allows 10%",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-eval",
            att(
                AD_SUBJECT,
                "security-eval",
                "eve",
                ["security"],
                eval_doc(
                    results=[
                        {"category": c, "score": 0.97}
                        for c in ("prompt-injection", "secret-leakage", "unsafe-code")
                    ]
                    + [{"category": "refusal", "score": 0.97, "over_refusal": 0.3}]
                ),
            ),
        )
    ),
    ["promotion/eval-over-refusal"],
)
case(
    "promotion-eval-suite-digest-mismatch",
    "the security eval ran items whose digest is not the sealed one",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-eval",
            att(
                AD_SUBJECT,
                "security-eval",
                "eve",
                ["security"],
                eval_doc(suite={"name": "holdout", "version": "1.0", "digest": "sha256:" + "4" * 64}),
            ),
        )
    ),
    ["promotion/eval-suite-digest-mismatch"],
)
case(
    "promotion-eval-adapter-mismatch",
    "the security eval is about another adapter digest",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-eval",
            att(
                AD_SUBJECT,
                "security-eval",
                "eve",
                ["security"],
                eval_doc(adapter={"ref": "bot@1.0.0", "digest": "sha256:" + "2" * 64}),
            ),
        )
    ),
    ["promotion/eval-adapter-mismatch"],
)
case(
    "promotion-eval-stale",
    "the security eval is 58 days old, the maximum is 30",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "security-eval",
            att(
                AD_SUBJECT,
                "security-eval",
                "eve",
                ["security"],
                eval_doc(evaluated_at="2026-10-01T10:00:00Z"),
            ),
        )
    ),
    ["promotion/eval-stale"],
)
pickle_scan = {"findings": [{"rule": "adapter/pickle", "severity": "high", "message": "pickle opcodes"}]}
case(
    "promotion-scan-high-finding",
    "the adapter scan found a high-severity problem",
    promo_case(
        replace_step(
            AD_SUBJECT, "adapter-scan", att(AD_SUBJECT, "adapter-scan", "scanbot", ["scanners"], pickle_scan)
        )
    ),
    ["promotion/scan-high-finding"],
)
case(
    "promotion-scan-evidence-incomplete",
    "the adapter-scan evidence states no findings list, so it cannot show a clean scan",
    promo_case(
        replace_step(
            AD_SUBJECT,
            "adapter-scan",
            att(AD_SUBJECT, "adapter-scan", "scanbot", ["scanners"], {"status": "pass"}),
        )
    ),
    ["promotion/scan-evidence-incomplete"],
)
waiving = {
    "decision": "approve",
    "waivers": [{"rule": "promotion/scan-high-finding", "reason": "false positive"}],
}
case(
    "promotion-scan-waived-by-security",
    "the security approval waives the adapter scan finding",
    promo_case(
        [
            a
            for a in replace_step(
                AD_SUBJECT,
                "adapter-scan",
                att(AD_SUBJECT, "adapter-scan", "scanbot", ["scanners"], pickle_scan),
            )
            if a["step"] != "security-approval"
        ]
        + [att(AD_SUBJECT, "security-approval", "eve", ["security"], waiving)]
    ),
    [],
)


def main() -> None:
    for old in HERE.glob("cases/*.json"):
        old.unlink()
    for name, (description, document, deny, warn) in sorted(CASES.items()):
        body = {"description": description, "input": document, "expected": {"deny": deny, "warn": warn}}
        (HERE / "cases" / f"{name}.json").write_text(json.dumps(body, indent=1, sort_keys=True) + "\n")
    print(f"wrote {len(CASES)} cases to {HERE / 'cases'}")


if __name__ == "__main__":
    main()
