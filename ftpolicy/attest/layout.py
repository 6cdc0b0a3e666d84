"""The fine-tuning pipeline as an in-toto layout: build, sign, load.

Default pipeline (``layouts/finetune.layout``)::

    ingest → preprocess → scan → dataset-review → train → adapter-scan →
    security-eval → quality-eval → security-approval → promote

Artifact names in links are repository-relative POSIX paths (dataset shards, adapter
files, configs and eval items where the manifests place them, see
:func:`infer_artifact_classes`); step evidence is under
``attestations/<kind>/<name>/<version>/evidence/<step>.json``. Each step's rules bind its
materials to an earlier step's products (``MATCH … WITH PRODUCTS FROM …``) and every rule
list ends with ``DISALLOW *``: in in-toto a failed MATCH does not fail by itself, the
artifact stays queued and must meet an explicit DISALLOW.

``ftpolicy layout init`` writes the unsigned layout as readable JSON
(``layouts/finetune.layout.json``) for review in a pull request; ``ftpolicy layout sign``
signs it with an owner key (identities named in ``ftpolicy.yaml`` ``layout.owners``) into a
DSSE envelope (``layouts/finetune.layout``), which in-toto-verify and in-toto-golang read.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ftpolicy._internal.atomic import write_text_atomic
from ftpolicy.errors import ConfigError, ExitCode, FtpolicyError, UsageError
from ftpolicy.identities import KeyRecord, Keyring, format_time, load_keyring, utcnow

if TYPE_CHECKING:
    from in_toto.models.layout import Layout
    from in_toto.models.metadata import Metadata
    from securesystemslib.signer import Signer

PIPELINE = "finetune"
DEFAULT_LAYOUT_PATH = f"layouts/{PIPELINE}.layout"
DEFAULT_EXPIRES_DAYS = 365

STEPS: tuple[str, ...] = (
    "ingest",
    "preprocess",
    "scan",
    "dataset-review",
    "train",
    "adapter-scan",
    "security-eval",
    "quality-eval",
    "security-approval",
    "promote",
)
DATASET_STEPS = frozenset(STEPS[:4])
ADAPTER_STEPS = frozenset(STEPS[4:])

# step -> roles (keys of ftpolicy.yaml `teams`) whose members may sign it
STEP_ROLES: dict[str, tuple[str, ...]] = {
    "ingest": ("training",),
    "preprocess": ("training",),
    "scan": ("security", "scanners"),
    "dataset-review": ("data_review",),
    "train": ("training",),
    "adapter-scan": ("security", "scanners"),
    "security-eval": ("security",),
    "quality-eval": ("quality",),
    "security-approval": ("security",),
    "promote": ("publishers",),
}
# role -> team; `scanners` (automated scanner services) is not configurable in ftpolicy.yaml
DEFAULT_TEAMS: dict[str, str] = {
    "security": "security",
    "training": "ml-training",
    "quality": "ml-quality",
    "data_review": "data-review",
    "publishers": "publishers",
    "scanners": "scanners",
}


def evidence_pattern(step: str) -> str:
    """The artifact pattern of a step's evidence file."""
    return f"attestations/*/evidence/{step}.json"


@dataclass(frozen=True)
class ArtifactClasses:
    """Path patterns of each kind of artifact, as the repository lays them out.

    ``layout init`` infers them from the manifests (the first folder of every dataset
    shard, adapter file, training config and eval item path) so the rules fit the
    repository; review them in the unsigned layout before signing.
    """

    data: tuple[str, ...] = ("datasets/*",)
    adapters: tuple[str, ...] = ("adapters/*",)
    configs: tuple[str, ...] = ("config/*", "configs/*", "training/*")
    evals: tuple[str, ...] = ("evals/*",)


def _top(paths: list[str]) -> list[str]:
    out: list[str] = []
    for p in paths:
        parts = p.split("/")
        if len(parts) > 1 and f"{parts[0]}/*" not in out:
            out.append(f"{parts[0]}/*")
    return out


def infer_artifact_classes(root: Path) -> ArtifactClasses:
    """Artifact patterns from the repository's manifests (defaults where there are none)."""
    from ftpolicy.manifest import discover, kind_for_path, load_manifest

    data: list[str] = []
    adapters: list[str] = []
    configs: list[str] = []
    evals: list[str] = []
    for rel in discover(root):
        kind = kind_for_path(rel)
        if kind not in ("dataset", "adapter", "eval-suite"):
            continue
        try:
            doc = load_manifest(root, rel).data
        except FtpolicyError:
            continue  # `ftpolicy validate` reports it
        if kind == "dataset":
            data += [str(s["path"]) for s in doc.get("shards", []) if "path" in s]
        elif kind == "adapter":
            adapters += [str(f["path"]) for f in doc.get("files", [])]
            if "config_path" in doc.get("training", {}):
                configs.append(str(doc["training"]["config_path"]))
        else:
            items = doc.get("items")
            if isinstance(items, dict) and "path" in items:
                evals.append(str(items["path"]))
    default = ArtifactClasses()

    def merge(found: list[str], fixed: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(dict.fromkeys([*fixed, *_top(found)]))

    return ArtifactClasses(
        data=merge(data, default.data),
        adapters=merge(adapters, default.adapters),
        configs=merge(configs, default.configs) if configs else default.configs,
        evals=merge(evals, default.evals),
    )


def _rules(step: str, c: ArtifactClasses) -> tuple[list[str], list[str]]:
    """(material rules, product rules) of a default step; every list ends with DISALLOW *."""
    ev = evidence_pattern

    def match(patterns: tuple[str, ...], kind: str, source: str) -> list[str]:
        return [f"MATCH {p} WITH {kind} FROM {source}" for p in patterns]

    def allow(patterns: tuple[str, ...]) -> list[str]:
        return [f"ALLOW {p}" for p in patterns]

    adapter_match = match(c.adapters, "PRODUCTS", "train")
    deny = ["DISALLOW *"]
    table: dict[str, tuple[list[str], list[str]]] = {
        # sources are pinned by URI in the dataset manifest; ingest records products only
        "ingest": (deny, [*allow(c.data), f"ALLOW {ev('ingest')}", *deny]),
        "preprocess": (
            [*match(c.data, "PRODUCTS", "ingest"), *allow(c.configs), *deny],
            [*allow(c.data), f"ALLOW {ev('preprocess')}", *deny],
        ),
        "scan": ([*match(c.data, "PRODUCTS", "preprocess"), *deny], [f"ALLOW {ev('scan')}", *deny]),
        "dataset-review": (
            [*match(c.data, "MATERIALS", "scan"), f"MATCH {ev('scan')} WITH PRODUCTS FROM scan", *deny],
            [f"ALLOW {ev('dataset-review')}", *deny],
        ),
        "train": (
            [
                *match(c.data, "MATERIALS", "dataset-review"),
                f"MATCH {ev('dataset-review')} WITH PRODUCTS FROM dataset-review",
                *allow(c.configs),
                *deny,
            ],
            [*allow(c.adapters), f"ALLOW {ev('train')}", *deny],
        ),
        "adapter-scan": ([*adapter_match, *deny], [f"ALLOW {ev('adapter-scan')}", *deny]),
        "security-eval": ([*adapter_match, *allow(c.evals), *deny], [f"ALLOW {ev('security-eval')}", *deny]),
        "quality-eval": ([*adapter_match, *allow(c.evals), *deny], [f"ALLOW {ev('quality-eval')}", *deny]),
        "security-approval": (
            [
                *adapter_match,
                f"MATCH {ev('adapter-scan')} WITH PRODUCTS FROM adapter-scan",
                f"MATCH {ev('security-eval')} WITH PRODUCTS FROM security-eval",
                f"MATCH {ev('quality-eval')} WITH PRODUCTS FROM quality-eval",
                *deny,
            ],
            [f"ALLOW {ev('security-approval')}", *deny],
        ),
        "promote": (
            [
                *adapter_match,
                f"MATCH {ev('security-approval')} WITH PRODUCTS FROM security-approval",
                "ALLOW registry/*",
                *deny,
            ],
            ["ALLOW registry/*", f"ALLOW {ev('promote')}", *deny],
        ),
    }
    return table[step]


@dataclass(frozen=True)
class LayoutSettings:
    """What ``ftpolicy.yaml`` says about the layout."""

    path: str
    owners: tuple[str, ...]
    expires_days: int
    teams: dict[str, str]  # role -> team
    min_reviewers: int

    def teams_for_step(self, step: str) -> tuple[str, ...]:
        """The teams whose members may sign ``step`` (empty for a step outside the default pipeline)."""
        return tuple(dict.fromkeys(self.teams[role] for role in STEP_ROLES.get(step, ())))


def load_settings(root: Path) -> LayoutSettings:
    """Read the layout settings from ``ftpolicy.yaml`` (with defaults)."""
    from ftpolicy.manifest import CONFIG_FILE, load_manifest

    if not (root / CONFIG_FILE).is_file():
        raise UsageError(
            f"no {CONFIG_FILE} in {root}",
            hint="run `ftpolicy init` or pass --repo DIR",
            code="repo.not-found",
        )
    data = load_manifest(root, CONFIG_FILE).data
    layout = data.get("layout") or {}
    teams = dict(DEFAULT_TEAMS)
    teams.update({k: str(v) for k, v in (data.get("teams") or {}).items()})
    return LayoutSettings(
        path=str(layout.get("path", DEFAULT_LAYOUT_PATH)),
        owners=tuple(layout.get("owners", ())),
        expires_days=int(layout.get("expires_days", DEFAULT_EXPIRES_DAYS)),
        teams=teams,
        min_reviewers=int((data.get("datasets") or {}).get("min_reviewers", 2)),
    )


def draft_path(layout_path: str) -> str:
    """The unsigned, readable companion of a layout path (``….layout.json``)."""
    return f"{layout_path}.json"


@dataclass(frozen=True)
class BuiltLayout:
    """A freshly built layout and what was noticed while building it."""

    layout: Layout
    warnings: tuple[str, ...]


def build_default_layout(
    root: Path, *, expires_days: int | None = None, now: dt.datetime | None = None
) -> BuiltLayout:
    """Build the default fine-tuning layout with functionary keys taken from the teams.

    Each step's functionaries are the keys of the identities in the step's team(s),
    including revoked and expired keys (so chains signed before a key rotation keep
    verifying: ``ftpolicy verify`` checks every signature against the key's validity at
    its signing time) but not keys revoked at or before their ``valid_from``. Steps with no
    currently valid key are reported in ``warnings``.
    """
    from in_toto.models.layout import Layout, Step

    from ftpolicy.keys import public_key_dict

    settings = load_settings(root)
    ring = load_keyring(root)
    now = now or utcnow()
    days = expires_days if expires_days is not None else settings.expires_days
    warnings: list[str] = []
    classes = infer_artifact_classes(root)
    for name_a, pats_a in (("data", classes.data), ("adapters", classes.adapters)):
        overlap = set(pats_a) & set(classes.configs)
        if overlap:
            warnings.append(
                f"{name_a} and training configs share {sorted(overlap)}: unreviewed files could pass"
            )
    layout = Layout()
    layout.expires = format_time(now + dt.timedelta(days=days))
    layout.readme = (
        f"ftpolicy {PIPELINE} pipeline layout v1: "
        + " -> ".join(STEPS)
        + ". Artifact names are repository-relative paths. Built by `ftpolicy layout init`."
    )
    steps = []
    for name in STEPS:
        teams = settings.teams_for_step(name)
        team = " or ".join(teams)
        # Revoked and expired keys stay functionaries so chains signed before the revocation
        # keep verifying (ftpolicy checks each signature's time); a key revoked at or before
        # its valid_from never counted and is left out, so the reference tools reject it too.
        records = sorted(
            {r.keyid: r for t in teams for r in ring.team_keys(t) if not _never_valid(r)}.values(),
            key=lambda r: r.keyid,
        )
        for rec in records:
            layout.add_functionary_key(public_key_dict(rec.key))
        threshold = settings.min_reviewers if name == "dataset-review" else 1
        members = {r.identity for r in records if ring.key_valid_at(r.keyid, now).ok}
        if not members:
            warnings.append(f"step {name}: no valid key in team '{team}' (add an identity with that team)")
        elif len(members) < threshold:
            warnings.append(
                f"step {name}: needs {threshold} distinct identities of team '{team}', found {len(members)}"
            )
        step = Step(name=name, threshold=threshold, pubkeys=[r.keyid for r in records])
        materials, products = _rules(name, classes)
        for rule in materials:
            step.add_material_rule_from_string(rule)
        for rule in products:
            step.add_product_rule_from_string(rule)
        steps.append(step)
    layout.steps = steps
    layout.validate()
    return BuiltLayout(layout, tuple(warnings))


def _never_valid(rec: KeyRecord) -> bool:
    """A key revoked at or before the start of its validity never signed anything that counts."""
    return rec.revoked_at is not None and rec.valid_from is not None and rec.revoked_at <= rec.valid_from


def layout_to_json(layout: Layout) -> str:
    """Readable JSON of an unsigned layout."""
    import attr

    return json.dumps(attr.asdict(layout), indent=2, sort_keys=True) + "\n"


def write_draft(root: Path, built: BuiltLayout) -> str:
    """Write the unsigned layout next to the layout path; returns its repo-relative path."""
    rel = draft_path(load_settings(root).path)
    write_text_atomic(root / rel, layout_to_json(built.layout))
    return rel


def read_draft(root: Path, rel: str | None = None) -> Layout:
    """Read the unsigned layout JSON written by :func:`write_draft`."""
    import securesystemslib.exceptions
    from in_toto.models.layout import Layout

    rel = rel or draft_path(load_settings(root).path)
    path = root / rel
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(
            f"{rel}: no such file", hint="run `ftpolicy layout init` first", code="layout.missing"
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{rel}: not valid JSON ({exc})", code="layout.invalid") from None
    try:
        return Layout.read(data)
    except (securesystemslib.exceptions.FormatError, KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"{rel}: not an in-toto layout ({exc})", code="layout.invalid") from None


def owner_keyids(settings: LayoutSettings, ring: Keyring) -> list[str]:
    """Keyids of every key held by a layout owner identity."""
    return [rec.keyid for owner in settings.owners for rec in ring.identity_keys(owner)]


def sign_layout(
    root: Path,
    signer: Signer,
    *,
    expires_days: int | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, str]:
    """Sign the draft layout with an owner key into a DSSE envelope; returns (path, expires).

    The signer's key must belong to an identity listed in ``ftpolicy.yaml`` ``layout.owners``
    and be valid now. The expiry is set at signing time: now + ``expires_days`` (default
    from ``layout.expires_days``).
    """
    from in_toto.models.metadata import Envelope
    from securesystemslib.signer import Signature

    from ftpolicy.keys import golang_keyid

    settings = load_settings(root)
    ring = load_keyring(root)
    now = now or utcnow()
    if not settings.owners:
        raise ConfigError(
            "ftpolicy.yaml names no layout owner",
            hint="add `layout: {owners: [IDENTITY]}` to ftpolicy.yaml (an identity in identities/)",
            code="layout.no-owner",
        )
    keyid = signer.public_key.keyid
    rec = ring.get(keyid)
    if rec is None or rec.identity not in settings.owners:
        who = f"identity {rec.identity}" if rec else "no identity in identities/"
        raise LayoutSignError(
            f"key {keyid[:8]} belongs to {who}, not to a layout owner ({', '.join(settings.owners)})",
            hint="sign with a key of an identity listed in ftpolicy.yaml layout.owners",
            code="layout.not-owner",
        )
    status = ring.key_valid_at(keyid, now)
    if not status.ok:
        raise LayoutSignError(status.message, hint="sign with a currently valid owner key", code="layout.key")
    layout = read_draft(root)
    days = expires_days if expires_days is not None else settings.expires_days
    layout.expires = format_time(now + dt.timedelta(days=days))
    layout.validate()
    env = Envelope.from_signable(layout)
    signature = env.create_signature(signer)
    alias = golang_keyid(signer.public_key)  # type: ignore[arg-type]
    if alias != signature.keyid:
        env.signatures[alias] = Signature(alias, signature.signature)
    text = json.dumps(env.to_dict(), indent=2, sort_keys=True) + "\n"
    write_text_atomic(root / settings.path, text)
    return settings.path, layout.expires


class LayoutSignError(FtpolicyError):
    """The key given cannot sign the layout (not an owner's, or not valid now)."""

    code = "layout.not-owner"
    exit_code = ExitCode.VIOLATION


class LayoutLoadError(FtpolicyError):
    """The signed layout is missing or unreadable."""

    code = "layout.invalid"


def load_signed_layout(root: Path, rel: str | None = None) -> tuple[Metadata, Layout, str]:
    """Read the signed layout (DSSE envelope or legacy Metablock): (metadata, layout, path)."""
    import securesystemslib.exceptions
    from in_toto.exceptions import InvalidMetadata
    from in_toto.models.layout import Layout
    from in_toto.models.metadata import Metadata

    rel = rel or load_settings(root).path
    path = root / rel
    if not path.is_file():
        raise LayoutLoadError(
            f"{rel}: no signed layout",
            hint="run `ftpolicy layout init` and `ftpolicy layout sign --key OWNER_KEY`",
            code="layout-missing",
        )
    try:
        md = Metadata.load(str(path))
        payload: Any = md.get_payload()
    except (
        InvalidMetadata,
        securesystemslib.exceptions.FormatError,
        ValueError,
        KeyError,
        TypeError,
    ) as exc:
        raise LayoutLoadError(f"{rel}: not in-toto layout metadata ({exc})", code="layout-invalid") from None
    if not isinstance(payload, Layout):
        raise LayoutLoadError(f"{rel}: holds a {type(payload).__name__}, not a layout", code="layout-invalid")
    return md, payload, rel


def signature_keyids(md: Metadata) -> list[str]:
    """Keyids of the signatures on DSSE or Metablock metadata."""
    sigs: Any = getattr(md, "signatures", None)
    if isinstance(sigs, dict):
        return list(sigs)
    if isinstance(sigs, list):
        return [str(s.get("keyid")) for s in sigs if isinstance(s, dict)]
    return []
