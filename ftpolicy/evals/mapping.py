"""The user-editable mapping from other tools' names to ftpolicy's security categories.

See ``default-mapping.yaml`` (package data) for the format and the defaults.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ftpolicy.errors import ConfigError, Location
from ftpolicy.evals.seal import CATEGORIES

TOOLS: tuple[str, ...] = ("garak", "promptfoo", "lm-eval", "inspect")


@dataclass(frozen=True)
class Rule:
    """One pattern: the category it maps to and, optionally, the metric to read."""

    pattern: str
    category: str
    metric: str | None = None


@dataclass(frozen=True)
class Mapping_:
    """Rules per tool; :meth:`lookup` finds the first rule matching a name."""

    source: str
    rules: Mapping[str, tuple[Rule, ...]]

    def lookup(self, tool: str, name: str) -> Rule | None:
        for rule in self.rules.get(tool, ()):
            if fnmatch.fnmatchcase(name.lower(), rule.pattern.lower()):
                return rule
        return None


def default_mapping_text() -> str:
    """The packaged default mapping (YAML text)."""
    return resources.files("ftpolicy.evals").joinpath("default-mapping.yaml").read_text("utf-8")


def load_mapping(path: Path | None = None) -> Mapping_:
    """Load ``path`` (or the packaged default) and check every category and entry."""
    import yaml

    display = str(path) if path else "default-mapping.yaml"
    try:
        text = path.read_text("utf-8") if path else default_mapping_text()
        data: Any = yaml.safe_load(text)
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"{display}: cannot read the mapping: {exc}", location=Location(display)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"{display}: a mapping file is a YAML mapping of tool -> patterns")
    rules: dict[str, tuple[Rule, ...]] = {}
    for tool, entries in data.items():
        if tool == "schema_version":
            continue
        if tool not in TOOLS:
            raise ConfigError(f"{display}: unknown tool {tool!r}", hint=f"tools: {', '.join(TOOLS)}")
        out = []
        for pattern, value in (entries or {}).items():
            metric = None
            if isinstance(value, dict):
                metric = value.get("metric")
                value = value.get("category")
            if value not in CATEGORIES:
                raise ConfigError(
                    f"{display}: {tool}: {pattern!r} maps to {value!r}, not a category",
                    location=Location(display, pointer=f"/{tool}/{pattern}"),
                    hint=f"categories: {', '.join(CATEGORIES)}",
                )
            out.append(Rule(str(pattern), str(value), str(metric) if metric else None))
        rules[tool] = tuple(out)
    return Mapping_(display, rules)
