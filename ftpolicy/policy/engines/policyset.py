"""The set of Rego modules and data documents that an engine evaluates.

A :class:`PolicySet` is read from one or more folders (the bundled default library and a
governed repository's ``policies/``) by :func:`load_policy_set`. Folders are read the way OPA
reads a bundle, so ``opa test DIR...``, ``opa run -b`` and ftpolicy see the same documents:

* every ``*.rego`` file below the folder is a module (``*_test.rego`` only with ``include_tests``);
* a ``data.json`` or ``data.yaml`` file is a data document mounted at its folder's path relative
  to the policy folder (``policies/thresholds/data.json`` holding ``{"max": 3}`` is
  ``data.thresholds.max``); two files that set the same value are an error, as in OPA.

Module names are the paths as the user should read them (the folder as given joined with the
file's relative path), so engine errors point at real files. Sources are kept exactly as the
bytes on disk decode (no newline translation), so the OPA engine can upload the very bytes in Git.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from ftpolicy._internal import canonical_json
from ftpolicy.errors import ConfigError, FtpolicyError, Location

__all__ = ["DATA_FILES", "PolicySet", "load_policy_set"]

#: File names read as data documents (the names OPA's bundle reader uses).
DATA_FILES = ("data.json", "data.yaml")


@dataclass(frozen=True)
class PolicySet:
    """Rego modules (name -> source) and the merged data document, as one evaluable unit.

    ``digest`` identifies the content: ``sha256:<hex>`` over the canonical JSON of the sorted
    SHA-256 digests of the module sources and the data document. File names and folder
    locations do not enter it, so the same policies give the same digest in any checkout.
    """

    modules: dict[str, str]
    data: dict[str, Any] = field(default_factory=dict)

    @cached_property
    def digest(self) -> str:
        """Content digest of the modules and data (``sha256:<hex>``)."""
        sources = sorted(hashlib.sha256(src.encode("utf-8")).hexdigest() for src in self.modules.values())
        return canonical_json.digest({"data": self.data, "modules": sources})

    def __hash__(self) -> int:
        return hash(self.digest)

    def with_modules(self, extra: dict[str, str]) -> PolicySet:
        """A new set with ``extra`` modules added (names must not clash)."""
        clash = sorted(set(extra) & set(self.modules))
        if clash:
            raise ConfigError(f"policy module {clash[0]} is loaded twice", code="policy.duplicate-module")
        return PolicySet(modules={**self.modules, **extra}, data=self.data)


def load_policy_set(dirs: Iterable[Path], include_tests: bool = False) -> PolicySet:
    """Read the Rego modules and data documents under ``dirs`` into one :class:`PolicySet`.

    Raises :class:`ConfigError` when a folder is missing, a file is not UTF-8, a data file
    does not parse, or two data files set the same value.
    """
    modules: dict[str, str] = {}
    data: dict[str, Any] = {}
    seen: set[Path] = set()
    for folder in dirs:
        folder = Path(folder)
        if not folder.is_dir():
            raise ConfigError(
                f"policy folder {folder} does not exist"
                if not folder.exists()
                else f"{folder} is not a folder",
                hint="pass a folder holding .rego files (for example the repository's policies/)",
                location=Location(str(folder)),
                code="policy.folder-missing",
            )
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            resolved = path.resolve()
            if resolved in seen:
                continue
            rel = path.relative_to(folder)
            display = (folder / rel).as_posix()
            if path.suffix == ".rego":
                if path.name.endswith("_test.rego") and not include_tests:
                    continue
                seen.add(resolved)
                modules[display] = _read_text(path, display)
            elif path.name in DATA_FILES:
                seen.add(resolved)
                document = _read_data(path, display)
                mount = list(rel.parent.parts)
                _merge(data, mount, document, display)
    return PolicySet(modules=modules, data=data)


def _read_text(path: Path, display: str) -> str:
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"file is not UTF-8 text (byte {exc.start} is 0x{raw[exc.start]:02x})",
            hint="save the file as UTF-8; Rego and data files must be UTF-8",
            location=Location(display, line),
            code="policy.encoding",
        ) from None


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _read_data(path: Path, display: str) -> dict[str, Any]:
    text = _read_text(path, display)
    if path.suffix == ".json":
        try:
            value = json.loads(text, object_pairs_hook=_reject_duplicate_keys)
        except json.JSONDecodeError as exc:
            raise ConfigError(
                f"data file is not valid JSON: {exc.msg}",
                location=Location(display, exc.lineno, exc.colno),
                code="policy.data",
            ) from None
        except ValueError as exc:
            raise ConfigError(
                f"data file is not valid JSON: {exc}", location=Location(display), code="policy.data"
            ) from None
    else:
        from ftpolicy.manifest.yamlsafe import load_yaml

        try:
            value, _positions = load_yaml(display, path.read_bytes())
        except FtpolicyError as exc:
            raise ConfigError(exc.message, hint=exc.hint, location=exc.location, code="policy.data") from None
    if not isinstance(value, dict):
        raise ConfigError(
            "a data file must hold an object (a mapping) at the top",
            hint="wrap the values in an object; its keys become names under data.<folder path>",
            location=Location(display, 1),
            code="policy.data",
        )
    return value


def _merge(target: dict[str, Any], mount: list[str], document: dict[str, Any], display: str) -> None:
    """Merge ``document`` into ``target`` at the path ``mount``; equal paths must both be objects."""
    node = target
    for part in mount:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise _conflict(display, ".".join(mount))
        node = child
    _deep_merge(node, document, display, mount)


def _deep_merge(node: dict[str, Any], document: dict[str, Any], display: str, path: list[str]) -> None:
    for key, value in document.items():
        if key not in node:
            node[key] = value
        elif isinstance(node[key], dict) and isinstance(value, dict):
            _deep_merge(node[key], value, display, [*path, key])
        else:
            raise _conflict(display, ".".join([*path, key]))


def _conflict(display: str, path: str) -> ConfigError:
    return ConfigError(
        f"data.{path} is set by more than one data file",
        hint="each value may come from one data file only (OPA refuses such bundles too)",
        location=Location(display),
        code="policy.data-conflict",
    )
