"""A check against an OPA server that already holds the policy set is one request, no upload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from ftpolicy.policy.engines import UndefinedResult, get_engine, load_policy_set

MODULE = 'package steady\n\nimport rego.v1\n\ndecision := {"n": input.n, "ok": true}\n'


def _requests_of(engine: Any) -> list[tuple[str, str]]:
    """Record (method, path) of every HTTP request the engine's session makes (a real hook)."""
    seen: list[tuple[str, str]] = []
    session = engine._client._session
    session.hooks["response"].append(lambda r, *a, **k: seen.append((r.request.method, r.request.path_url)))
    return seen


@pytest.mark.opa
def test_second_process_makes_one_query_and_no_upload(opa_server: str, tmp_path: Path) -> None:
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "steady.rego").write_text(MODULE)
    ps = load_policy_set([tmp_path / "p"])
    first = get_engine("opa", opa_url=opa_server)
    first_requests = _requests_of(first)
    assert first.query(ps, "data.steady.decision", {"n": 1}) == {"n": 1, "ok": True}
    assert any(m == "PUT" for m, _ in first_requests)  # the first engine uploaded the set
    first.close()

    second = get_engine("opa", opa_url=opa_server)  # a new process, as each `ftpolicy check` is
    seen = _requests_of(second)
    assert second.query(ps, "data.steady.decision", {"n": 2}) == {"n": 2, "ok": True}
    assert second.version().startswith("OPA ")
    assert len(seen) == 1, seen
    method, path = seen[0]
    assert method == "POST" and path.startswith("/v1/data/ftpolicy_sync/")
    second.close()


@pytest.mark.opa
def test_undefined_is_still_undefined_and_a_new_set_is_uploaded(opa_server: str, tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "steady.rego").write_text(MODULE)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "steady.rego").write_text(MODULE.replace('"ok": true', '"ok": false'))
    one, two = load_policy_set([tmp_path / "a"]), load_policy_set([tmp_path / "b"])
    assert get_engine("opa", opa_url=opa_server).query(one, "data.steady.decision", {"n": 1})["ok"] is True
    eng = get_engine("opa", opa_url=opa_server)
    assert eng.query(two, "data.steady.decision", {"n": 1})["ok"] is False  # not the other set's answer
    with pytest.raises(UndefinedResult):
        get_engine("opa", opa_url=opa_server).query(two, "data.steady.nothing", {})
    assert get_engine("opa", opa_url=opa_server).query(one, "data.steady.decision", {"n": 3})["ok"] is True
