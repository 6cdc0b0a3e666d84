"""Build the policy input document (``ftpolicy/policy-input/v1``) from verified facts.

The document is the only thing Rego sees. Everything in it was read from Git objects at the
head revision (never the work tree), parsed and schema-checked, except the shard digests of
local data files, which are hashed here because Rego cannot read files. A fact that could not
be verified is absent, and the reason is listed in ``problems`` (the ``manifest/invalid``
rule denies on each): a referenced manifest that fails to parse is never half-present.

>>> from ftpolicy.git import GitRepo
>>> with GitRepo.open(root) as git:                                    # doctest: +SKIP
...     doc = build_input(git, root=root, base="origin/main").document
>>> doc["schema"], [m["path"] for m in doc["manifests"] if m["subject"]]  # doctest: +SKIP
('ftpolicy/policy-input/v1', ['datasets/chats/2.0.0.yaml'])

Shape (the JSON Schema is ``schemas/policy-input.v1.schema.json``)::

    schema, now, mode ("diff" | "full")
    git:        head, base, merge_base, shallow, changed[{status, path, old_path?}], commits[...]
    config:     ftpolicy.yaml at head with defaults filled, plus exceptions and adapters
    identities: {name: {type, teams, email?, keys[]}}, teams: {name: {...}}
    manifests:  [{path, kind, ref?, subject, change?, data, lines{pointer: line}, base?}]
    problems:   [{path, message, code, line?, pointer?, hint?}]
    shards_verified: [{manifest, pointer, line, path, expected, actual, match}]
    policy:     {packages[]}
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from ftpolicy.errors import ConfigError, FtpolicyError, Location, ManifestError, UsageError
from ftpolicy.git import ChangedPath, CommitInfo, GitRepo
from ftpolicy.hashing.digest import sha256_file
from ftpolicy.manifest import (
    CONFIG_FILE,
    Manifest,
    Problem,
    check_manifest,
    confine,
    kind_for_path,
    path_fields,
)
from ftpolicy.manifest.yamlsafe import Positions
from ftpolicy.policy._cache import ParseCache

__all__ = [
    "ALL_CATEGORIES",
    "DEFAULT_LICENCE_ALLOWLIST",
    "INPUT_SCHEMA",
    "PolicyInput",
    "build_input",
    "config_with_defaults",
    "format_now",
]

INPUT_SCHEMA = "ftpolicy/policy-input/v1"
"""Value of the ``schema`` field; bumped when the document changes incompatibly."""

ALL_CATEGORIES = ("prompt-injection", "secret-leakage", "unsafe-code", "refusal")
"""The four security categories every holdout suite covers unless configured otherwise."""

DEFAULT_LICENCE_ALLOWLIST = (
    "Apache-2.0",
    "MIT",
    "BSD-2-Clause",
    "BSD-3-Clause",
    "CC0-1.0",
    "CC-BY-4.0",
    "internal",
)
"""Licences accepted when ``datasets.licence_allowlist`` is not set in ftpolicy.yaml."""

DEFAULT_TEAMS = {
    "security": "security",
    "training": "ml-training",
    "quality": "ml-quality",
    "data_review": "data-review",
    "publishers": "publishers",
}

Mode = Literal["diff", "full"]


@dataclass(frozen=True)
class PolicyInput:
    """The input document and what the caller needs to report on it."""

    document: dict[str, Any]
    mode: Mode
    head: str
    base: str | None
    prefix: str  # the governed repository's folder inside the Git repository ("" or "a/b/")
    subjects: tuple[str, ...]  # manifests under judgement, governed-repo-relative
    changed: tuple[str, ...]  # changed paths under the governed repository (diff mode)
    notes: tuple[str, ...] = field(default=())
    positions: Mapping[str, Positions] = field(default_factory=dict, repr=False)  # path -> field lines

    def line(self, path: str, pointer: str) -> int | None:
        """Line of the field ``pointer`` in manifest ``path`` (or of its nearest parent), if known."""
        found = self.positions.get(path)
        return found.line(pointer) if found is not None else None


def format_now(moment: datetime | None = None) -> str:
    """An RFC 3339 UTC timestamp with second precision (``2026-11-28T10:00:00Z``)."""
    moment = moment or datetime.now(UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def config_with_defaults(data: Mapping[str, Any]) -> dict[str, Any]:
    """``ftpolicy.yaml`` as policies see it: every default filled in.

    ``exceptions`` (waivers) come from ``policy_params.exceptions``; ``adapters`` carries
    ``policy_params.forbidden_weight_extensions`` (added to the pickle formats always refused).
    """
    cfg: dict[str, Any] = copy.deepcopy(dict(data))
    datasets = cfg.setdefault("datasets", {})
    datasets.setdefault("licence_allowlist", list(DEFAULT_LICENCE_ALLOWLIST))
    datasets.setdefault("untrusted_source_kinds", ["user-generated"])
    datasets.setdefault("min_reviewers", 2)  # as the layout's dataset-review threshold
    evals = cfg.setdefault("evals", {})
    evals.setdefault("required_categories", list(ALL_CATEGORIES))
    evals.setdefault("max_age_days", 90)
    cfg["teams"] = {**DEFAULT_TEAMS, **cfg.get("teams", {})}
    engine = cfg.setdefault("engine", {})
    engine.setdefault("name", "embedded")
    engine.setdefault("extra_policies", "policies")
    params = cfg.setdefault("policy_params", {})
    exceptions = params.get("exceptions", [])
    if not isinstance(exceptions, list):
        raise ConfigError(
            "policy_params.exceptions must be a list of waivers",
            hint="write each waiver as {rule, owner, reason, expires: YYYY-MM-DD, path?}",
            location=Location(CONFIG_FILE),
        )
    cfg["exceptions"] = exceptions
    extra = params.get("forbidden_weight_extensions", [])
    if not isinstance(extra, list) or not all(isinstance(e, str) for e in extra):
        raise ConfigError(
            "policy_params.forbidden_weight_extensions must be a list of file extensions",
            location=Location(CONFIG_FILE),
        )
    cfg["adapters"] = {"forbidden_extensions": extra}
    return cfg


def _governed_prefix(git: GitRepo, root: Path) -> str:
    try:
        rel = Path(root).resolve().relative_to(git.root)
    except ValueError:
        raise UsageError(
            f"{root} is not inside the Git repository {git.root}",
            hint="pass --repo a folder of the Git repository that holds ftpolicy.yaml",
        ) from None
    text = rel.as_posix()
    return "" if text in ("", ".") else text + "/"


def _lines(manifest: Manifest) -> dict[str, int]:
    """Lines of the top-level keys (``/name`` -> 3).

    Deeper fields are located after evaluation: a violation names its field by ``pointer`` and
    ftpolicy resolves the line from :attr:`PolicyInput.positions`. Keeping the map small keeps
    the document small, which is what the embedded engine's speed depends on.
    """
    return {ptr: pos[0] for ptr, pos in manifest.positions.by_pointer.items() if ptr.count("/") == 1}


def _problem(
    path: str,
    message: str,
    *,
    line: int | None = None,
    pointer: str | None = None,
    hint: str | None = None,
    code: str = "manifest.invalid",
) -> dict[str, Any]:
    out: dict[str, Any] = {"path": path, "message": message, "code": code}
    if line is not None:
        out["line"] = line
    if pointer is not None:
        out["pointer"] = pointer
    if hint:
        out["hint"] = hint
    return out


def _parse(
    path: str, raw: bytes, root: Path, cache: ParseCache | None = None, used: set[str] | None = None
) -> tuple[Manifest | None, list[dict[str, Any]]]:
    """A valid manifest, or None and the problems that make it unverifiable.

    The content checks (YAML, schema, name/place) may come from ``cache``; the work-tree checks
    (paths in the manifest must not leave the repository through a symlink) run every time.
    """
    key = None
    hit = None
    if cache is not None:
        key = cache.key(path, raw)
        hit = cache.get(key)
        if used is not None:
            used.add(key)
    if hit is None:
        hit = content_entry(path, raw)
        if cache is not None and key is not None:
            cache.put(key, hit)
    if not hit["ok"]:
        return None, [dict(p) for p in hit["problems"]]
    positions = Positions(by_pointer={p: (int(v[0]), int(v[1])) for p, v in hit["pos"].items()})
    # No copy: an entry serves one manifest per check and is saved before the document leaves build_input.
    manifest = Manifest(kind=hit["kind"], path=path, data=hit["data"], positions=positions)
    escapes = []
    for pointer, rel in path_fields(manifest.kind, manifest.data):
        try:
            confine(root, rel)
        except FtpolicyError as exc:
            escapes.append(
                _problem(
                    path,
                    exc.message,
                    line=positions.line(pointer),
                    pointer=pointer,
                    hint=exc.hint,
                    code=exc.code,
                )
            )
    if escapes:
        return None, escapes
    return manifest, []


def content_entry(path: str, raw: bytes) -> dict[str, Any]:
    """The content checks of one manifest as a JSON-serialisable parse-cache entry."""
    manifest, problems = _parse_content(path, raw)
    if manifest is None:
        return {"ok": False, "problems": problems}
    return {"ok": True, "kind": manifest.kind, "data": manifest.data, "pos": manifest.positions.by_pointer}


def _parse_content(path: str, raw: bytes) -> tuple[Manifest | None, list[dict[str, Any]]]:
    try:
        manifest, problems = check_manifest(path, raw)
    except FtpolicyError as exc:  # YAML-level: nothing could be read
        loc = exc.location
        return None, [
            _problem(path, exc.message, line=loc.line if loc else None, hint=exc.hint, code=exc.code)
        ]
    if problems:
        return None, [_from_problem(manifest, p) for p in problems]
    return manifest, []


def _from_problem(manifest: Manifest, p: Problem) -> dict[str, Any]:
    return _problem(
        manifest.path,
        p.message,
        line=manifest.positions.line(p.pointer),
        pointer=p.pointer,
        hint=p.hint,
        code=p.code,
    )


def _entry(manifest: Manifest, *, subject: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "path": manifest.path,
        "kind": manifest.kind,
        "subject": subject,
        "data": manifest.data,
        "lines": _lines(manifest),
    }
    if manifest.ref:
        out["ref"] = manifest.ref
    return out


def _references(manifest: Manifest) -> list[tuple[str, str, str]]:
    """(pointer, NAME@VERSION, path) of the manifests this one names (parent, adapter datasets)."""
    data = manifest.data
    if manifest.kind == "dataset" and isinstance(data.get("parent"), str):
        ref = f"{data['name']}@{data['parent']}"
        return [("/parent", ref, f"datasets/{data['name']}/{data['parent']}.yaml")]
    if manifest.kind == "adapter":
        out = []
        for i, ref in enumerate(data.get("datasets", [])):
            if isinstance(ref, str) and ref.count("@") == 1:
                name, version = ref.split("@")
                out.append((f"/datasets/{i}", ref, f"datasets/{name}/{version}.yaml"))
        return out
    return []


_FEW = 64


def _read_many(git: GitRepo, rev: str, paths: Sequence[str]) -> dict[str, bytes | None]:
    """Blobs of ``paths`` at ``rev``: one by one for a few (cheap), in one batch for many.

    ``read_blobs`` lists the whole tree once, which dominates a small diff check of a large
    repository; ``read_blob`` walks only the folders on the path.
    """
    if len(paths) <= _FEW:
        return {p: git.read_blob(rev, p) for p in paths}
    return git.read_blobs(rev, paths)


def _commit(info: CommitInfo) -> dict[str, Any]:
    signature: dict[str, Any] = {"status": info.signature}
    if info.signer_key:
        signature["key"] = info.signer_key
    return {
        "sha": info.sha,
        "author": {"name": info.author_name, "email": info.author_email, "time": info.author_time},
        "committer": {
            "name": info.committer_name,
            "email": info.committer_email,
            "time": info.committer_time,
        },
        "subject": info.message_subject,
        "signature": signature,
    }


def _strip(prefix: str, path: str | None) -> str | None:
    if path is None:
        return None
    if not prefix:
        return path
    return path[len(prefix) :] if path.startswith(prefix) else None


def _changes(prefix: str, changes: Iterable[ChangedPath]) -> list[dict[str, Any]]:
    out = []
    for c in changes:
        path, old = _strip(prefix, c.path), _strip(prefix, c.old_path)
        if path is None and old is None:
            continue
        if path is None:  # moved out of the governed repository: it was deleted from it
            out.append({"status": "deleted", "path": old})
            continue
        entry: dict[str, Any] = {"status": c.status, "path": path}
        if old is not None:
            entry["old_path"] = old
        elif c.status in ("renamed", "copied"):
            entry["status"] = "added"  # moved in from outside the governed repository
        out.append(entry)
    return out


def _verify_shards(manifest: Manifest, root: Path, problems: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Digests of the shards that exist as local files (work tree), compared with the manifest."""
    out = []
    for i, shard in enumerate(manifest.data.get("shards", [])):
        rel = shard.get("path") if isinstance(shard, dict) else None
        if not isinstance(rel, str):
            continue
        pointer = f"/shards/{i}/path"
        try:
            local = confine(root, rel)
        except FtpolicyError as exc:
            problems.append(
                _problem(
                    manifest.path,
                    exc.message,
                    line=manifest.positions.line(pointer),
                    pointer=pointer,
                    hint=exc.hint,
                    code=exc.code,
                )
            )
            continue
        if not local.is_file():
            continue
        actual = sha256_file(local)
        out.append(
            {
                "manifest": manifest.path,
                "pointer": f"/shards/{i}/sha256",
                "line": manifest.positions.line(f"/shards/{i}/sha256") or 1,
                "path": rel,
                "expected": shard.get("sha256"),
                "actual": actual,
                "match": actual == shard.get("sha256"),
            }
        )
    return out


def _read_config(git: GitRepo, head: str, prefix: str, root: Path) -> dict[str, Any]:
    raw = git.read_blob(head, prefix + CONFIG_FILE)
    if raw is None:
        raise ConfigError(
            f"no {CONFIG_FILE} at {prefix or './'} in revision {head[:12]}",
            hint="commit ftpolicy.yaml (ftpolicy init creates one), or pass --repo the governed repository",
            code="config.missing",
        )
    try:
        manifest, problems = check_manifest(CONFIG_FILE, raw, kind="config", root=root)
    except ManifestError as exc:
        raise ConfigError(exc.message, hint=exc.hint, location=exc.location, code="config.invalid") from None
    if problems:
        p = problems[0]
        raise ConfigError(
            f"{p.message} (at {head[:12]})",
            hint=p.hint,
            location=Location(CONFIG_FILE, manifest.positions.line(p.pointer), None, p.pointer),
            code="config.invalid",
        )
    return config_with_defaults(manifest.data)


def _identities(
    git: GitRepo, head: str, prefix: str, root: Path, notes: list[str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    files = [p for p in git.list_files(head, prefix + "identities") if p.endswith(".yaml")]
    blobs = _read_many(git, head, files)
    identities: dict[str, Any] = {}
    teams: dict[str, Any] = {}
    for full, raw in sorted(blobs.items()):
        path = full[len(prefix) :]
        kind = kind_for_path(path)
        if raw is None or kind not in ("identity", "teams"):
            continue
        manifest, _ = _parse(path, raw, root)
        if manifest is None:
            notes.append(f"{path} is not valid and was left out of the identities")
            continue
        if kind == "teams":
            teams = dict(manifest.data.get("teams", {}))
        else:
            d = manifest.data
            entry: dict[str, Any] = {"type": d["type"], "teams": list(d.get("teams", []))}
            if "email" in d:
                entry["email"] = d["email"]
            entry["keys"] = [
                {
                    k: key[k]
                    for k in ("keyid", "scheme", "valid_from", "valid_until", "revoked_at")
                    if k in key
                }
                for key in d.get("keys", [])
            ]
            identities[d["name"]] = entry
    return identities, teams


def build_input(
    git: GitRepo,
    *,
    root: Path,
    head: str = "HEAD",
    base: str | None = None,
    now: str | None = None,
    packages: Sequence[str] = (),
) -> PolicyInput:
    """Collect the verified facts of a check into the policy input document.

    ``root`` is the governed repository's folder (it may sit inside a larger Git repository);
    ``base`` selects a diff check (what changed on ``head`` since it left ``base``, plus the
    manifests it references), no ``base`` a full check of every manifest at ``head``.
    ``packages`` lists the users' ``ftpolicy.*`` packages ``ftpolicy.main`` must collect.
    Raises :class:`ConfigError` (ftpolicy.yaml missing or invalid) and Git errors.
    """
    root = Path(root).resolve()
    prefix = _governed_prefix(git, root)
    head_sha = git.rev_parse(head)
    notes: list[str] = []
    config = _read_config(git, head_sha, prefix, root)

    base_sha = merge_base = None
    changed: list[dict[str, Any]] = []
    commits: list[dict[str, Any]] = []
    if base is not None:
        base_sha = git.rev_parse(base)
        changed = _changes(prefix, git.changed_paths(base_sha, head_sha))
        merge_base = git.merge_base(base_sha, head_sha)
        commits = [_commit(c) for c in git.commits_between(merge_base or base_sha, head_sha)]
        subject_paths = sorted(
            c["path"] for c in changed if c["status"] != "deleted" and kind_for_path(c["path"]) is not None
        )
    else:
        subject_paths = sorted(
            p[len(prefix) :] for p in git.list_files(head_sha, prefix) if kind_for_path(p[len(prefix) :])
        )

    manifests: dict[str, dict[str, Any]] = {}
    parsed: dict[str, Manifest] = {}
    referenced: dict[str, Manifest] = {}
    problems: list[dict[str, Any]] = []
    blobs = _read_many(git, head_sha, [prefix + p for p in subject_paths])
    cache = ParseCache(root) if len(subject_paths) > _FEW else None
    used: set[str] = set()
    if cache is not None:  # parse what the cache lacks, on every CPU when there is much of it
        cache.prefill(
            [(p, raw) for p in subject_paths if (raw := blobs[prefix + p]) is not None], content_entry
        )
    for path in subject_paths:
        raw = blobs[prefix + path]
        if raw is None:  # pragma: no cover - listed at head, so present
            continue
        manifest, found = _parse(path, raw, root, cache, used)
        problems.extend(found)
        if manifest is not None:
            parsed[path] = manifest
            manifests[path] = _entry(manifest, subject=True)

    # Referenced manifests: context for the rules, never judged themselves.
    wanted: dict[str, str] = {}
    for path, manifest in parsed.items():
        for _pointer, _ref, ref_path in _references(manifest):
            if ref_path not in manifests and ref_path not in wanted:
                wanted[ref_path] = path
    if wanted:
        ref_blobs = _read_many(git, head_sha, [prefix + p for p in wanted])
        for ref_path, by in sorted(wanted.items()):
            raw = ref_blobs[prefix + ref_path]
            if raw is None:
                continue  # absent: the rules report the missing reference
            manifest, found = _parse(ref_path, raw, root)
            for p in found:
                p["message"] = f"{p['message']} (referenced by {by})"
            problems.extend(found)
            if manifest is not None:
                referenced[ref_path] = manifest
                manifests[ref_path] = _entry(manifest, subject=False)

    # Content at the merge base of modified manifests (edits of published versions, thresholds).
    if base is not None:
        before = {
            c["path"]: c.get("old_path", c["path"])
            for c in changed
            if c["status"] in ("modified", "renamed", "type-changed") and c["path"] in parsed
        }
        if before:
            base_rev = merge_base or base_sha
            assert base_rev is not None
            old_blobs = _read_many(git, base_rev, [prefix + p for p in before.values()])
            for path, old_path in sorted(before.items()):
                raw = old_blobs[prefix + old_path]
                if raw is None:
                    continue
                old, found = _parse(old_path, raw, root)
                if old is None:
                    problems.extend(
                        _problem(
                            path,
                            f"its previous version at {base_rev[:12]} is not valid: {p['message']}",
                            hint="the change cannot be compared with what it replaces",
                            code="manifest.base-invalid",
                        )
                        for p in found[:1]
                    )
                    continue
                manifests[path]["change"] = next(c["status"] for c in changed if c["path"] == path)
                manifests[path]["base"] = {"path": old_path, "data": old.data, "lines": _lines(old)}

    if cache is not None:
        cache.save(keep=used)

    # Each subject's references, resolved: rules test a status instead of searching the document.
    unverified = {p["path"] for p in problems}
    for path, manifest in parsed.items():
        refs = _references(manifest)
        if refs:
            manifests[path]["refs"] = [
                {
                    "pointer": pointer,
                    "ref": ref,
                    "path": ref_path,
                    "status": "valid"
                    if ref_path in manifests
                    else ("invalid" if ref_path in unverified else "missing"),
                }
                for pointer, ref, ref_path in refs
            ]

    shards: list[dict[str, Any]] = []
    for manifest in parsed.values():
        if manifest.kind == "dataset":
            shards.extend(_verify_shards(manifest, root, problems))

    identities, teams = _identities(git, head_sha, prefix, root, notes)
    document: dict[str, Any] = {
        "schema": INPUT_SCHEMA,
        "now": now or format_now(),
        "mode": "diff" if base is not None else "full",
        "git": {
            "head": head_sha,
            "base": base_sha,
            "merge_base": merge_base,
            "shallow": bool(git.is_shallow),
            "changed": changed,
            "commits": commits,
        },
        "config": config,
        "identities": identities,
        "teams": teams,
        "manifests": [manifests[p] for p in sorted(manifests)],
        "problems": problems,
        "shards_verified": shards,
        "policy": {"packages": sorted(set(packages))},
    }
    return PolicyInput(
        document=document,
        mode="diff" if base is not None else "full",
        head=head_sha,
        base=base_sha,
        prefix=prefix,
        subjects=tuple(subject_paths),
        changed=tuple(c["path"] for c in changed),
        notes=tuple(notes),
        positions={path: m.positions for path, m in [*parsed.items(), *referenced.items()]},
    )
