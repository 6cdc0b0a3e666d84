"""A check that cannot decide never passes: each cause gives a non-zero exit and names itself."""

from __future__ import annotations

import socket
from pathlib import Path

from check_support import edit
from helpers.gitrepo import ScratchRepo


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _library_copy(tmp_path: Path, main_rego: str | None = None) -> Path:
    """A copy of the bundled policy library, optionally with ftpolicy.main replaced."""
    import shutil

    from ftpolicy.resources import policies_dir

    lib = tmp_path / "lib"
    shutil.copytree(policies_dir(), lib, ignore=shutil.ignore_patterns("*_test.rego"))
    if main_rego is not None:
        (lib / "main.rego").write_text(main_rego)
    return lib


def test_engine_unreachable(gov: ScratchRepo, ftpolicy) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    r = ftpolicy("check", "--repo", str(gov.path), "--engine", "opa", "--opa-url", url)
    assert r.code == 3
    assert url.split("//")[1] in r.err or "reach" in r.err
    assert "error:" in r.err
    assert "Traceback" not in r.err


def test_engine_unreachable_from_environment(gov: ScratchRepo, ftpolicy, monkeypatch) -> None:
    monkeypatch.setenv("FTPOLICY_OPA_URL", f"http://127.0.0.1:{_free_port()}")
    r = ftpolicy("check", "--repo", str(gov.path), "--engine", "opa")
    assert r.code == 3


def test_repository_policy_does_not_compile(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("broken policy", {"policies/acme.rego": "package ftpolicy.acme\n\ndeny contains x if {\n"})
    for args in ([], ["--base", "main"]):
        r = ftpolicy("check", "--repo", str(gov.path), *args)
        assert r.code == 3, r.out + r.err
        assert "policies/acme.rego" in r.err


def test_v0_policy_refused(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("old syntax", {"policies/acme.rego": 'package ftpolicy.acme\n\ndeny[msg] { msg := "x" }\n'})
    r = ftpolicy("check", "--repo", str(gov.path))
    assert r.code == 3
    assert "policies/acme.rego" in r.err


def test_undefined_decision(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    lib = _library_copy(tmp_path, "package ftpolicy.main\n\nimport rego.v1\n\ndecision := 1 if false\n")
    r = ftpolicy("check", "--repo", str(gov.path), "--policies", str(lib))
    assert r.code == 3
    assert "undefined" in r.err


def test_malformed_decision(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    lib = _library_copy(tmp_path, 'package ftpolicy.main\n\nimport rego.v1\n\ndecision := {"allow": true}\n')
    r = ftpolicy("check", "--repo", str(gov.path), "--policies", str(lib))
    assert r.code == 3
    assert "malformed" in r.err


def test_evaluation_error(gov: ScratchRepo, ftpolicy) -> None:
    policy = (
        "package ftpolicy.acme\n\nimport rego.v1\n\n"
        'deny contains {"rule": "acme/ratio", "msg": sprintf("%v", [count(input.manifests) / 0])} if true\n'
    )
    gov.commit("divide", {"policies/acme.rego": policy})
    r = ftpolicy("check", "--repo", str(gov.path))
    assert r.code == 3, r.out + r.err
    assert "error:" in r.err


def test_conflicting_values_are_an_evaluation_error(gov: ScratchRepo, ftpolicy) -> None:
    policy = (
        "package ftpolicy.acme\n\nimport rego.v1\n\n"
        "limit := 1 if true\n\nlimit := 2 if true\n\n"
        'deny contains {"rule": "acme/limit", "msg": "over"} if limit > 5\n'
    )
    gov.commit("conflict", {"policies/acme.rego": policy})
    r = ftpolicy("check", "--repo", str(gov.path))
    assert r.code == 3, r.out + r.err


def test_missing_policies_folder_is_usage_error(gov: ScratchRepo, ftpolicy, tmp_path: Path) -> None:
    r = ftpolicy("check", "--repo", str(gov.path), "--policies", str(tmp_path / "nope"))
    assert r.code == 2


def test_unknown_base_revision(gov: ScratchRepo, ftpolicy) -> None:
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "no-such-branch")
    assert r.code == 2
    assert "no-such-branch" in r.err


def test_missing_config_at_head(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("drop config", {"ftpolicy.yaml": None})
    (gov.path / "ftpolicy.yaml").write_text("schema_version: 1\nkind: config\nproject: x\n")
    r = ftpolicy("check", "--repo", str(gov.path))
    assert r.code == 2
    assert "ftpolicy.yaml" in r.err


def test_invalid_config_at_head(gov: ScratchRepo, ftpolicy) -> None:
    gov.commit("typo", {"ftpolicy.yaml": edit(gov, "ftpolicy.yaml", "datasets:\n", "datasetz:\n")})
    r = ftpolicy("check", "--repo", str(gov.path), "--base", "main")
    assert r.code == 2
    assert "ftpolicy.yaml" in r.err


def test_reserved_package_refused(gov: ScratchRepo, ftpolicy) -> None:
    # Extending a default package could switch a check off (e.g. make lib.dataset_refs say yes).
    policy = 'package ftpolicy.lib\n\nimport rego.v1\n\ndataset_refs contains "support-tickets@9.9.9"\n'
    gov.commit("sneaky", {"policies/lib_extra.rego": policy})
    r = ftpolicy("check", "--repo", str(gov.path))
    assert r.code == 2
    assert "ftpolicy.lib" in r.err


def test_invalid_check_time_is_usage_error(gov: ScratchRepo, ftpolicy, monkeypatch) -> None:
    monkeypatch.setenv("FTPOLICY_NOW", "tomorrow")
    r = ftpolicy("check", "--repo", str(gov.path))
    assert r.code == 2
    assert "FTPOLICY_NOW" in r.err
