"""OPA bundles: deterministic bytes, a manifest with the Git revision, and real OPA loads them."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from ftpolicy.cli.main import cli
from ftpolicy.errors import UsageError
from ftpolicy.policy.bundle import build_bundle, git_revision, write_bundle

LIBRARY = Path(__file__).parent / "fixtures" / "library"


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return {m.name: m for m in tar.getmembers()}


def _read(data: bytes, name: str) -> bytes:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        member = tar.extractfile(name)
        assert member is not None
        return member.read()


def test_bundle_bytes_are_deterministic_and_complete() -> None:
    first, info = build_bundle([LIBRARY], revision="r1")
    second, _ = build_bundle([LIBRARY], revision="r1")
    assert first == second
    members = _members(first)
    assert list(members) == sorted(members)
    assert set(members) == {".manifest", "data.json", "dataset.rego", "main.rego"}  # tests excluded
    assert all(m.mtime == 0 and m.uid == 0 and m.mode == 0o644 for m in members.values())
    manifest = json.loads(_read(first, ".manifest"))
    assert manifest["revision"] == "r1"
    assert manifest["roots"] == ["fixture", "ftpolicy"]
    assert manifest["rego_version"] == 1
    assert manifest["metadata"]["ftpolicy_policy_digest"] == info.policy_digest
    assert json.loads(_read(first, "data.json")) == {
        "fixture": json.loads((LIBRARY / "fixture/data.json").read_text())
    }
    assert _read(first, "dataset.rego") == (LIBRARY / "dataset.rego").read_bytes()
    assert build_bundle([LIBRARY], revision="r2")[0] != first


@pytest.mark.opa
def test_real_opa_loads_the_bundle_and_answers(opa_bin: str, tmp_path: Path) -> None:
    data, _ = build_bundle([LIBRARY], revision="abc")
    bundle = tmp_path / "bundle.tar.gz"
    bundle.write_bytes(data)
    case = json.loads((LIBRARY.parent / "cases" / "licence-and-provenance.json").read_text())
    (tmp_path / "input.json").write_text(json.dumps(case["input"]))
    proc = subprocess.run(
        [
            opa_bin,
            "eval",
            "-f",
            "json",
            "-b",
            str(bundle),
            "-i",
            str(tmp_path / "input.json"),
            "data.ftpolicy",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    decision = json.loads(proc.stdout)["result"][0]["expressions"][0]["value"]["main"]["decision"]
    assert {v["rule"] for v in decision["deny"]} == {"dataset/licence", "dataset/provenance"}
    inspect = subprocess.run(
        [opa_bin, "inspect", "-f", "json", str(bundle)], capture_output=True, text=True, check=True
    )
    assert json.loads(inspect.stdout)["manifest"]["revision"] == "abc"


def _git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()


def test_revision_is_the_commit_and_dirty_policies_are_refused(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "policies").mkdir(parents=True)
    (repo / "policies" / "a.rego").write_text("package a\n\nimport rego.v1\n\nx := 1\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "policies")
    head = _git(repo, "rev-parse", "HEAD")
    assert git_revision([repo / "policies"]) == head
    info = write_bundle([repo / "policies"], tmp_path / "out" / "b.tar.gz")
    assert info.revision == head and info.sha256.startswith("sha256:")
    assert json.loads(_read((tmp_path / "out" / "b.tar.gz").read_bytes(), ".manifest"))["revision"] == head
    (repo / "policies" / "a.rego").write_text("package a\n\nimport rego.v1\n\nx := 2\n")
    with pytest.raises(UsageError) as info_dirty:
        git_revision([repo / "policies"])
    assert "uncommitted" in info_dirty.value.message
    assert write_bundle([repo / "policies"], tmp_path / "c.tar.gz", revision="v9").revision == "v9"
    with pytest.raises(UsageError):
        git_revision([tmp_path / "out"])  # not in a repository


def test_policy_bundle_command(tmp_path: Path) -> None:
    out = tmp_path / "b.tar.gz"
    result = CliRunner().invoke(
        cli,
        ["policy", "bundle", str(LIBRARY), "--output", str(out), "--revision", "rev-7"],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert json.loads(_read(out.read_bytes(), ".manifest"))["revision"] == "rev-7"
    assert "2 modules" in result.output
