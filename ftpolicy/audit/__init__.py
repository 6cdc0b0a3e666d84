"""Compliance audit: replay verification at any past commit and the registry audit log.

:mod:`ftpolicy.audit.view`
    a read-only view of the governed repository at a Git revision (Git objects only; works
    in a bare clone; the work tree is never read or written).
:mod:`ftpolicy.audit.replay`
    ``ftpolicy audit replay``: re-verify every adapter version in a registry channel as of a
    revision, with the layout, identities, attestations and policies of that revision.
:mod:`ftpolicy.audit.log`
    ``ftpolicy audit log``: promotions, rollbacks and revocations cross-checked against Git
    history (append-only registry history, attestations never rewritten).
"""

from __future__ import annotations
