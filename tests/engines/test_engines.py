"""Both policy engines on small policies: same answers, and every failure fails closed.

The ``opa`` cases run against a real ``opa run --server`` (the session fixture ``opa_server``).
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from ftpolicy.errors import ConfigError, EvaluationError, ExitCode, UsageError
from ftpolicy.policy.engines import PolicyEngine, PolicySet, UndefinedResult, get_engine, load_policy_set

ENGINES = ["embedded", pytest.param("opa", marks=pytest.mark.opa)]


def make_engine(request: pytest.FixtureRequest, name: str, **kwargs: object) -> PolicyEngine:
    if name == "opa":
        return get_engine("opa", opa_url=request.getfixturevalue("opa_server"), **kwargs)  # type: ignore[arg-type]
    return get_engine("embedded", **kwargs)  # type: ignore[arg-type]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> Iterator[PolicyEngine]:
    eng = make_engine(request, request.param)
    yield eng
    eng.close()


def write_policies(root: Path, files: dict[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_bytes(content.encode("utf-8"))
    return root


def policy_set(tmp_path: Path, files: dict[str, str | bytes], *, include_tests: bool = False) -> PolicySet:
    return load_policy_set([write_policies(tmp_path / "policies", files)], include_tests=include_tests)


DENY = """package t

import rego.v1

deny contains msg if {
	some m in input.manifests
	m.size > data.limits.max
	msg := sprintf("%s is too big (%d > %d)", [m.name, m.size, data.limits.max])
}

decision := {"deny": deny, "allow": count(deny) == 0}

nothing if not input
"""


# -- answers ---------------------------------------------------------------------------------


def test_decision_with_data_document(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"t.rego": DENY, "limits/data.json": '{"max": 3}'})
    inp = {"manifests": [{"name": "a", "size": 5}, {"name": "b", "size": 1}]}
    assert engine.query(ps, "data.t.decision", inp) == {"deny": ["a is too big (5 > 3)"], "allow": False}
    assert engine.query(ps, "data.t.decision", {"manifests": []}) == {"deny": [], "allow": True}
    assert engine.query(ps, "data.limits", inp) == {"max": 3}


def test_no_input_document(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"t.rego": DENY, "limits/data.json": '{"max": 3}'})
    assert engine.query(ps, "data.t.nothing", None) is True
    with pytest.raises(UndefinedResult):
        engine.query(ps, "data.t.nothing", {})


def test_strings_round_trip(engine: PolicyEngine, tmp_path: Path) -> None:
    src = "package s\n\nimport rego.v1\n\n"
    src += 'echo := [input.s, sprintf("<%s>", [input.s]), input.s == "q\\"b\\\\s é😀"]\n'
    ps = policy_set(tmp_path, {"s.rego": src})
    value = 'q"b\\s é😀'
    assert engine.query(ps, "data.s.echo", {"s": value}) == [value, f"<{value}>", True]


def test_version(engine: PolicyEngine) -> None:
    assert engine.version().split()[0] in ("regopy", "OPA")


# -- fail closed -----------------------------------------------------------------------------


def test_undefined_is_an_error(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"t.rego": DENY, "limits/data.json": '{"max": 3}'})
    with pytest.raises(UndefinedResult) as info:
        engine.query(ps, "data.t.no_such_rule", {"manifests": []})
    assert info.value.exit_code == ExitCode.EVALUATION
    assert "data.t.no_such_rule is undefined" in info.value.message


def test_compile_error_names_file_and_line(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(
        tmp_path, {"ok.rego": DENY, "bad.rego": "package bad\n\nimport rego.v1\n\nx if {\n\tinput.a >\n}\n"}
    )
    with pytest.raises(EvaluationError) as info:
        engine.query(ps, "data.t.decision", {})
    err = info.value
    assert err.code == "policy.compile"
    assert err.location is not None and err.location.path.endswith("bad.rego")
    assert err.location.line in (6, 7)
    assert err.exit_code == ExitCode.EVALUATION


def test_conflicting_complete_rule(engine: PolicyEngine, tmp_path: Path) -> None:
    src = "package c\n\nimport rego.v1\n\nx := 1 if input.a\n\nx := 2 if input.b\n"
    ps = policy_set(tmp_path, {"c.rego": src})
    assert engine.query(ps, "data.c.x", {"a": True}) == 1
    with pytest.raises(EvaluationError) as info:
        engine.query(ps, "data.c.x", {"a": True, "b": True})
    assert info.value.code == "policy.evaluation"
    assert "data.c.x" in info.value.message
    if engine.name == "opa":
        assert "conflict" in info.value.message
    else:
        assert "without a message" in info.value.message and info.value.hint


def test_division_by_zero_strict_and_lenient(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"d.rego": "package d\n\nimport rego.v1\n\nx := 1 / input.z\n"})
    for name in ("embedded", "opa"):
        strict = make_engine(request, name)
        with pytest.raises(EvaluationError) as info:
            strict.query(ps, "data.d.x", {"z": 0})
        assert info.value.code == "policy.evaluation", name
        assert strict.query(ps, "data.d.x", {"z": 2}) == 0.5
        lenient = make_engine(request, name, strict_builtin_errors=False)
        with pytest.raises(UndefinedResult):  # OPA's and opa test's default: the expression is undefined
            lenient.query(ps, "data.d.x", {"z": 0})


@pytest.mark.parametrize(
    "call",
    [
        'http.send({"method": "get", "url": "http://127.0.0.1:1"})',
        'net.cidr_contains("10.0.0.0/8", "10.1.2.3")',
        "json.match_schema({}, {})",
        "rego.metadata.rule()",
        'time.parse_rfc3339_ns("2020-01-01T00:00:00Z")',
        "any([true])",
        'strings.split_n("a,b", ",", 1)',
    ],
)
def test_unsupported_builtin_refused_by_name_on_embedded(tmp_path: Path, call: str) -> None:
    ps = policy_set(tmp_path, {"u.rego": f"package u\n\nimport rego.v1\n\nx := {call}\n"})
    with pytest.raises(EvaluationError) as info:
        get_engine("embedded").query(ps, "data.u.x", {})
    assert info.value.code == "policy.unsupported-builtin"
    assert call.split("(")[0] in info.value.message
    assert info.value.location is not None and info.value.location.line == 5


def test_unknown_function_refused(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"f.rego": "package f\n\nimport rego.v1\n\nx := foo.bar(1)\n"})
    with pytest.raises(EvaluationError) as info:
        engine.query(ps, "data.f.x", {})
    assert "foo.bar" in info.value.message


@pytest.mark.parametrize(
    ("source", "ok"),
    [
        ('deny[msg] {\n\tmsg := "x"\n}\n', False),
        ("allow {\n\ttrue\n}\n", False),
        ("allow = true {\n\ttrue\n}\n", False),
        ("f(x) = y {\n\ty := x\n}\n", False),
        ("v := 1 if {\n\tinput.a\n} else = 2 {\n\ttrue\n}\n", False),
        ('p["a"]\n', False),
        ('deny contains msg if {\n\tmsg := "x"\n}\n', True),
        ('deny[msg] if {\n\tmsg := "x"\n}\n', True),  # v1: a partial object, same on both
        ("p if {\n\tinput.a\n} {\n\tinput.b\n}\n", True),
        ("v := 1 if {\n\tinput.a\n} else := 2\n", True),
        ("allow if {\n\tevery x in [1, 2] { x > 0 }\n}\n", True),
        ('obj := {"a": {1, 2}} if {\n\ttrue\n}\n', True),
    ],
)
def test_v0_syntax_refused_by_both(
    request: pytest.FixtureRequest, tmp_path: Path, source: str, ok: bool
) -> None:
    ps = policy_set(tmp_path, {"s.rego": f"package s\n\nimport rego.v1\n\n{source}"})
    answers = []
    for name in ("embedded", "opa"):
        eng = make_engine(request, name)
        if ok:
            answers.append(eng.query(ps, "data.s", {"a": False, "b": True}))
        else:
            with pytest.raises(EvaluationError) as info:
                eng.query(ps, "data.s", {})
            assert info.value.code == "policy.v0-syntax", (name, info.value.message)
            assert "keyword is required" in info.value.message
            assert info.value.location is not None and info.value.location.line >= 5
    if ok:
        assert answers[0] == answers[1]


def test_module_without_package_refused(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"n.rego": "x := 1\n"})
    with pytest.raises(EvaluationError) as info:
        engine.query(ps, "data.x", {})
    assert info.value.code == "policy.compile"


def test_with_whole_input_refused_on_embedded(tmp_path: Path) -> None:
    src = 'package w\n\nimport rego.v1\n\nv := input.a\n\ntest_w if {\n\tv == 1 with input as {"a": 1}\n}\n'
    ps = policy_set(tmp_path, {"w_test.rego": src}, include_tests=True)
    with pytest.raises(EvaluationError) as info:
        get_engine("embedded").query(ps, "data.w.test_w", None)
    assert info.value.code == "policy.unsupported"
    assert info.value.location is not None and info.value.location.line == 8
    assert "input.manifests" in (info.value.hint or "")


def test_sprintf_verbs_regopy_formats_differently_are_refused(tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"q.rego": 'package q\n\nimport rego.v1\n\nx := sprintf("%q", [input.s])\n'})
    with pytest.raises(EvaluationError) as info:
        get_engine("embedded").query(ps, "data.q.x", {"s": "a"})
    assert "%q" in info.value.message


def test_unsupported_query_refused(engine: PolicyEngine, tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"t.rego": DENY})
    with pytest.raises(EvaluationError) as info:
        engine.query(ps, "data.t.decision; true", {})
    assert info.value.code == "policy.query"


def test_print_never_reaches_stdout(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    ps = policy_set(tmp_path, {"p.rego": 'package p\n\nimport rego.v1\n\nx if {\n\tprint("from rego")\n}\n'})
    eng = get_engine("embedded")
    assert eng.query(ps, "data.p.x", {}) is True
    out, err = capfd.readouterr()
    assert "from rego" not in out
    assert "from rego" in err
    assert getattr(eng, "last_print_output", "") == "from rego\n"


def test_compiled_policies_are_cached_per_digest(tmp_path: Path) -> None:
    eng = get_engine("embedded")
    ps = policy_set(tmp_path, {"t.rego": DENY, "limits/data.json": '{"max": 3}'})
    eng.query(ps, "data.t.decision", {"manifests": []})
    cache = eng._cache  # type: ignore[attr-defined]
    assert list(cache) == [ps.digest]
    again = load_policy_set([tmp_path / "policies"])
    eng.query(again, "data.t.decision", {"manifests": []})
    assert list(cache) == [ps.digest]  # same content: no recompilation


# -- OPA server specifics --------------------------------------------------------------------


@pytest.mark.opa
def test_unreachable_server(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a loopback port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ps = policy_set(tmp_path, {"t.rego": DENY})
    eng = get_engine("opa", opa_url=f"http://127.0.0.1:{port}", timeout=2)
    with pytest.raises(EvaluationError) as info:
        eng.query(ps, "data.t.decision", {})
    assert info.value.code == "policy.unreachable"
    assert "cannot reach the OPA server" in info.value.message
    assert "opa run --server" in (info.value.hint or "")
    assert info.value.exit_code == ExitCode.EVALUATION


@pytest.mark.opa
def test_server_that_never_answers_times_out(tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts connections in the kernel, never answers
    port = listener.getsockname()[1]
    try:
        ps = policy_set(tmp_path, {"t.rego": DENY})
        eng = get_engine("opa", opa_url=f"http://127.0.0.1:{port}", timeout=0.5)
        with pytest.raises(EvaluationError) as info:
            eng.query(ps, "data.t.decision", {})
        assert info.value.code == "policy.unreachable"
        assert "did not answer within 0.5 s" in info.value.message
    finally:
        listener.close()


def test_bad_opa_url_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        get_engine("opa", opa_url="ftp://example.invalid")
    with pytest.raises(UsageError):
        get_engine("opa", opa_url="http://127.0.0.1:8181/v1/data")
    with pytest.raises(UsageError):
        get_engine("nope")


@pytest.mark.opa
def test_policies_keep_their_exact_bytes_on_the_server(opa_server: str, tmp_path: Path) -> None:
    import requests

    from ftpolicy.policy.engines.opa_server import policy_ids

    raw = (
        "# comment with trailing spaces   \r\n"
        "package bytes\r\n\r\nimport rego.v1\r\n\r\n"
        "# é ✓ unicode, a tab:\t and CRLF line ends\r\n"
        'x := "é"\r\n'
    ).encode()
    ps = policy_set(tmp_path, {"b.rego": raw})
    eng = get_engine("opa", opa_url=opa_server)
    assert eng.query(ps, "data.bytes.x", {}) == "é"
    (policy_id,) = policy_ids(ps)
    body = requests.get(f"{opa_server}/v1/policies/{policy_id}", timeout=5).json()
    assert body["result"]["raw"].encode("utf-8") == raw


@pytest.mark.opa
def test_stale_policies_are_replaced_and_uploads_happen_once(opa_server: str, tmp_path: Path) -> None:
    import requests

    first = policy_set(tmp_path / "one", {"a.rego": "package one\n\nimport rego.v1\n\nx := 1\n"})
    second = policy_set(tmp_path / "two", {"b.rego": "package two\n\nimport rego.v1\n\nx := 2\n"})
    eng = get_engine("opa", opa_url=opa_server)
    assert eng.query(first, "data.one.x", {}) == 1
    assert eng.query(second, "data.two.x", {}) == 2
    with pytest.raises(UndefinedResult):  # the first set's module was deleted from the server
        eng.query(second, "data.one.x", {})
    ids = [p["id"] for p in requests.get(f"{opa_server}/v1/policies", timeout=5).json()["result"]]
    # ".q/": ftpolicy's generated query modules, uploaded beside the policies.
    policies = [i for i in ids if i.startswith("ftpolicy/") and ".q/" not in i]
    assert policies == [i for i in ids if "b.rego" in i]
    assert all(second.digest.split(":")[1][:16] in i for i in ids if i.startswith("ftpolicy/"))
    # Pushed once per digest: deleting the module behind the engine's back is not noticed...
    requests.delete(f"{opa_server}/v1/policies/{policies[0]}", timeout=5)
    with pytest.raises(UndefinedResult):
        eng.query(second, "data.two.x", {})
    # ...while a new engine (a new process) sees the server lacks the set and uploads it again.
    assert get_engine("opa", opa_url=opa_server).query(second, "data.two.x", {}) == 2


@pytest.mark.opa
def test_modules_calling_each_other_upload_in_any_order(opa_server: str, tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "a_uses.rego": "package a\n\nimport rego.v1\n\nx := data.z.double(input.n)\n",
        "z_lib.rego": "package z\n\nimport rego.v1\n\ndouble(n) := n * 2\n",
    }
    ps = policy_set(tmp_path, files)
    assert get_engine("opa", opa_url=opa_server).query(ps, "data.a.x", {"n": 4}) == 8


@pytest.mark.opa
def test_bearer_token(opa_bin: str, tmp_path: Path) -> None:
    import subprocess
    import time
    import urllib.request

    authz = tmp_path / "authz.rego"
    authz.write_text(
        "package system.authz\n\nimport rego.v1\n\ndefault allow := false\n\n"
        'allow if input.identity == "s3cret"\n'
    )
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen(
        [
            opa_bin,
            "run",
            "--server",
            "--addr",
            f"127.0.0.1:{port}",
            "--skip-version-check",
            "--log-level",
            "error",
            "--authentication=token",
            "--authorization=basic",
            str(authz),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/health", timeout=1)
                break
            except OSError as exc:
                if getattr(exc, "code", None) == 401:
                    break
                time.sleep(0.05)
        ps = policy_set(tmp_path, {"t.rego": DENY, "limits/data.json": '{"max": 3}'})
        good = get_engine("opa", opa_url=url, token="s3cret")
        assert good.query(ps, "data.t.decision", {"manifests": []}) == {"deny": [], "allow": True}
        with pytest.raises(EvaluationError) as info:
            get_engine("opa", opa_url=url, token="wrong").query(ps, "data.t.decision", {"manifests": []})
        assert info.value.code == "policy.rejected"
        assert "token" in (info.value.hint or "")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


# -- loading ---------------------------------------------------------------------------------


def test_missing_folder_and_bad_encoding_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_policy_set([tmp_path / "absent"])
    assert "does not exist" in info.value.message
    write_policies(tmp_path / "p", {"ok.rego": "package ok\n", "bad.rego": b"package bad\n\n# \xff\xfe\n"})
    with pytest.raises(ConfigError) as info:
        load_policy_set([tmp_path / "p"])
    assert info.value.location is not None and info.value.location.path.endswith("bad.rego")
    assert info.value.location.line == 3


def test_data_documents_mount_at_their_folder_and_conflicts_are_refused(tmp_path: Path) -> None:
    write_policies(
        tmp_path / "p",
        {
            "a.rego": "package a\n",
            "data.json": '{"top": 1}',
            "x/y/data.yaml": "k: [1, 2]\n",
            "x/data.json": '{"z": 0}',
        },
    )
    ps = load_policy_set([tmp_path / "p"])
    assert ps.data == {"top": 1, "x": {"y": {"k": [1, 2]}, "z": 0}}
    write_policies(tmp_path / "q", {"data.json": '{"x": {"y": 1}}', "x/data.json": '{"y": 2}'})
    with pytest.raises(ConfigError) as info:
        load_policy_set([tmp_path / "q"])
    assert "data.x.y" in info.value.message


def test_tests_excluded_unless_asked_and_digest_is_content_only(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {"a.rego": "package a\n", "a_test.rego": "package a_test\n"}
    write_policies(tmp_path / "one", files)
    write_policies(tmp_path / "two" / "deeper", files)
    one = load_policy_set([tmp_path / "one"])
    assert [Path(n).name for n in one.modules] == ["a.rego"]
    assert len(load_policy_set([tmp_path / "one"], include_tests=True).modules) == 2
    assert one.digest == load_policy_set([tmp_path / "two"]).digest
    (tmp_path / "one" / "a.rego").write_text("package a\n\n# changed\n")
    assert load_policy_set([tmp_path / "one"]).digest != one.digest
    assert json.dumps(one.digest).startswith('"sha256:')


def test_engines_are_safe_to_share_between_threads(tmp_path: Path) -> None:
    ps = policy_set(tmp_path, {"t.rego": DENY, "limits/data.json": '{"max": 3}'})
    eng = get_engine("embedded")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(20):
                got = eng.query(ps, "data.t.decision", {"manifests": [{"name": f"m{n}", "size": n}]})
                assert got["allow"] is (n <= 3)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
