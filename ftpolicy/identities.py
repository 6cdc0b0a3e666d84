"""Identities: who holds which public key, in which teams, valid when.

``identities/<name>.yaml`` (schema ``identity.v1``) lists a person or service, its teams
and its keys. :func:`load_keyring` turns them into a :class:`Keyring` indexed by in-toto
keyid. A key counts for a signature only inside its validity window
(``valid_from`` .. ``valid_until``) and only for signatures made before its
``revoked_at`` time (:meth:`Keyring.key_valid_at`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy._internal.atomic import write_text_atomic
from ftpolicy.errors import Location, ManifestError, UsageError

if TYPE_CHECKING:
    from securesystemslib.signer import SSlibKey

IDENTITIES_DIR = "identities"


def parse_time(value: Any, *, where: str = "time") -> dt.datetime:
    """An aware UTC datetime from an RFC 3339 string (or a datetime)."""
    if isinstance(value, dt.datetime):
        out = value
    elif isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            out = dt.datetime.fromisoformat(text)
        except ValueError:
            raise UsageError(
                f"{where}: {value!r} is not an RFC 3339 date-time",
                hint="write e.g. 2026-11-02T09:00:00Z",
            ) from None
    else:
        raise UsageError(f"{where}: expected an RFC 3339 date-time, got {value!r}")
    if out.tzinfo is None:
        out = out.replace(tzinfo=dt.UTC)
    return out.astimezone(dt.UTC)


def format_time(value: dt.datetime) -> str:
    """RFC 3339 in UTC with a ``Z`` suffix and whole seconds."""
    return value.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def utcnow() -> dt.datetime:
    """The current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class KeyRecord:
    """One public key of one identity, with its validity window."""

    keyid: str
    identity: str
    teams: tuple[str, ...]
    scheme: str
    public_key_path: str
    key: SSlibKey = field(compare=False, repr=False)
    valid_from: dt.datetime | None = None
    valid_until: dt.datetime | None = None
    revoked_at: dt.datetime | None = None
    revocation_reason: str | None = None
    location: Location | None = field(default=None, compare=False)


@dataclass(frozen=True)
class KeyStatus:
    """Whether a key counted at a time; ``reason`` is a stable code when it did not."""

    ok: bool
    reason: str | None = None  # key-unknown | key-not-yet-valid | key-expired | key-revoked
    message: str = ""


@dataclass(frozen=True)
class IdentityInfo:
    """A person or service and its teams."""

    name: str
    type: str
    teams: tuple[str, ...]
    path: str


@dataclass
class Keyring:
    """Public keys of a governed repository indexed by keyid."""

    keys: dict[str, KeyRecord] = field(default_factory=dict)
    identities: dict[str, IdentityInfo] = field(default_factory=dict)

    def get(self, keyid: str) -> KeyRecord | None:
        """The key record for ``keyid``, or None when no identity lists it."""
        return self.keys.get(keyid)

    def key_valid_at(self, keyid: str, when: dt.datetime) -> KeyStatus:
        """Did ``keyid`` count for a signature made at ``when``?

        A key revoked at T does not count for signatures made at or after T; a key
        counts only between ``valid_from`` and ``valid_until`` (both inclusive).
        """
        rec = self.keys.get(keyid)
        if rec is None:
            return KeyStatus(False, "key-unknown", f"key {keyid[:8]} is not listed in {IDENTITIES_DIR}/")
        if rec.revoked_at is not None and when >= rec.revoked_at:
            why = f" ({rec.revocation_reason})" if rec.revocation_reason else ""
            return KeyStatus(
                False,
                "key-revoked",
                f"key {keyid[:8]} of {rec.identity} was revoked at {format_time(rec.revoked_at)}{why}, "
                f"signature made {format_time(when)}",
            )
        if rec.valid_from is not None and when < rec.valid_from:
            return KeyStatus(
                False,
                "key-not-yet-valid",
                f"key {keyid[:8]} of {rec.identity} is valid from {format_time(rec.valid_from)}, "
                f"signature made {format_time(when)}",
            )
        if rec.valid_until is not None and when > rec.valid_until:
            return KeyStatus(
                False,
                "key-expired",
                f"key {keyid[:8]} of {rec.identity} expired at {format_time(rec.valid_until)}, "
                f"signature made {format_time(when)}",
            )
        return KeyStatus(True)

    def team_members(self, team: str) -> list[str]:
        """Names of the identities in ``team``, sorted."""
        return sorted(i.name for i in self.identities.values() if team in i.teams)

    def team_keys(self, team: str, *, at: dt.datetime | None = None) -> list[KeyRecord]:
        """Keys of every identity in ``team`` (only those valid at ``at`` when given), by keyid."""
        out = [
            rec
            for rec in self.keys.values()
            if team in rec.teams and (at is None or self.key_valid_at(rec.keyid, at).ok)
        ]
        return sorted(out, key=lambda r: r.keyid)

    def identity_keys(self, identity: str) -> list[KeyRecord]:
        """Keys of one identity, by keyid."""
        return sorted((r for r in self.keys.values() if r.identity == identity), key=lambda r: r.keyid)


def identity_files(root: Path) -> list[str]:
    """Repo-relative paths of the identity manifests (``teams.yaml`` excluded), sorted."""
    folder = root / IDENTITIES_DIR
    if not folder.is_dir():
        return []
    return sorted(
        f"{IDENTITIES_DIR}/{p.name}"
        for p in folder.glob("*.yaml")
        if p.name != "teams.yaml" and (p.is_file() or p.is_symlink())
    )


def load_keyring(root: Path) -> Keyring:
    """Load every identity manifest and its public keys.

    Raises :class:`ManifestError` when a manifest is invalid, a public key file is
    missing or unreadable, its keyid or scheme differs from the manifest, or one key is
    listed by two identities.
    """
    from ftpolicy.keys import load_public_key
    from ftpolicy.manifest import confine, load_manifest

    ring = Keyring()
    for rel in identity_files(root):
        manifest = load_manifest(root, rel)
        data = manifest.data
        name = str(data["name"])
        teams = tuple(str(t) for t in data.get("teams", []))
        ring.identities[name] = IdentityInfo(name, str(data["type"]), teams, rel)
        for i, entry in enumerate(data.get("keys", [])):
            where = manifest.location(f"/keys/{i}")
            pub_rel = str(entry["public_key"])
            key = load_public_key(confine(root, pub_rel))
            declared = str(entry["keyid"])
            if key.keyid != declared:
                raise ManifestError(
                    f"keyid {declared[:12]}… does not match the public key {pub_rel} "
                    f"(its keyid is {key.keyid})",
                    hint=f"set keyid: {key.keyid}",
                    location=manifest.location(f"/keys/{i}/keyid"),
                    code="identity.keyid-mismatch",
                )
            if key.scheme != entry["scheme"]:
                raise ManifestError(
                    f"scheme {entry['scheme']} does not match the public key {pub_rel} ({key.scheme})",
                    hint=f"set scheme: {key.scheme}",
                    location=manifest.location(f"/keys/{i}/scheme"),
                    code="identity.scheme-mismatch",
                )
            if declared in ring.keys:
                other = ring.keys[declared]
                raise ManifestError(
                    f"key {declared[:12]}… is listed by both {other.identity} and {name}",
                    hint="a key belongs to exactly one identity; remove it from one of them",
                    location=where,
                    code="identity.duplicate-key",
                )

            ring.keys[declared] = KeyRecord(
                keyid=declared,
                identity=name,
                teams=teams,
                scheme=key.scheme,
                public_key_path=pub_rel,
                key=key,
                valid_from=_entry_time(entry, "valid_from", f"{rel}: /keys/{i}"),
                valid_until=_entry_time(entry, "valid_until", f"{rel}: /keys/{i}"),
                revoked_at=_entry_time(entry, "revoked_at", f"{rel}: /keys/{i}"),
                revocation_reason=entry.get("revocation_reason"),
                location=where,
            )
    return ring


def _entry_time(entry: dict[str, Any], name: str, where: str) -> dt.datetime | None:
    value = entry.get(name)
    return None if value is None else parse_time(value, where=f"{where}/{name}")


def identity_snippet(
    name: str, *, keyid: str, public_key: str, scheme: str, teams: list[str], kind: str = "person"
) -> str:
    """YAML text of a new identity manifest holding one key."""
    import yaml

    doc = _identity_doc(name, kind, teams, [_key_entry(keyid, public_key, scheme)])
    return str(yaml.safe_dump(doc, sort_keys=False, default_flow_style=False))


def _key_entry(keyid: str, public_key: str, scheme: str) -> dict[str, Any]:
    return {"keyid": keyid, "public_key": public_key, "scheme": scheme, "valid_from": format_time(utcnow())}


def _identity_doc(name: str, kind: str, teams: list[str], keys: list[dict[str, Any]]) -> dict[str, Any]:
    return {"schema_version": 1, "kind": "identity", "name": name, "type": kind, "teams": teams, "keys": keys}


def add_key_to_identity(
    root: Path,
    name: str,
    *,
    keyid: str,
    public_key: str,
    scheme: str,
    teams: list[str],
    kind: str = "person",
) -> str:
    """Create ``identities/NAME.yaml`` or add the key (and teams) to it; atomic; returns the path.

    The result is validated against the identity schema before it replaces the file.
    """
    import yaml

    from ftpolicy.keys import check_name
    from ftpolicy.manifest import load_manifest, parse_manifest

    check_name(name, "identity name")
    rel = f"{IDENTITIES_DIR}/{name}.yaml"
    path = root / rel
    if path.exists():
        data = dict(load_manifest(root, rel).data)
        keys = list(data.get("keys", []))
        if not any(k.get("keyid") == keyid for k in keys):
            keys.append(_key_entry(keyid, public_key, scheme))
        data["keys"] = keys
        current = list(data.get("teams", []))
        data["teams"] = current + [t for t in teams if t not in current]
    else:
        data = _identity_doc(name, kind, teams, [_key_entry(keyid, public_key, scheme)])
    text = yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
    parse_manifest(rel, text.encode("utf-8"), kind="identity", root=root)  # never write an invalid file
    write_text_atomic(path, text)
    return rel
