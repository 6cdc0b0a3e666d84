"""The verified facts of an honest chain, as the policy engine will receive them."""

from __future__ import annotations

from ftpolicy.attest import verify_chain
from ftpolicy.attest.evidence import adapter_digest

from .conftest import ADAPTER, ADAPTER_FILES, DATASET, SHARDS, TRAIN_CONFIG, Chain


def test_honest_chain_verifies(chain: Chain) -> None:
    facts = verify_chain(chain.root, ADAPTER)
    assert facts.failures == [], facts.failures
    assert facts.in_toto == "passed"
    assert facts.artifacts_checked == len(ADAPTER_FILES) + len(SHARDS) + 1  # + the training config


def test_policy_input_shape(chain: Chain) -> None:
    facts = verify_chain(chain.root, ADAPTER)
    doc = facts.to_policy_input()
    assert set(doc) == {str(ADAPTER), str(DATASET)}
    adapter, dataset = doc[str(ADAPTER)], doc[str(DATASET)]
    assert adapter["verified"] is True and dataset["verified"] is True
    assert list(dataset["steps"]) == ["ingest", "preprocess", "scan", "dataset-review"]
    reviews = dataset["steps"]["dataset-review"]
    assert sorted(r["identity"] for r in reviews) == ["rita", "rob"]
    assert reviews[0]["teams"] == ["data-review"] and reviews[0]["evidence"]["data"]["decision"] == "approve"
    train = adapter["steps"]["train"][0]
    assert train["identity"] == "tom" and train["time"].endswith("Z")
    assert set(train["materials"]) >= {*SHARDS, TRAIN_CONFIG}
    assert set(train["products"]) == set(ADAPTER_FILES)
    assert adapter["adapter_files"] == train["products"]
    assert adapter["adapter_digest"] == adapter_digest(train["products"])
    ev = adapter["steps"]["security-eval"][0]["evidence"]
    assert ev["path"] == f"{ADAPTER.evidence_dir}/security-eval.json"
    assert ev["data"]["adapter"]["digest"] == adapter["adapter_digest"]
    assert len(ev["data"]["results"]) == 4


def test_failed_facts_are_marked_unverified(chain: Chain) -> None:
    (chain.root / SHARDS[0]).write_text("tampered\n")
    doc = verify_chain(chain.root, ADAPTER).to_policy_input()
    assert doc[str(ADAPTER)]["verified"] is False
