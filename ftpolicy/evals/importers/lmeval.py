"""lm-evaluation-harness results JSON (``lm_eval ... --output_path DIR``: ``results_<date>.json``).

The file has ``results`` (task -> ``{"alias", "<metric>,<filter>": value, ...}``, e.g.
``"acc,none": 0.81``), ``n-samples`` (task -> ``{"original", "effective"}``), ``config``
(``model``, ``model_args``), ``model_name``, ``lm_eval_version`` and ``date`` (POSIX time).
Only metrics are reported, so a category's score is the sample-weighted mean of its tasks'
metric (``acc,none`` unless the mapping names another); higher is taken as better.
"""

from __future__ import annotations

from pathlib import Path

from ftpolicy.errors import ConfigError, Location
from ftpolicy.evals.importers import Imported, parse_time, read_json
from ftpolicy.evals.mapping import Mapping_

DEFAULT_METRIC = "acc,none"


def parse(path: Path, mapping: Mapping_) -> Imported:
    """Sample-weighted metric per category."""
    doc = read_json(path)
    results = doc.get("results") if isinstance(doc, dict) else None
    if not isinstance(results, dict) or not results:
        raise ConfigError(
            f"{path}: no `results` object; is this lm-eval's results_<date>.json?",
            location=Location(str(path), pointer="/results"),
        )
    config = doc.get("config") if isinstance(doc.get("config"), dict) else {}
    out = Imported(
        "lm-evaluation-harness",
        doc.get("lm_eval_version"),
        doc.get("model_name") or config.get("model_args") or config.get("model"),
        parse_time(doc.get("date")),
    )
    n_samples = doc.get("n-samples") if isinstance(doc.get("n-samples"), dict) else {}
    for task, metrics in results.items():
        rule = mapping.lookup("lm-eval", task)
        if rule is None:
            out.unmapped.append(task)
            continue
        metric = rule.metric or DEFAULT_METRIC
        value = metrics.get(metric) if isinstance(metrics, dict) else None
        if not isinstance(value, int | float) or isinstance(value, bool) or not 0 <= value <= 1:
            raise ConfigError(
                f"{path}: results.{task} has no metric {metric!r} between 0 and 1",
                location=Location(str(path), pointer=f"/results/{task}"),
                hint="name the metric in the mapping: {category: ..., metric: 'exact_match,none'}",
            )
        counts = n_samples.get(task) or {}
        if not isinstance(counts, dict):
            counts = {}
        samples = int(counts.get("effective") or counts.get("original") or 1)
        t = out.tally(rule.category, f"{task}:{metric}")
        t.samples += samples
        t.metric_sum += float(value) * samples
        t.metric_weight += samples
    return out
