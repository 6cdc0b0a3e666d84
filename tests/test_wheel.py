"""The wheel is self-contained: schemas and policies ship inside it and are found at run time.

Builds the wheel from this checkout, installs it into a private folder and imports it
from another directory, so nothing can come from the checkout by accident.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "tests" / "assets" / "malformed" / "baseline.dataset.yaml"

CHECK = textwrap.dedent(
    """
    import json, shutil, sys
    from pathlib import Path

    site, baseline, work = sys.argv[1:4]
    sys.path.insert(0, site)

    import ftpolicy
    from ftpolicy.resources import policies_dir, schemas_dir
    from ftpolicy.scaffold import scaffold
    from ftpolicy.validation import validate_repo

    repo = Path(work) / "governed"
    scaffold(repo, git=False)
    (repo / "datasets" / "tickets").mkdir()
    shutil.copy(baseline, repo / "datasets" / "tickets" / "1.0.0.yaml")
    good = validate_repo(repo)
    text = Path(baseline).read_text().replace("records: 300", "records: -1")
    (repo / "datasets" / "tickets" / "1.0.0.yaml").write_text(text)
    bad = validate_repo(repo)
    print(json.dumps({
        "package": ftpolicy.__file__,
        "schemas": str(schemas_dir()),
        "policies": str(policies_dir()),
        "schema_files": sorted(p.name for p in schemas_dir().glob("*.schema.json")),
        "good": [good.ok, good.checked],
        "bad": [(f.path, p.line, p.message) for f in bad.invalid for p in f.problems],
    }))
    """
)


def run(*args: str | Path, cwd: Path) -> str:
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
    )
    assert proc.returncode == 0, f"{args}\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel built from this checkout, installed alone into ``<tmp>/site``."""
    tmp = tmp_path_factory.mktemp("wheel")
    dist = tmp / "dist"
    build = [sys.executable, "-m", "build", "--wheel", "--outdir", str(dist)]
    if importlib.util.find_spec("hatchling") is not None:
        build.append("--no-isolation")  # the backend is installed: no download needed
    run(*build, ROOT, cwd=tmp)
    (wheel,) = dist.glob("ftpolicy-*.whl")
    site = tmp / "site"
    run(
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
        "--no-index",
        "--no-deps",
        "--target",
        site,
        wheel,
        cwd=tmp,
    )
    return site


def test_installed_wheel_finds_its_data_and_validates(installed: Path, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = run(sys.executable, "-c", CHECK, installed, BASELINE, elsewhere, cwd=elsewhere)
    facts = json.loads(out)
    package = installed / "ftpolicy"
    assert Path(facts["package"]).parent == package
    assert Path(facts["schemas"]) == package / "_data" / "schemas"
    assert Path(facts["policies"]) == package / "_data" / "policies"
    assert {"config.v1.schema.json", "dataset.v1.schema.json", "common.v1.schema.json"} <= set(
        facts["schema_files"]
    )
    assert facts["good"] == [True, 3]
    assert facts["bad"] == [["datasets/tickets/1.0.0.yaml", 30, "-1 is too small (must be >= 0)"]]


def test_installed_wheel_command_line(installed: Path, tmp_path: Path) -> None:
    """The console entry point of the installed copy: init, then validate, from elsewhere."""
    entry = f"import sys; sys.path.insert(0, {str(installed)!r}); from ftpolicy.cli.main import main; main()"
    run(sys.executable, "-c", entry, "init", "--no-git", "gov", cwd=tmp_path)
    out = run(sys.executable, "-c", entry, "validate", "--format", "json", cwd=tmp_path / "gov")
    assert json.loads(out)["summary"] == {"checked": 2, "valid": 2, "invalid": 0, "problems": 0}


def test_installed_wheel_carries_the_scanner_extension(installed: Path, tmp_path: Path) -> None:
    """The wheel is built with the C extension of the dataset scanner (hatch_build.py), and
    the installed copy loads it and agrees with the Python code (checked at import)."""
    code = (
        f"import sys; sys.path.insert(0, {str(installed)!r})\n"
        "from ftpolicy.scan.dataset import contamination, trigger\n"
        "print(trigger._NATIVE.__file__, contamination._NATIVE is trigger._NATIVE)"
    )
    out = run(sys.executable, "-c", code, cwd=tmp_path).split()
    assert Path(out[0]).parent == installed / "ftpolicy" / "scan" / "dataset"
    assert out[1] == "True"
