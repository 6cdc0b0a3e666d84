"""``audit report``: JSON, Markdown (Mermaid) and self-contained HTML (inline SVG) of a replay."""

from __future__ import annotations

import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from audit.conftest import History, run_cli
from ftpolicy.audit.replay import replay
from ftpolicy.audit.report import render_report, report_document

VOID = {"meta", "br", "path", "rect", "line"}


class _Checker(HTMLParser):
    """Tags balance; no script, no external resource."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            remote = (value or "").startswith(("http:", "https:")) and name != "xmlns"
            if name in ("src", "href") or remote:
                self.external.append(f"{tag} {name}={value}")
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()


def test_json_document_has_steps_signers_and_evidence(history: History) -> None:
    doc = report_document(replay(history.root, history.c["promoted-production"], policies_from="HEAD"))
    [bot] = doc["adapters"]
    steps = {s["name"]: s for s in bot["steps"]}
    names = list(steps)
    assert names[0] == "ingest" and names[-1] == "promote"
    review = steps["dataset-review"]
    assert [a["identity"] for a in review["attestations"]] == ["rita", "rob"]
    assert review["attestations"][0]["summary"] == "decision: approve"
    sec = steps["security-eval"]["attestations"][0]
    assert sec["teams"] == ["security"] and sec["evidence_sha256"]
    assert "prompt-injection 0.97/0.9 ok" in sec["summary"]
    assert "0 finding(s)" in steps["scan"]["attestations"][0]["summary"]
    assert all(s["ok"] for s in bot["steps"]) and bot["policies"]["allow"] is True
    assert bot["drift"]["newly_denied"][0]["rule"] == "promotion/review-insufficient"


def test_html_is_self_contained_and_shows_failures(history: History) -> None:
    text = render_report(replay(history.root, history.c["forged"]), "html")
    checker = _Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == [] and checker.external == []
    assert "script" not in checker.tags and checker.tags.count("svg") == 1
    assert "key-revoked" in text and 'stroke="#c62828"' in text  # the forged train step is red
    assert render_report(replay(history.root, history.c["forged"]), "html") == text  # deterministic


def test_markdown_and_cli(history: History, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    md = render_report(replay(history.root, history.c["rollback"]), "md")
    assert "```mermaid" in md and "s0 --> s1" in md and "| dataset-review | dataset:support@1.0 | rita" in md
    out = tmp_path / "report.html"
    args = ["audit", "report", "--repo", str(history.root), "--rev", history.c["promoted-production"]]
    code, said, _ = run_cli(capsys, *args, "--output", str(out))
    assert code == 0 and "1 adapter version(s), pass" in said
    assert out.read_text().startswith("<!DOCTYPE html>")
    code, _, _ = run_cli(capsys, *args, "--format", "json", "--output", str(tmp_path / "r.json"))
    assert code == 0 and json.loads((tmp_path / "r.json").read_text())["adapters"][0]["adapter"] == "bot@1.0"


@pytest.mark.skipif(
    shutil.which("chromium") is None, reason="headless Chromium (Debian package chromium) not found"
)
def test_html_renders_in_headless_chromium(history: History, tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text(render_report(replay(history.root, history.c["forged"], policies_from="HEAD"), "html"))
    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [
            "chromium",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            f"--screenshot={shot}",
            "--window-size=1100,1400",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    page_errors = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "Uncaught" in ln]
    assert page_errors == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
