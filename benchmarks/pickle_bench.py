#!/usr/bin/env python3
"""What ``ftpolicy scan adapter``'s pickle check and modelscan 0.8.8 catch, on one corpus.

The corpus (``tests/adapters/pickle_corpus.py``, written byte by byte, never unpickled)
holds every malicious payload style as a plain pickle (``.pkl``), inside a torch zip
archive (``archive/data.pkl``) and, for some, as a raw pickle under a torch suffix
(``.pt``/``.bin``/``.pth``/``.ckpt``, as ``torch.load`` accepts) — plus genuine weights files: hand-written
torch-style opcodes, a plain ``OrderedDict`` pickle, and the real ``torch.save`` /
peft ``.bin`` files committed under ``tests/fixtures/adapters/``.

* **ftpolicy**: :func:`ftpolicy.scan.adapter.pickles.scan_pickle_file`; *caught* means
  at least one imported global outside the weights allowlist (``adapter/pickle-global``).
* **modelscan 0.8.8** (installed into this environment on demand from
  ``benchmarks/requirements-bench.txt``): ``ModelScan().scan(path)``; *caught* means at
  least one issue. Files it skips (unsupported format, "invalid magic number") count as
  not caught, and the reason is shown.

Prints a table (one row per file), then totals: payloads caught by each tool, false
alarms on genuine files, and scan time. Each payload would ``touch`` a marker file; the
run ends by checking that the marker was never created.

Usage::

    python benchmarks/pickle_bench.py [--json results.json]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from adapters.pickle_corpus import GENUINE, MALICIOUS, torch_zip  # noqa: E402

from ftpolicy.scan.adapter.pickles import scan_pickle_file  # noqa: E402

FIXTURES = ROOT / "tests" / "fixtures" / "adapters"


def ensure_modelscan() -> str | None:
    """Install the pinned modelscan into this interpreter's environment; None when ready."""
    if importlib.util.find_spec("modelscan") is not None:
        return None
    req = HERE / "requirements-bench.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "-r", str(req)], capture_output=True, text=True
    )
    if proc.returncode != 0:
        return f"pip install -r {req.name} failed: {proc.stderr.strip()[-300:]}"
    importlib.invalidate_caches()
    return None if importlib.util.find_spec("modelscan") is not None else "modelscan not importable"


def build_corpus(folder: Path, marker: Path) -> list[tuple[str, str, bool]]:
    """Write the corpus; returns (file name, payload style, malicious)."""
    cmd = f"touch {marker}"
    rows: list[tuple[str, str, bool]] = []
    for name, build in MALICIOUS.items():
        style = name.rsplit(".", 1)[0]
        data = build(cmd)
        if data[:2] == b"PK":  # already a torch zip in the corpus
            (folder / name).write_bytes(data)
            rows.append((name, style, True))
            continue
        (folder / f"{style}.pkl").write_bytes(data)
        rows.append((f"{style}.pkl", style, True))
        if not name.endswith(".pkl"):  # a raw pickle under a torch suffix (.pt/.bin/.pth/.ckpt)
            (folder / name).write_bytes(data)
            rows.append((name, style, True))
        if style != "legacy_sequence":
            (folder / f"{style}.zip.bin").write_bytes(torch_zip(data))
            rows.append((f"{style}.zip.bin", style, True))
    for name, build in GENUINE.items():
        (folder / name).write_bytes(build(cmd))
        rows.append((name, name.rsplit(".", 1)[0], False))
    for rel in ("torch-state-dict.pt", "torch-legacy.bin", "llama-lora-bin/adapter_model.bin"):
        src = FIXTURES / rel
        if src.is_file():
            dst = "fixture-" + rel.replace("/", "-")
            shutil.copy(src, folder / dst)
            rows.append((dst, "genuine torch.save / peft", False))
    return rows


def run_ftpolicy(path: Path) -> tuple[bool, str, float]:
    t0 = time.perf_counter()
    scan = scan_pickle_file(path)
    dt = time.perf_counter() - t0
    bad = sorted({g.name for g in scan.disallowed})
    note = ", ".join(bad) if bad else ("; ".join(scan.errors) or "allowlisted only")
    return bool(bad), note, dt


def run_modelscan(path: Path) -> tuple[bool, str, float]:
    from modelscan.modelscan import ModelScan

    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        result: dict[str, Any] = ModelScan().scan(str(path))
    dt = time.perf_counter() - t0
    issues = result.get("issues", [])
    if issues:
        return True, ", ".join(sorted({f"{i.get('module')}.{i.get('operator')}" for i in issues})), dt
    skipped = [
        s.get("description", "")
        for s in result.get("summary", {}).get("skipped", {}).get("skipped_files", [])
    ]
    errors = [e.get("description", "") for e in result.get("errors", [])]
    scanned = result.get("summary", {}).get("scanned", {}).get("total_scanned", 0)
    reason = "; ".join(dict.fromkeys(errors + skipped)) if not scanned else "no issue"
    return False, reason or "no issue", dt


def main(argv: list[str] | None = None) -> int:
    """Build the corpus, run both scanners, print the table and totals."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="Also write the results as JSON.")
    args = ap.parse_args(argv)
    missing = ensure_modelscan()
    with tempfile.TemporaryDirectory(prefix="pickle-bench-") as tmp:
        folder = Path(tmp) / "corpus"
        folder.mkdir()
        marker = Path(tmp) / "MARKER"
        rows = build_corpus(folder, marker)
        results = []
        for name, style, malicious in rows:
            ft = run_ftpolicy(folder / name)
            ms = run_modelscan(folder / name) if missing is None else (False, f"not run: {missing}", 0.0)
            results.append(
                {
                    "file": name,
                    "style": style,
                    "malicious": malicious,
                    "ftpolicy": {"caught": ft[0], "detail": ft[1], "seconds": ft[2]},
                    "modelscan": {"caught": ms[0], "detail": ms[1], "seconds": ms[2]},
                }
            )
        executed = marker.exists()
    w = max(len(r["file"]) for r in results)
    print(f"{'file':<{w}}  {'kind':9}  {'ftpolicy':8}  {'modelscan':9}  details (ftpolicy | modelscan)")
    for r in results:
        kind = "payload" if r["malicious"] else "genuine"

        def mark(tool: dict[str, Any], malicious: bool) -> str:
            if malicious:
                return "caught" if tool["caught"] else "MISSED"
            return "FALSE+" if tool["caught"] else "clean"

        ft, ms = r["ftpolicy"], r["modelscan"]
        print(
            f"{r['file']:<{w}}  {kind:9}  {mark(ft, r['malicious']):8}  {mark(ms, r['malicious']):9}  "
            f"{ft['detail'][:48]} | {ms['detail'][:60]}"
        )
    payloads = [r for r in results if r["malicious"]]
    genuine = [r for r in results if not r["malicious"]]
    totals: dict[str, Any] = {}
    for tool in ("ftpolicy", "modelscan"):
        totals[tool] = {
            "payloads_caught": sum(r[tool]["caught"] for r in payloads),
            "payloads": len(payloads),
            "false_alarms": sum(r[tool]["caught"] for r in genuine),
            "genuine": len(genuine),
            "seconds": round(sum(r[tool]["seconds"] for r in results), 4),
        }
        t = totals[tool]
        print(
            f"{tool:9}: caught {t['payloads_caught']}/{t['payloads']} payloads, "
            f"{t['false_alarms']}/{t['genuine']} false alarms on genuine files, {t['seconds']:.3f} s"
        )
    styles = sorted({r["style"] for r in payloads})
    print(f"{len(styles)} payload styles; marker created: {executed} (must be False: nothing was unpickled)")
    if args.json:
        args.json.write_text(
            json.dumps({"results": results, "totals": totals, "marker_created": executed}, indent=2)
        )
    return 1 if executed else 0


if __name__ == "__main__":
    raise SystemExit(main())
