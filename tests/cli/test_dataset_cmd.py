"""`ftpolicy dataset hash|add|diff` through the real command line."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ftpolicy.cli.main import main

CHAT = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}


def governed_repo(tmp_path: Path) -> Path:
    """A minimal governed repository: a valid ftpolicy.yaml and a data/ folder."""
    root = tmp_path / "repo"
    (root / "data").mkdir(parents=True)
    (root / "ftpolicy.yaml").write_text("schema_version: 1\nkind: config\nproject: demo\n")
    return root


def write_jsonl(path: Path, ids: list[int], answer: str = "hello") -> Path:
    lines = []
    for i in ids:
        rec = {
            "id": i,
            "messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": answer}],
        }
        lines.append(json.dumps(rec) + "\n")
    path.write_text("".join(lines))
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    out, err = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 1), out, err


def add_args(root: Path, version: str, shard: Path, *extra: str) -> list[str]:
    return [
        "dataset",
        "add",
        "tickets",
        "--repo",
        str(root),
        "--version",
        version,
        "--shard",
        str(shard),
        "--source",
        "kind=internal,uri=s3://corp/tickets,licence=proprietary",
        "--collected-by",
        "data-eng",
        "--author",
        "alice",
        "--collection",
        "2026-01-01..2026-03-31",
        "--record-format",
        "chat",
        "--change-summary",
        f"version {version}",
        *extra,
    ]


def test_hash_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a = write_jsonl(tmp_path / "a.jsonl", list(range(7)))
    b = tmp_path / "b.jsonl.gz"
    b.write_bytes(gzip.compress(a.read_bytes() * 2))
    other = tmp_path / "notes.txt"
    other.write_text("not a shard\n")
    code, out, err = run(capsys, "dataset", "hash", str(a), str(b), str(other), "--jobs", "2")
    assert code == 0 and err == ""  # no progress bar when stderr is not a terminal
    rows = [line.split() for line in out.splitlines()]
    assert rows[0] == [hashlib.sha256(a.read_bytes()).hexdigest(), str(a.stat().st_size), "7", str(a)]
    assert rows[1][2] == "14" and rows[2][2] == "-"
    code, out, _ = run(capsys, "dataset", "hash", "--format", "json", str(b))
    doc = json.loads(out)
    assert doc["schema_version"] == 1 and doc["kind"] == "dataset-hash"
    assert doc["files"] == [
        {
            "path": str(b),
            "sha256": hashlib.sha256(b.read_bytes()).hexdigest(),
            "bytes": b.stat().st_size,
            "records": 14,
            "format": "jsonl.gz",
        }
    ]


def test_hash_missing_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "dataset", "hash", str(tmp_path / "nope.jsonl"))
    assert code == 2 and out == ""
    assert "nope.jsonl: no such file" in err and "Traceback" not in err


def test_add_then_refuse_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = governed_repo(tmp_path)
    shard = write_jsonl(root / "data" / "v1.jsonl", [1, 2, 3])
    code, out, _ = run(capsys, *add_args(root, "1.0.0", shard))
    assert code == 0, out
    assert out.startswith("wrote datasets/tickets/1.0.0.yaml: 1 shard(s), 3 records")
    written = (root / "datasets/tickets/1.0.0.yaml").read_bytes()
    code, out, _ = run(capsys, "validate", "--repo", str(root))
    assert code == 0, out
    code, out, err = run(capsys, *add_args(root, "1.0.0", shard))
    assert code == 1 and out == ""
    assert "tickets@1.0.0 already exists" in err and "hint: add a new version" in err
    assert (root / "datasets/tickets/1.0.0.yaml").read_bytes() == written


def test_add_validates_before_writing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = governed_repo(tmp_path)
    shard = write_jsonl(root / "data" / "v1.jsonl", [1])
    code, _, err = run(capsys, *add_args(root, "1.0.0", shard, "--author", "Not An Id"))
    assert code == 2
    assert "nothing was written" in err and "--author" in err and "Traceback" not in err
    code, _, err = run(capsys, *add_args(root, "1.1.0", shard, "--parent", "1.0.0"))
    assert code == 2 and "has no version 1.0.0" in err
    code, _, err = run(capsys, *add_args(root, "1.0.0", shard, "--source", "kind=internal,uri=x"))
    assert code == 2 and "lacks licence" in err
    assert not (root / "datasets").exists()


def test_add_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = governed_repo(tmp_path)
    shard = write_jsonl(root / "data" / "v1.jsonl", [1, 2])
    code, out, _ = run(capsys, *add_args(root, "1.0.0", shard, "--format", "json"))
    doc = json.loads(out)
    assert code == 0 and doc["kind"] == "dataset-add" and doc["ref"] == "tickets@1.0.0"
    assert doc["shards"][0]["path"] == "data/v1.jsonl" and doc["records"] == 2


def test_diff_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = governed_repo(tmp_path)
    v1 = write_jsonl(root / "data" / "v1.jsonl", [1, 2, 3, 4])
    assert run(capsys, *add_args(root, "1.0.0", v1))[0] == 0
    v2 = root / "data" / "v2.jsonl"
    v2.write_text(
        write_jsonl(tmp_path / "x.jsonl", [1, 2]).read_text()
        + write_jsonl(tmp_path / "y.jsonl", [3], "new").read_text()
    )
    with v2.open("a") as fh:
        fh.write(write_jsonl(tmp_path / "z.jsonl", [5, 6]).read_text())
    assert run(capsys, *add_args(root, "1.1.0", v2, "--parent", "1.0.0"))[0] == 0
    code, out, _ = run(capsys, "dataset", "diff", "tickets@1.0.0", "tickets@1.1.0", "--repo", str(root))
    assert code == 0
    assert "added            2" in out and "removed          1" in out and "modified         1" in out
    assert "messages[1].content was: 'hello'" in out
    code, out, _ = run(
        capsys, "dataset", "diff", "tickets@1.0.0", "tickets@1.1.0", "--repo", str(root), "--format", "json"
    )
    doc = json.loads(out)
    assert doc["summary"] == {"added": 2, "removed": 1, "modified": 1, "unchanged": 2}
    assert [e["key"] for e in doc["examples"]["added"]] == ["id=5", "id=6"]
    assert out == json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"  # stable form


def test_diff_refuses_a_tampered_shard(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = governed_repo(tmp_path)
    v1 = write_jsonl(root / "data" / "v1.jsonl", [1, 2])
    v2 = write_jsonl(root / "data" / "v2.jsonl", [1, 2, 3])
    run(capsys, *add_args(root, "1.0.0", v1))
    run(capsys, *add_args(root, "1.1.0", v2, "--parent", "1.0.0"))
    write_jsonl(v2, [1, 2, 3], "tampered")
    code, out, err = run(capsys, "dataset", "diff", "tickets@1.0.0", "tickets@1.1.0", "--repo", str(root))
    assert code == 1 and out == ""
    assert err.startswith("error: datasets/tickets/1.1.0.yaml:")
    assert "shard data/v2.jsonl does not match tickets@1.1.0" in err


def test_help_has_examples(capsys: pytest.CaptureFixture[str]) -> None:
    for sub in ("hash", "add", "diff"):
        code, out, _ = run(capsys, "dataset", sub, "--help")
        assert code == 0 and "Example" in out
    assert "--change-summary" in run(capsys, "dataset", "add", "--help")[1]


def test_console_script_exit_codes_without_traceback(tmp_path: Path) -> None:
    root = governed_repo(tmp_path)
    script = Path(sys.executable).parent / "ftpolicy"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "ftpolicy"]
    proc = subprocess.run(
        [*cmd, "dataset", "diff", "tickets@1", "tickets@2", "--repo", str(root)],
        capture_output=True,
        text=True,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
    assert proc.returncode == 2
    assert "dataset tickets@1 not found" in proc.stderr and "Traceback" not in proc.stderr


def _run_on_terminal(args: list[str], cwd: Path, env: dict[str, str]) -> tuple[int, bytes, bytes]:
    """Run the console script with stderr on a pseudo-terminal; return code, stdout, terminal bytes."""
    import pty
    import select

    script = Path(sys.executable).parent / "ftpolicy"
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "ftpolicy"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen([*cmd, *args], cwd=cwd, stdout=subprocess.PIPE, stderr=follower, env=env)
    os.close(follower)
    seen = b""
    while True:
        ready, _, _ = select.select([leader], [], [], 0.1)
        if ready:
            try:
                chunk = os.read(leader, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                break
            seen += chunk
        elif proc.poll() is not None:
            break
    out = proc.stdout.read() if proc.stdout else b""
    code = proc.wait()
    os.close(leader)
    return code, out, seen


@pytest.mark.skipif(sys.platform == "win32", reason="needs a POSIX pseudo-terminal")
def test_progress_bar_only_on_a_terminal_and_never_for_json(tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    with big.open("wb") as fh:  # 40 MiB of zeros (sparse, quick to make)
        fh.truncate(40 << 20)
    env = {k: v for k, v in os.environ.items() if k not in ("CI", "GITHUB_ACTIONS")}
    env.update(COLUMNS="100", TERM="xterm")
    code, out, term = _run_on_terminal(["dataset", "hash", str(big)], tmp_path, env)
    assert code == 0 and out.split()[0].decode() == hashlib.sha256(bytes(40 << 20)).hexdigest()
    assert b"hashing" in term  # the bar was drawn on the terminal, not on stdout
    code, out, term = _run_on_terminal(["dataset", "hash", "--format", "json", str(big)], tmp_path, env)
    assert code == 0 and json.loads(out)["files"][0]["bytes"] == 40 << 20
    assert b"hashing" not in term
