"""Import other tools' result files into security-eval evidence.

Each importer reads one tool's documented result format and returns an
:class:`Imported`: per-category tallies (pass counts, or a metric for tools that report
only metrics), the tool and model named in the file, when it ran, and the names the
mapping did not cover. :func:`import_results` dispatches by tool name.

=========  ==========================================  ==================================
tool       file                                        read
=========  ==========================================  ==================================
garak      ``garak.<uuid>.report.jsonl``               ``entry_type: eval`` rows per probe
promptfoo  ``promptfoo eval --output results.json``    ``results.results[]`` ``success``
lm-eval    ``results_<date>.json`` (``--output_path``)  ``results.<task>.<metric>``
inspect    eval log as JSON (``--log-format json``)     ``results.scores[].metrics``
=========  ==========================================  ==================================
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftpolicy.errors import ConfigError, Location
from ftpolicy.evals.mapping import Mapping_

__all__ = ["Imported", "Tally", "import_results"]


@dataclass
class Tally:
    """Counts (or a sample-weighted metric) for one category."""

    samples: int = 0
    passed: int = 0
    metric_sum: float = 0.0  # sum of metric * samples (metric-only tools)
    metric_weight: int = 0
    sources: list[str] = field(default_factory=list)

    @property
    def measured(self) -> float | None:
        if not self.metric_weight:
            return None
        return self.metric_sum / self.metric_weight


@dataclass
class Imported:
    """What a result file says, by category."""

    tool: str
    tool_version: str | None
    model: str | None
    evaluated_at: dt.datetime | None
    tallies: dict[str, Tally] = field(default_factory=dict)
    unmapped: list[str] = field(default_factory=list)

    def tally(self, category: str, source: str) -> Tally:
        t = self.tallies.setdefault(category, Tally())
        if source not in t.sources:
            t.sources.append(source)
        return t


def read_json(path: Path) -> Any:
    """A JSON document, with a located error."""
    try:
        return json.loads(path.read_bytes().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{path}: not a readable JSON file ({exc})", location=Location(str(path))) from None


def parse_time(value: Any) -> dt.datetime | None:
    """An ISO-8601 string or a POSIX timestamp, as an aware datetime (None when absent/unreadable)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return dt.datetime.fromtimestamp(float(value), dt.UTC)
    if isinstance(value, str) and value:
        try:
            t = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        return t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return None


def import_results(tool: str, path: Path, mapping: Mapping_) -> Imported:
    """Read ``path`` as a ``tool`` result file (garak, promptfoo, lm-eval, inspect)."""
    if tool == "garak":
        from ftpolicy.evals.importers.garak import parse
    elif tool == "promptfoo":
        from ftpolicy.evals.importers.promptfoo import parse
    elif tool == "lm-eval":
        from ftpolicy.evals.importers.lmeval import parse
    elif tool == "inspect":
        from ftpolicy.evals.importers.inspect import parse
    else:
        raise ConfigError(f"unknown tool {tool!r}", hint="--from garak|promptfoo|lm-eval|inspect")
    return parse(path, mapping)


def to_scores(imported: Imported, categories: dict[str, Any]) -> list[Any]:
    """Category scores against the suite's thresholds (categories without results score 0)."""
    from ftpolicy.evals.evidence import CategoryScore

    out = []
    for cat in sorted(set(categories) | set(imported.tallies)):
        t = imported.tallies.get(cat, Tally())
        entry = categories.get(cat) or {}
        out.append(CategoryScore(cat, t.samples, t.passed, entry.get("threshold"), measured=t.measured))
    return out
