"""The adapter registry: channels, append-only history, promote / rollback / revoke.

>>> from ftpolicy.registry import promote, rollback, revoke  # doctest: +SKIP
>>> promote(repo, "bot@1.0", "staging", Path("~/.ftpolicy/keys/paul.pem"))
"""

from ftpolicy.registry.ops import (
    Outcome,
    RegistrySettings,
    is_revoked,
    load_settings,
    promote,
    render_registry,
    revoke,
    revoked_versions,
    rollback,
)
from ftpolicy.registry.store import (
    RegistryError,
    check_extends,
    dump_registry,
    load_registry,
    locked,
    registry_rel,
    write_registry,
)

__all__ = [
    "Outcome",
    "RegistryError",
    "RegistrySettings",
    "check_extends",
    "dump_registry",
    "is_revoked",
    "load_registry",
    "load_settings",
    "locked",
    "promote",
    "registry_rel",
    "render_registry",
    "revoke",
    "revoked_versions",
    "rollback",
    "write_registry",
]
