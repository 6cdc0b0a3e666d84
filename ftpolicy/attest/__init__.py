"""Attestations: the fine-tuning layout, signed step links, chain verification.

>>> from ftpolicy.attest import Subject, attest_step, verify_chain  # doctest: +SKIP
>>> attest_step(repo, "train", Subject.parse("adapter:bot@1.0"), signer,
...             materials=[shards], products=[adapter_dir])
>>> facts = verify_chain(repo, "adapter:bot@1.0")
>>> facts.ok, [f.code for f in facts.failures]

Modules: :mod:`~ftpolicy.attest.layout` (build/sign/load the in-toto layout),
:mod:`~ftpolicy.attest.link` (attest a step), :mod:`~ftpolicy.attest.evidence` (step
evidence files and their schemas), :mod:`~ftpolicy.attest.verify` (verify a chain).
"""

from ftpolicy.attest.evidence import adapter_digest, check_evidence, evidence_rel
from ftpolicy.attest.layout import STEPS, build_default_layout, load_signed_layout, sign_layout, write_draft
from ftpolicy.attest.link import AttestResult, attest_step, start_step, stop_step
from ftpolicy.attest.subject import Subject
from ftpolicy.attest.verify import ChainFacts, Failure, verify_chain

__all__ = [
    "STEPS",
    "AttestResult",
    "ChainFacts",
    "Failure",
    "Subject",
    "adapter_digest",
    "attest_step",
    "build_default_layout",
    "check_evidence",
    "evidence_rel",
    "load_signed_layout",
    "sign_layout",
    "start_step",
    "stop_step",
    "verify_chain",
    "write_draft",
]
