"""``audit replay`` at several revisions of a real 15-commit history (see conftest)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.gitrepo import init_repo

from audit.conftest import History, run_cli
from ftpolicy.audit.replay import NOT_IN_GIT, render, replay

WEIGHTS = "artifacts/adapters/bot/1.0/adapter_model.safetensors"


def _codes(result_adapter: object) -> set[str]:
    return {f["code"] for f in result_adapter.failures}  # type: ignore[attr-defined]


def test_nothing_promoted_yet(history: History) -> None:
    result = replay(history.root, history.c["approved"])
    assert result.ok and result.adapters == [] and result.rev == history.c["approved"]


def test_promoted_version_verifies_and_later_policies_would_deny_it(history: History) -> None:
    result = replay(history.root, history.c["promoted-production"], policies_from="HEAD")
    assert result.ok
    [bot] = result.adapters
    assert (bot.ref, bot.channels) == ("bot@1.0", ("production", "staging"))
    assert bot.failures == [] and bot.policy is not None and bot.policy["allow"] is True
    steps = {s["name"]: s["identities"] for s in bot.chain["steps"]}
    assert steps["promote"] == ["paul"] and steps["dataset-review"] == ["rita", "rob"]
    assert bot.not_rehashed == [f"{WEIGHTS}: {NOT_IN_GIT}"]  # weights are .gitignored
    assert bot.drift is not None and bot.drift["rev"] == history.repo.rev("HEAD")
    assert [v["rule"] for v in bot.drift["newly_denied"]] == ["promotion/review-insufficient"]
    assert "3 required" in bot.drift["newly_denied"][0]["msg"]


def test_staging_only_verifies_up_to_approval(history: History) -> None:
    [bot] = replay(history.root, history.c["promoted-staging"]).adapters
    assert bot.ok and bot.channels == ("staging",)
    assert "promote" not in {s["name"] for s in bot.chain["steps"]}


def test_tightened_policy_denies_at_its_own_revision(history: History) -> None:
    result = replay(history.root, history.c["policy-tightened"])
    [bot] = result.adapters
    assert not result.ok and bot.failures == []
    assert bot.policy is not None and bot.policy["allow"] is False
    assert [v["rule"] for v in bot.policy["deny"]] == ["promotion/review-insufficient"]


def test_rollback_and_second_version(history: History) -> None:
    at_11 = replay(history.root, history.c["promoted-1.1"])
    assert [(a.ref, a.channels) for a in at_11.adapters] == [
        ("bot@1.0", ("production",)),
        ("bot@1.1", ("staging",)),
    ]
    after = replay(history.root, history.c["rollback"])
    assert [(a.ref, a.channels) for a in after.adapters] == [("bot@1.0", ("production", "staging"))]
    only = replay(history.root, history.c["promoted-1.1"], adapter="bot@1.1")
    assert [a.ref for a in only.adapters] == ["bot@1.1"]
    assert replay(history.root, history.c["promoted-1.1"], adapter="other").adapters == []


def test_key_revoked_later_keeps_earlier_signatures(history: History) -> None:
    [bot] = replay(history.root, history.c["key-revoked"]).adapters
    assert bot.failures == []  # tom signed before his key was revoked: validity at signing time


def test_forged_attestation_is_rejected_but_the_past_is_not_rewritten(history: History) -> None:
    [forged] = replay(history.root, history.c["forged"]).adapters
    assert "key-revoked" in _codes(forged)
    revoked = [f for f in forged.failures if f["code"] == "key-revoked"]
    assert revoked[0]["path"].startswith("attestations/adapter/bot/1.0/train.")
    assert "laptop stolen" in revoked[0]["message"]
    assert forged.policy is not None and forged.policy["allow"] is False
    # replaying the promotion revision ignores today's (forged) tree
    assert replay(history.root, history.c["promoted-production"]).ok


def test_local_artifacts_are_rehashed_when_given(history: History, tmp_path: Path) -> None:
    [bot] = replay(history.root, history.c["promoted-production"], artifacts=history.root).adapters
    assert bot.ok and bot.not_rehashed == [] and bot.chain["bytes_hashed"] > 0
    local = tmp_path / "artifacts-copy"
    shutil.copytree(history.root / "artifacts", local / "artifacts")
    (local / WEIGHTS).write_bytes(b"swapped weights")
    [bad] = replay(history.root, history.c["promoted-production"], artifacts=local).adapters
    assert "artifact-mismatch" in _codes(bad)


def test_bare_clone_deterministic_and_work_tree_untouched(history: History, tmp_path: Path) -> None:
    status = history.repo.git("status", "--porcelain", "--ignored")
    bare = tmp_path / "bare.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(history.root), str(bare)], check=True)
    rev = history.c["forged"]
    one = render(replay(history.root, rev, policies_from="HEAD"), "json")
    two = render(replay(bare, rev, policies_from="HEAD"), "json")
    assert one == two
    assert "ftpolicy-replay-" not in one and str(history.root) not in one
    assert json.loads(one)["now"] == history.repo.git("show", "-s", "--format=%cI", rev).strip().replace(
        "+00:00", "Z"
    )
    assert history.repo.git("status", "--porcelain", "--ignored") == status


def test_cli_formats_and_exit_codes(history: History, capsys: pytest.CaptureFixture[str]) -> None:
    base = ["audit", "replay", "--repo", str(history.root)]
    code, out, _ = run_cli(capsys, *base, "--rev", history.c["promoted-production"], "--format", "json")
    assert code == 0, out
    assert json.loads(out)["adapters"][0]["adapter"] == "bot@1.0"
    code, out, _ = run_cli(capsys, *base, "--rev", history.c["forged"], "--format", "sarif")
    assert code == 1
    rules = {r["ruleId"] for r in json.loads(out)["runs"][0]["results"]}
    assert "verify/key-revoked" in rules
    code, out, _ = run_cli(capsys, *base, "--rev", history.c["promoted-staging"], "--policies-from", "HEAD")
    assert code == 0 and "would now be denied" in out
    code, _, err = run_cli(capsys, *base, "--rev", "no-such-rev")
    assert code == 2 and "no-such-rev" in err


def test_opa_engine_agrees_with_embedded(history: History, opa_server: str) -> None:
    rev = history.c["promoted-production"]
    embedded = replay(history.root, rev, policies_from="HEAD")
    opa = replay(history.root, rev, policies_from="HEAD", engine="opa", opa_url=opa_server)
    assert [a.to_dict() for a in opa.adapters] == [a.to_dict() for a in embedded.adapters]


def test_revision_before_any_configuration(tmp_path: Path) -> None:
    repo = init_repo(tmp_path / "plain")
    first = repo.commit("readme", {"README.md": "nothing governed yet\n"})
    result = replay(repo.path, first, policies_from="HEAD")
    assert result.ok and result.adapters == [] and result.problems == []
