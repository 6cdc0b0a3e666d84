from __future__ import annotations

from ftpolicy.attest import verify_chain

from .conftest import ADAPTER, Chain


def test_honest_chain_verifies(chain: Chain) -> None:
    facts = verify_chain(chain.root, ADAPTER)
    assert facts.failures == [], facts.failures
    assert facts.in_toto == "passed"
