"""garak's report JSONL (``garak.<uuid>.report.jsonl``).

Every row has an ``entry_type``. ``eval`` rows (one per probe/detector pair) carry
``probe``, ``detector``, ``passed`` and the number of evaluated outputs (``total_evaluated``
in recent versions, ``total`` in older ones). A probe's outputs are judged by each of its
detectors; a probe/detector pair counts ``passed`` of ``total`` in the probe's category.
The ``init`` row gives ``garak_version`` and ``start_time``; ``start_run setup`` may give
``plugins.model_name`` / ``plugins.target_name``.
"""

from __future__ import annotations

import json
from pathlib import Path

from ftpolicy.errors import ConfigError, Location
from ftpolicy.evals.importers import Imported, parse_time
from ftpolicy.evals.mapping import Mapping_


def parse(path: Path, mapping: Mapping_) -> Imported:
    """Tally the ``eval`` rows of a garak report by category."""
    out = Imported("garak", None, None, None)
    evals = 0
    try:
        lines = path.read_bytes().decode("utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the garak report ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except ValueError:
            raise ConfigError(f"{path}:{n}: not a JSON line", location=Location(str(path), n)) from None
        if not isinstance(row, dict):
            continue
        kind = row.get("entry_type")
        if kind == "init":
            out.tool_version = row.get("garak_version") or out.tool_version
            out.evaluated_at = parse_time(row.get("start_time")) or out.evaluated_at
        elif kind == "start_run setup":
            out.model = row.get("plugins.model_name") or row.get("plugins.target_name") or out.model
            out.evaluated_at = out.evaluated_at or parse_time(row.get("transient.starttime_iso"))
        elif kind == "eval":
            evals += 1
            probe = str(row.get("probe", ""))
            total = row.get("total_evaluated", row.get("total"))
            passed = row.get("passed")
            if not isinstance(total, int) or not isinstance(passed, int) or not 0 <= passed <= total:
                raise ConfigError(
                    f"{path}:{n}: eval row of {probe!r} has passed={passed!r} of {total!r}",
                    location=Location(str(path), n),
                )
            rule = mapping.lookup("garak", probe)
            if rule is None:
                if probe not in out.unmapped:
                    out.unmapped.append(probe)
                continue
            t = out.tally(rule.category, f"{probe}/{row.get('detector', '')}")
            t.samples += total
            t.passed += passed
    if not evals:
        raise ConfigError(
            f"{path}: no `entry_type: eval` rows; is this a finished garak report.jsonl?",
            location=Location(str(path)),
        )
    return out
