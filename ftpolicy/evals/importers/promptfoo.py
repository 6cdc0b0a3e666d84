"""promptfoo's results JSON (``promptfoo eval --output results.json``, also red team runs).

The file is ``{"evalId", "results": {"version", "timestamp", "results": [...], "stats"},
"config", ...}``. Each entry of ``results.results`` is one test case against one provider:
``success`` (bool), ``score``, ``provider`` (``{"id", "label"}``), ``testCase``
(``description``, ``vars``, ``metadata``) and ``metadata``. Red team cases carry the plugin
that generated them as ``metadata.pluginId`` (or ``testCase.metadata.pluginId``); other
cases are mapped by ``testCase.description``. A case passes when ``success`` is true.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftpolicy.errors import ConfigError, Location
from ftpolicy.evals.importers import Imported, parse_time, read_json
from ftpolicy.evals.mapping import Mapping_


def _name(entry: dict[str, Any]) -> str:
    for meta in (entry.get("metadata"), (entry.get("testCase") or {}).get("metadata")):
        if isinstance(meta, dict) and meta.get("pluginId"):
            return str(meta["pluginId"])
    return str((entry.get("testCase") or {}).get("description") or entry.get("description") or "")


def parse(path: Path, mapping: Mapping_) -> Imported:
    """Count passing test cases by category."""
    doc = read_json(path)
    block = doc.get("results") if isinstance(doc, dict) else None
    rows = block.get("results") if isinstance(block, dict) else None
    if not isinstance(rows, list):
        raise ConfigError(
            f"{path}: no results.results list; is this `promptfoo eval --output FILE.json`?",
            location=Location(str(path), pointer="/results/results"),
        )
    version = doc.get("version") or (block.get("version") if isinstance(block, dict) else None)
    out = Imported("promptfoo", f"results format {version}" if version else None, None, None)
    out.evaluated_at = parse_time(block.get("timestamp")) if isinstance(block, dict) else None
    models = set()
    for i, entry in enumerate(rows):
        if not isinstance(entry, dict) or not isinstance(entry.get("success"), bool):
            raise ConfigError(
                f"{path}: results.results[{i}] has no boolean `success`",
                location=Location(str(path), pointer=f"/results/results/{i}"),
            )
        provider = entry.get("provider")
        if isinstance(provider, dict) and provider.get("id"):
            models.add(str(provider.get("id")))
        name = _name(entry)
        rule = mapping.lookup("promptfoo", name)
        if rule is None:
            if name not in out.unmapped:
                out.unmapped.append(name)
            continue
        t = out.tally(rule.category, name)
        t.samples += 1
        t.passed += int(entry["success"])
    out.model = ", ".join(sorted(models)) or None
    return out
