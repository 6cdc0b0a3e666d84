"""``eval run --attest`` signs the security-eval step; ``ftpolicy verify`` consumes the evidence.

The chain comes from tests/attest/conftest.py (identities, keys, signed layout, honest steps);
the holdout suite is sealed into it with ``ftpolicy eval seal`` and the model is the test
double server of model_server.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from attest.conftest import ADAPTER, attest_adapter, attest_dataset, build_governed_repo

from .conftest import EXAMPLE, ITEMS_REL, assert_chain_verifies, run
from .model_server import ServerState, serve
from .test_run_openai import answers


def test_attested_eval_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    chain = build_governed_repo(tmp_path)
    items = chain.root / "holdout/holdout/2026.12/items.jsonl"
    items.parent.mkdir(parents=True)
    shutil.copy(EXAMPLE / ITEMS_REL, items)
    rel = "holdout/holdout/2026.12/items.jsonl"
    code, _, err = run(
        capsys, "eval", "seal", str(items), "--name", "holdout", "--version", "2026.12",
        "--items-path", rel, "--sealed-by", "eve", "--repo", str(chain.root),
    )  # fmt: skip
    assert code == 0, err
    chain.sign_layout()  # the layout lets security-eval consume the items.path of registered suites
    attest_dataset(chain)
    attest_adapter(chain, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    out = tmp_path / "security-eval.json"
    base = ["eval", "run", "--suite", "holdout@2026.12", "--adapter", ADAPTER.ref, "--endpoint"]
    with serve(ServerState(answers(EXAMPLE).__getitem__)) as url:
        # the trainer may not sign the security eval (not a security-eval functionary)
        repo = ["--attest", "--repo", str(chain.root)]
        code, _, err = run(
            capsys, *base, url, "--output", str(tmp_path / "t.json"), "--key", str(chain.keys["tom"]), *repo
        )
        assert code == 1 and "security-eval" in err
        code, stdout, err = run(
            capsys, *base, url, "--output", str(out), "--key", str(chain.keys["eve"]), *repo
        )
    assert code == 0, err
    assert "attested security-eval -> attestations/adapter/bot/1.0/security-eval." in stdout
    signed = json.loads((chain.root / ADAPTER.evidence_dir / "security-eval.json").read_text())
    assert signed == json.loads(out.read_text())
    assert signed["adapter"] == chain.adapter_ref()
    assert_chain_verifies(chain, capsys)
