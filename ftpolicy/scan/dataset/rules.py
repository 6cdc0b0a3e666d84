"""Rule packs: the data that drives the dataset detectors.

The default packs ship as package data (``ftpolicy/scan/dataset/rules/*.yaml``). A user
pack (``--rules FILE``, repeatable) extends or overrides them, section by section::

    schema_version: 1
    kind: scan-rules
    secret:
      rules:                       # merged by id: same id replaces, new id is added
        - id: acme-token
          pattern: 'acme_[A-Za-z0-9]{32}'
          keywords: [acme_]
        - id: jwt
          enabled: false           # switch a default rule off
      placeholders: ['internal-demo']   # lists other than `rules` are appended
    disable: [prompt-injection/role-reassign]   # switch rules off by full id

Scalars and mappings replace the default value. The merged pack is what the scan uses;
its digest (sha256 over its RFC 8785 canonical JSON) is recorded in the scan summary so
that a review can tell which rules judged the data.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ftpolicy._internal.canonical_json import digest as canonical_digest
from ftpolicy.errors import ConfigError, Location
from ftpolicy.manifest.yamlsafe import load_yaml

SECTIONS = ("secret", "approval-bypass", "hidden-unicode", "prompt-injection", "contamination", "trigger")


@dataclass(frozen=True)
class RulePack:
    """The merged rule data, where it came from, and its digest."""

    data: dict[str, Any]
    sources: tuple[str, ...]
    digest: str

    def section(self, name: str) -> dict[str, Any]:
        """One category's rules and settings (empty when absent)."""
        value = self.data.get(name)
        return value if isinstance(value, dict) else {}

    def disabled(self) -> frozenset[str]:
        """Full rule ids switched off with ``disable``."""
        value = self.data.get("disable") or []
        return frozenset(str(v) for v in value)


def _default_pack_texts() -> list[tuple[str, bytes]]:
    folder = resources.files("ftpolicy.scan.dataset") / "rules"
    out = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            out.append((f"(default)/{entry.name}", entry.read_bytes()))
    return out


def _parse(display: str, data: bytes) -> dict[str, Any]:
    doc, _ = load_yaml(display, data)
    if not isinstance(doc, dict):
        raise ConfigError(
            f"{display}: a rule pack must be a mapping",
            location=Location(display),
            hint="start with `schema_version: 1` and `kind: scan-rules`",
        )
    if doc.get("schema_version", 1) != 1 or doc.get("kind", "scan-rules") != "scan-rules":
        raise ConfigError(
            f"{display}: not a version-1 scan rule pack",
            location=Location(display),
            hint="set `schema_version: 1` and `kind: scan-rules`",
        )
    unknown = set(doc) - set(SECTIONS) - {"schema_version", "kind", "disable", "description"}
    if unknown:
        raise ConfigError(
            f"{display}: unknown section(s) {', '.join(sorted(unknown))}",
            location=Location(display),
            hint=f"sections are: {', '.join(SECTIONS)}, disable",
        )
    return doc


def _merge(base: dict[str, Any], extra: dict[str, Any], display: str) -> None:
    for name, value in extra.items():
        if name in ("schema_version", "kind", "description"):
            continue
        if name == "disable":
            if not isinstance(value, list):
                raise ConfigError(
                    f"{display}: `disable` must be a list of rule ids", location=Location(display)
                )
            base.setdefault("disable", []).extend(str(v) for v in value)
            continue
        if not isinstance(value, dict):
            raise ConfigError(f"{display}: section `{name}` must be a mapping", location=Location(display))
        section = base.setdefault(name, {})
        for key, item in value.items():
            if key == "rules":
                if not isinstance(item, list) or not all(isinstance(r, dict) and "id" in r for r in item):
                    raise ConfigError(
                        f"{display}: `{name}.rules` must be a list of mappings with an `id`",
                        location=Location(display),
                    )
                rules: list[dict[str, Any]] = section.setdefault("rules", [])
                index = {r["id"]: i for i, r in enumerate(rules)}
                for rule in item:
                    if rule["id"] in index:
                        if set(rule) <= {"id", "enabled"} or rule.get("enabled") is False:
                            merged = dict(rules[index[rule["id"]]])
                            merged.update(rule)
                            rules[index[rule["id"]]] = merged
                        else:
                            rules[index[rule["id"]]] = dict(rule)
                    else:
                        index[rule["id"]] = len(rules)
                        rules.append(dict(rule))
            elif isinstance(item, list) and isinstance(section.get(key), list):
                section[key] = section[key] + item
            else:
                section[key] = item


def _check_regexes(data: dict[str, Any]) -> None:
    for name in SECTIONS:
        section = data.get(name)
        if not isinstance(section, dict):
            continue
        for rule in section.get("rules", []) or []:
            for key in ("pattern", "context"):
                pattern = rule.get(key)
                if pattern is None:
                    continue
                try:
                    re.compile(pattern)
                except (re.error, TypeError) as exc:
                    raise ConfigError(
                        f"rule {name}/{rule.get('id')}: {key} is not a valid regular expression: {exc}",
                        hint="rule patterns use Python `re` syntax; quote them with single quotes in YAML",
                    ) from exc


def load_rules(extra_files: list[Path] | tuple[Path, ...] = ()) -> RulePack:
    """The default packs merged with ``extra_files`` (in order)."""
    data: dict[str, Any] = {}
    sources: list[str] = []
    for display, text in _default_pack_texts():
        _merge(data, _parse(display, text), display)
        sources.append(display)
    for path in extra_files:
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read rule pack: {exc.strerror}",
                location=Location(str(path)),
                hint="pass an existing YAML file to --rules",
            ) from exc
        _merge(data, _parse(str(path), raw), str(path))
        sources.append(str(path))
    _check_regexes(data)
    return RulePack(data=copy.deepcopy(data), sources=tuple(sources), digest=canonical_digest(data))
