"""Inspect AI eval logs in JSON (``inspect eval ... --log-format json``, or ``inspect log convert``).

A log is ``{"version": 2, "status", "eval": {"task", "model", "created", ...},
"results": {"total_samples", "completed_samples", "scores": [{"name", "scorer", "metrics":
{"accuracy": {"name", "value"}, "stderr": {...}}}]}, "stats", "samples"?}``. A log whose
``status`` is not ``success`` is refused (its scores are partial). The category's score is
the ``accuracy`` metric of the first score (or the metric the mapping names), weighted by
``completed_samples`` when several logs or scores land in one category.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ftpolicy.errors import ConfigError, Location
from ftpolicy.evals.importers import Imported, parse_time, read_json
from ftpolicy.evals.mapping import Mapping_

DEFAULT_METRIC = "accuracy"


def parse(path: Path, mapping: Mapping_) -> Imported:
    """The task's metric as its category's score."""
    doc = read_json(path)
    if not isinstance(doc, dict) or not isinstance(doc.get("eval"), dict):
        raise ConfigError(
            f"{path}: no `eval` header; is this an Inspect log in JSON?", location=Location(str(path))
        )
    if doc.get("status") != "success":
        raise ConfigError(
            f"{path}: the eval status is {doc.get('status')!r}, not 'success'; its scores are partial",
            location=Location(str(path), pointer="/status"),
            hint="finish the eval (inspect eval-retry) and import the successful log",
        )
    ev = doc["eval"]
    task = str(ev.get("task", ""))
    out = Imported("inspect", None, ev.get("model"), parse_time(ev.get("created")))
    packages = ev.get("packages")
    if isinstance(packages, dict) and packages.get("inspect_ai"):
        out.tool_version = str(packages["inspect_ai"])
    rule = mapping.lookup("inspect", task)
    if rule is None:
        out.unmapped.append(task)
        return out
    results: dict[str, Any] = doc["results"] if isinstance(doc.get("results"), dict) else {}
    scores: list[Any] = results["scores"] if isinstance(results.get("scores"), list) else []
    metric = rule.metric or DEFAULT_METRIC
    for i, sc in enumerate(scores):
        metrics = sc.get("metrics") if isinstance(sc, dict) else None
        m = metrics.get(metric) if isinstance(metrics, dict) else None
        value = m.get("value") if isinstance(m, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1:
            samples = int(results.get("completed_samples") or results.get("total_samples") or 1)
            t = out.tally(rule.category, f"{task}:{sc.get('name', i)}:{metric}")
            t.samples += samples
            t.metric_sum += float(value) * samples
            t.metric_weight += samples
            return out
    raise ConfigError(
        f"{path}: no score of task {task!r} has a metric {metric!r} between 0 and 1",
        location=Location(str(path), pointer="/results/scores"),
        hint="name the metric in the mapping: {category: ..., metric: 'mean'}",
    )
