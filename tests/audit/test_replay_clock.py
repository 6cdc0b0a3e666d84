"""Replay judges a revision at its own commit time: a layout that expired since still verifies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml
from attest.conftest import ADAPTER, DATASET, Chain, attest_adapter, attest_dataset, build_governed_repo
from helpers.gitrepo import ScratchRepo
from registry.conftest import REGISTRY_CONFIG

from ftpolicy.attest import attest_step, build_default_layout, sign_layout, write_draft
from ftpolicy.attest.verify import verify_chain
from ftpolicy.audit.replay import replay
from ftpolicy.identities import format_time, utcnow
from ftpolicy.keys import load_signer
from ftpolicy.registry.store import dump_registry

T0 = dt.datetime(2025, 3, 1, tzinfo=dt.UTC)  # the layout expires 30 days later, long ago


class PastChain(Chain):
    """The conftest chain, but every signature is made on a clock that starts at T0."""

    clock: dt.datetime = T0

    def attest(
        self,
        step: str,
        who: str,
        *,
        materials: Sequence[str] = (),
        products: Sequence[str] = (),
        evidence: dict[str, Any] | None = None,
        key: Path | None = None,
    ) -> None:
        self.clock += dt.timedelta(minutes=1)
        subject = DATASET if step in ("ingest", "preprocess", "scan", "dataset-review") else ADAPTER
        attest_step(
            self.root,
            step,
            subject,
            load_signer(key, repo=self.root) if key else self.signer(who),
            materials=[self.root / m for m in materials],
            products=[self.root / p for p in products],
            evidence=self.evidence(step, evidence) if evidence is not None else None,
            now=self.clock,
        )


def test_layout_expired_since_the_revision_still_verifies(tmp_path: Path) -> None:
    built = build_governed_repo(tmp_path)
    chain = PastChain(built.root, built.keydir, built.keys)
    for path in sorted((chain.root / "identities").glob("*.yaml")):
        doc = yaml.safe_load(path.read_text())
        for key in doc.get("keys") or []:
            key["valid_from"] = "2025-01-01T00:00:00Z"  # the keys existed before T0
        path.write_text(yaml.safe_dump(doc, sort_keys=False))
    write_draft(chain.root, build_default_layout(chain.root, now=T0))
    sign_layout(chain.root, chain.signer("olivia"), now=T0)
    attest_dataset(chain)
    attest_adapter(chain)  # up to the promote attestation (production is a gated channel)
    registry = {
        "schema_version": 1,
        "kind": "registry",
        "adapter": "bot",
        "channels": {
            "staging": {"version": "1.0", "digest": chain.adapter_ref()["digest"]},
            "production": {"version": "1.0", "digest": chain.adapter_ref()["digest"]},
        },
        "history": [
            {
                "seq": 1,
                "action": "promote",
                "version": "1.0",
                "channel": "staging",
                "digest": chain.adapter_ref()["digest"],
                "by": "paul",
                "at": format_time(T0 + dt.timedelta(hours=1)),
            },
            {
                "seq": 2,
                "action": "promote",
                "version": "1.0",
                "channel": "production",
                "digest": chain.adapter_ref()["digest"],
                "by": "paul",
                "at": format_time(T0 + dt.timedelta(hours=2)),
            },
        ],
    }
    (chain.root / "registry").mkdir()
    (chain.root / "registry/bot.yaml").write_bytes(dump_registry(registry))
    repo = ScratchRepo(chain.root, clock=int((T0 + dt.timedelta(days=1)).timestamp()))
    repo.commit("bot@1.0 approved and in staging (March 2025)")

    with open(chain.root / "ftpolicy.yaml", "a", encoding="utf-8") as fh:
        fh.write(REGISTRY_CONFIG)
    repo.commit("registry channels configured")
    today = verify_chain(chain.root, ADAPTER)
    assert today.has("layout-expired")  # judged at the wall clock, the layout is long expired
    result = replay(chain.root, "HEAD")
    [bot] = result.adapters
    assert result.commit_time == "2025-03-02T00:01:00Z"
    assert bot.failures == [] and bot.channels == ("production", "staging"), bot.failures
    assert "promote" in {s["name"] for s in bot.chain["steps"]}
    assert bot.chain["layout"]["expires"] < format_time(utcnow())
