"""Adapter signatures with OpenSSF model signing (key-based, offline, interoperable).

>>> from ftpolicy.signing import sign_adapter, verify_adapter_signature  # doctest: +SKIP
>>> sign_adapter(repo, "support-bot@1.0.0", Path("~/.ftpolicy/keys/erin.pem"))
>>> verify_adapter_signature(repo, "support-bot@1.0.0").ok
"""

from ftpolicy.signing.model_signature import (
    METHOD,
    REASON,
    SignatureCheck,
    SigningError,
    SignResult,
    sign_adapter,
    signature_rel,
    verify_adapter_signature,
)

__all__ = [
    "METHOD",
    "REASON",
    "SignResult",
    "SignatureCheck",
    "SigningError",
    "sign_adapter",
    "signature_rel",
    "verify_adapter_signature",
]
