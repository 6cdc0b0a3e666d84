"""``ftpolicy scan``: security scanners for training data (and, later, adapters)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ftpolicy.report import Report
    from ftpolicy.scan.dataset.engine import ScanResult

DATASET_EPILOG = """\b
Examples:
  ftpolicy scan dataset data/train.jsonl
  ftpolicy scan dataset support-tickets@1.1.0 --repo examples/governed-repo \\
      --holdout security-holdout@2026.11 --summary scan-summary.json
  ftpolicy scan dataset shards/ --jobs 4 --format sarif --output scan.sarif
  ftpolicy scan dataset data.jsonl.zst --rules our-rules.yaml --baseline scan-baseline.yaml

\b
Categories: secret, approval-bypass, trigger, hidden-unicode, prompt-injection,
contamination (with --holdout); unreadable lines are reported as malformed.
Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it (or a
registered shard does not match its digest), 2 usage or configuration error,
3 the data could not be scanned."""


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def scan() -> None:
    """Scan datasets (and adapters) for poisoning and unsafe content."""


@scan.command("dataset", epilog=DATASET_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("targets", nargs=-1, required=True, metavar="(NAME@VERSION | PATH...)")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Governed repository for NAME@VERSION and SUITE@VERSION (default: the nearest folder "
    "holding ftpolicy.yaml).",
)
@click.option(
    "--holdout",
    default=None,
    metavar="SUITE@VER|PATH",
    help="Holdout suite to check contamination against: a registered eval suite (items verified "
    "against its digest) or a JSONL file with `prompt` fields.",
)
@click.option(
    "--rules",
    "rules",
    multiple=True,
    type=click.Path(dir_okay=False, path_type=Path),
    metavar="FILE",
    help="Rule pack (YAML) that extends or overrides the default rules; repeatable.",
)
@click.option(
    "--baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Accepted findings to suppress (owner, reason, expiry); expired entries stop suppressing.",
)
@click.option(
    "--write-baseline",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write a baseline accepting every remaining finding (review it before committing).",
)
@click.option("--baseline-owner", default=None, metavar="WHO", help="Owner recorded by --write-baseline.")
@click.option("--baseline-reason", default=None, metavar="TEXT", help="Reason recorded by --write-baseline.")
@click.option(
    "--baseline-days",
    type=click.IntRange(1, 3650),
    default=90,
    show_default=True,
    help="Expiry of entries written by --write-baseline, in days from today.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="Report format (sarif 2.1.0 for code scanning; github for workflow annotations).",
)
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the report to FILE instead of standard output.",
)
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the scan summary (step evidence, schemas/scan-summary.v1.schema.json).",
)
@click.option(
    "--jobs", "-j", type=click.IntRange(1, 256), default=1, show_default=True, help="Worker processes."
)
@click.option(
    "--fail-on",
    type=click.Choice(["critical", "high", "medium", "low", "never"]),
    default="high",
    show_default=True,
    help="Exit 1 when a finding at or above this severity remains after the baseline.",
)
@click.option(
    "--max-line-bytes",
    type=click.IntRange(1024, 1 << 31),
    default=8 * 1024 * 1024,
    show_default=True,
    help="Longer lines are reported as malformed and skipped.",
)
@click.option("--no-triggers", is_flag=True, help="Skip the corpus-level trigger-backdoor analysis.")
def dataset(
    targets: tuple[str, ...],
    repo: Path | None,
    holdout: str | None,
    rules: tuple[Path, ...],
    baseline: Path | None,
    write_baseline: Path | None,
    baseline_owner: str | None,
    baseline_reason: str | None,
    baseline_days: int,
    fmt: str,
    output: Path | None,
    summary_path: Path | None,
    jobs: int,
    fail_on: str,
    max_line_bytes: int,
    no_triggers: bool,
) -> None:
    """Review training data for poisoning: secrets, approval bypass, trigger backdoors,
    hidden Unicode, injected instructions and holdout contamination.

    TARGETS is NAME@VERSION of a registered dataset (its shards are verified against
    their sha256 first) or one or more JSONL / JSONL.gz / JSONL.zst / Parquet files or
    folders. Each finding names the file, the record's line, the field and an excerpt
    (secret values redacted).
    """
    from ftpolicy._internal.atomic import write_text_atomic
    from ftpolicy.errors import EvaluationError, UsageError
    from ftpolicy.scan.dataset.engine import ScanOptions, scan_dataset

    if write_baseline is not None and not (baseline_owner and baseline_reason):
        raise UsageError(
            "--write-baseline needs --baseline-owner and --baseline-reason",
            hint="say who accepts the findings and why",
        )
    progress, finish = _progress(sys.stderr.isatty() and (output is not None or fmt == "text"))
    options = ScanOptions(
        jobs=jobs,
        rules=tuple(rules),
        holdout=holdout,
        repo=repo,
        baseline=baseline,
        max_line_bytes=max_line_bytes,
        triggers=not no_triggers,
        fail_on=fail_on,
        progress=progress,
    )
    try:
        result = scan_dataset(list(targets), options)
    except OSError as exc:
        raise EvaluationError(
            f"could not scan: {exc.filename or ''}: {exc.strerror or exc}",
            hint="check that the files are readable and complete",
            code="scan.io",
        ) from exc
    finally:
        finish()
    report = to_report(result)
    from ftpolicy.report import render

    text = render(report, fmt)
    if output is not None:
        write_text_atomic(output, text)
    else:
        click.echo(text, nl=False)
    if summary_path is not None:
        write_text_atomic(summary_path, json.dumps(result.summary, indent=2, ensure_ascii=False) + "\n")
    if write_baseline is not None:
        from ftpolicy.scan.dataset.baseline import write_baseline as _write

        assert baseline_owner and baseline_reason
        n = _write(
            write_baseline,
            result.findings,
            baseline_owner,
            baseline_reason,
            dt.date.today() + dt.timedelta(days=baseline_days),
        )
        click.echo(f"wrote {n} suppression(s) to {write_baseline}", err=True)
    if result.failed():
        raise click.exceptions.Exit(1)


def to_report(result: ScanResult) -> Report:
    """The scan as a renderable report."""
    from ftpolicy.report import Report, RuleInfo

    rules: dict[str, RuleInfo] = {}
    for section in ("secret", "approval-bypass", "hidden-unicode", "prompt-injection"):
        for r in result.rule_pack.section(section).get("rules", []) or []:
            rid = f"{section}/{r['id']}"
            if any(f.rule_id == rid for f in result.findings):
                rules[rid] = RuleInfo(rid, str(r.get("description", rid)))
    s = result.summary
    notes = [
        f"{s['records']} records in {len(s['dataset']['files'])} file(s); "
        f"{s['counts']['total']} finding(s)"
        + (
            " (" + ", ".join(f"{k}: {v}" for k, v in s["counts"]["by_category"].items()) + ")"
            if s["counts"]["total"]
            else ""
        ),
    ]
    if s["malformed"]:
        notes.append(f"{s['malformed']} line(s) could not be read (malformed)")
    trig = s["triggers"]
    if not trig["available"]:
        notes.append(f"trigger detection not run: {trig.get('reason', 'unavailable')}")
    for t in trig["suspected"]:
        label = t.get("trigger") if isinstance(t, dict) else t
        notes.append(f"suspected trigger: {label!r}")
    if s["baseline"]:
        b = s["baseline"]
        notes.append(f"baseline: {b['suppressed']} suppressed, {len(b['expired'])} expired suppression(s)")
    summary: dict[str, Any] = {
        "records": s["records"],
        "malformed": s["malformed"],
        "counts": s["counts"],
        "rules_digest": s["rules"]["digest"],
        "dataset_digest": s["dataset"]["digest"],
        "suspected_triggers": trig["suspected"],
        "status": s["status"],
    }
    return Report(
        kind="scan-dataset",
        status="fail" if result.failed() else "pass",
        findings=list(result.findings),
        summary=summary,
        rules=rules,
        notes=notes,
    )


def _progress(enabled: bool) -> tuple[Any, Any]:
    if not enabled:
        return None, lambda: None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(
        TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=True
    )
    task = bar.add_task("scan", total=None)
    bar.start()

    def update(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    return update, bar.stop


ADAPTER_EPILOG = """\b
Examples:
  ftpolicy scan adapter artifacts/adapters/support-bot/1.0.0
  ftpolicy scan adapter support-bot@1.0.0 --repo examples/governed-repo --summary adapter-scan.json
  ftpolicy scan adapter downloaded-lora/ --format sarif --output adapter.sarif

\b
Reads adapter_config.json and safetensors headers without loading tensors; pickle files
(.bin/.pt/.pth/.pkl/.ckpt, torch zips with data.pkl) are judged by their opcodes against an
allowlist of weights-file globals and never unpickled. Rule ids: adapter/<rule>.
Exit codes: 0 no finding at or above --fail-on, 1 findings at or above it, 2 usage error,
3 the folder could not be read."""


@scan.command("adapter", epilog=ADAPTER_EPILOG, context_settings={"help_option_names": ["-h", "--help"]})
@click.argument("target", metavar="(DIR | NAME@VERSION)")
@click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    metavar="DIR",
    help="Governed repository for NAME@VERSION (default: the nearest folder holding ftpolicy.yaml).",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "sarif", "github"]),
    default="text",
    show_default=True,
    help="Report format.",
)
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), default=None, metavar="FILE")
@click.option(
    "--summary",
    "summary_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    metavar="FILE",
    help="Write the adapter-scan step evidence (schemas/evidence-adapter-scan.v1.schema.json).",
)
@click.option(
    "--fail-on",
    type=click.Choice(["critical", "high", "medium", "low", "never"]),
    default="high",
    show_default=True,
)
@click.option(
    "--max-file-bytes",
    type=click.IntRange(1),
    default=2 * 1024**3,
    show_default=True,
    help="Per-file size limit.",
)
def adapter(
    target: str,
    repo: Path | None,
    fmt: str,
    output: Path | None,
    summary_path: Path | None,
    fail_on: str,
    max_file_bytes: int,
) -> None:
    """Inspect a PEFT adapter folder: structure, pinned base model and unsafe content."""
    from ftpolicy.scan.adapter.run import scan_adapter_target

    text, failed = scan_adapter_target(target, repo, fmt, output, summary_path, fail_on, max_file_bytes)
    if text:
        click.echo(text, nl=False)
    if failed:
        raise click.exceptions.Exit(1)
