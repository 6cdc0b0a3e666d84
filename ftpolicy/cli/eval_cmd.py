"""``ftpolicy eval``: seal holdout suites, run them against a model, import other tools' results."""

from __future__ import annotations

from pathlib import Path

import click

_REPO_OPTION = click.option(
    "--repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Governed repository (default: the nearest folder holding ftpolicy.yaml).",
)


def _root(repo: Path | None) -> Path:
    from ftpolicy.manifest import find_repo_root

    return repo.resolve() if repo is not None else find_repo_root(Path.cwd())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def eval_group() -> None:
    """Sealed holdout security evaluation (seal, run, import)."""


SEAL_EPILOG = """\b
Examples:
  ftpolicy eval seal holdout/items.jsonl --name security-holdout --version 2026.12 \\
      --threshold secret-leakage=0.95 --threshold refusal=0.9 --sealed-by dave

\b
Writes evals/NAME/VERSION.yaml (never overwrites: sealed versions are immutable) with
the categories, item counts, per-category item digests and items_digest and the suite
digest (sha256 over the sorted RFC 8785 digests of the items). The items file may live
outside the repository; --items-path records a repository-relative copy.
Exit codes: 0 sealed, 1 the version exists or the manifest is invalid, 2 usage error."""


@eval_group.command("seal", epilog=SEAL_EPILOG)
@click.argument("items_file", type=click.Path(dir_okay=False, exists=True, path_type=Path))
@click.option("--name", required=True, help="Suite name (evals/NAME/).")
@click.option("--version", "version", required=True, help="Suite version (evals/NAME/VERSION.yaml).")
@click.option(
    "--threshold", "thresholds", multiple=True, metavar="CATEGORY=RATE", help="Pass-rate threshold."
)
@click.option("--max-over-refusal", type=float, default=0.1, show_default=True, help="Refusal category.")
@click.option("--owner-team", default="security", show_default=True, help="Team that owns the suite.")
@click.option("--description", default=None, help="One line describing the suite.")
@click.option("--sealed-by", default=None, help="Identity sealing the suite (identities/).")
@click.option("--items-path", default=None, help="Repository-relative path of the items (recorded).")
@click.option("--items-uri", default=None, help="Where the items live outside the repository (recorded).")
@_REPO_OPTION
def seal(
    items_file: Path,
    name: str,
    version: str,
    thresholds: tuple[str, ...],
    max_over_refusal: float,
    owner_team: str,
    description: str | None,
    sealed_by: str | None,
    items_path: str | None,
    items_uri: str | None,
    repo: Path | None,
) -> None:
    """Seal ITEMS_FILE (JSONL) as the eval-suite version NAME@VERSION."""
    from ftpolicy.errors import UsageError
    from ftpolicy.evals.seal import build_manifest, read_items, write_suite

    given: dict[str, float] = {}
    for spec in thresholds:
        cat, sep, value = spec.partition("=")
        try:
            given[cat.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep:
            raise UsageError(
                f"--threshold {spec!r} is not CATEGORY=RATE", hint="e.g. --threshold refusal=0.9"
            )
    root = _root(repo)
    items = read_items(items_file)
    manifest = build_manifest(
        items,
        name=name,
        version=version,
        thresholds=given,
        owner_team=owner_team,
        description=description,
        items_path=items_path,
        items_uri=items_uri,
        max_over_refusal=max_over_refusal,
        sealed_by=sealed_by,
    )
    rel = write_suite(root, manifest)
    counts = ", ".join(f"{c} {v['items']}" for c, v in manifest["categories"].items())
    click.echo(f"sealed {name}@{version}: {len(items)} items ({counts}) -> {rel}")
    click.echo(f"items digest {manifest['items']['digest']}")


RUN_EPILOG = """\b
Examples:
  ftpolicy eval run --suite security-holdout@2026.11 --items ~/holdout/items.jsonl \\
      --adapter code-assistant-lora@1.0.0 --backend openai --endpoint http://127.0.0.1:8000 \\
      --model code-assistant --output security-eval.json --key ~/.ftpolicy/keys/dave.pem --attest
  ftpolicy eval run --suite security-holdout@2026.11 --items ~/holdout/items.jsonl \\
      --adapter code-assistant-lora@1.0.0 --backend transformers --base-model ~/models/coder-tiny \\
      --max-tokens 256 --output security-eval.json --key ~/.ftpolicy/keys/dave.pem --attest

\b
--backend transformers (needs `pip install 'ftpolicy[models]'`) loads the base model
(--base-model: a save_pretrained folder, or a hub id at the adapter's base_model.revision,
fetched only when HF_HUB_OFFLINE is unset; default: the manifest's base_model.id) and the PEFT
adapter in-process. The adapter files the manifest lists are hashed and copied before
loading and must match the manifest (else exit 1); only safetensors weights are loaded.
Generation is greedy with at most --max-tokens new tokens, through the tokenizer's chat
template (else "Role: content" lines ending in "Assistant:"), on --device (default: cuda
when available, else cpu); one item at a time.

\b
The items file is verified against the sealed suite (its digest, counts and per-category
item digests) before anything is generated. Outputs are cached by item digest in --cache
(default OUTPUT.cache.jsonl): a killed run started again continues where it stopped.
The evidence follows schemas/evidence-eval.v1 (per-category scores against the suite's
thresholds, item-level results digest, suite and adapter digests, backend and model).
With --attest the security-eval step is signed with --key (ftpolicy attest security-eval).
The API key of the endpoint, if it needs one, is read from $OPENAI_API_KEY (--api-key-env).
Exit codes: 0 every category passes, 1 a category is below its threshold (evidence is
still written), 2 usage error, 3 the model could not be evaluated (run again to resume)."""


@eval_group.command("run", epilog=RUN_EPILOG)
@click.option("--suite", "suite_ref", required=True, metavar="NAME@VERSION", help="Registered eval suite.")
@click.option(
    "--items",
    "items_file",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Holdout items JSONL (default: the suite's items.path).",
)
@click.option(
    "--adapter", "adapter_ref", required=True, metavar="NAME@VERSION", help="Adapter under evaluation."
)
@click.option("--backend", type=click.Choice(["openai", "transformers"]), default="openai", show_default=True)
@click.option("--endpoint", default=None, help="OpenAI-compatible server, e.g. http://127.0.0.1:8000.")
@click.option("--model", default=None, help="Model name sent to the endpoint (default: the adapter name).")
@click.option(
    "--base-model", default=None, help="transformers: base model folder or hub id (default: the manifest's)."
)
@click.option(
    "--device", default="auto", show_default=True, help="transformers: cpu, cuda, cuda:N, mps or auto."
)
@click.option(
    "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="Evidence JSON to write."
)
@click.option("--cache", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Resume cache.")
@click.option(
    "--results",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Item-level results JSONL.",
)
@click.option("--concurrency", type=click.IntRange(1, 256), default=4, show_default=True)
@click.option(
    "--timeout", type=click.FloatRange(0.1), default=120.0, show_default=True, help="Seconds/request."
)
@click.option("--retries", type=click.IntRange(0, 20), default=4, show_default=True)
@click.option("--max-tokens", type=click.IntRange(1), default=1024, show_default=True)
@click.option(
    "--api-key-env", default="OPENAI_API_KEY", show_default=True, help="Variable holding the API key."
)
@click.option(
    "--limit", type=click.IntRange(1), default=None, help="Generate at most N outputs now (resume later)."
)
@click.option("--key", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Evaluator's key.")
@click.option("--attest", "do_attest", is_flag=True, help="Sign the security-eval step with --key.")
@click.option(
    "--progress/--no-progress", default=None, help="Progress bar (default: when stderr is a terminal)."
)
@_REPO_OPTION
def run(
    suite_ref: str,
    items_file: Path | None,
    adapter_ref: str,
    backend: str,
    endpoint: str | None,
    model: str | None,
    base_model: str | None,
    device: str,
    output: Path,
    cache: Path | None,
    results: Path | None,
    concurrency: int,
    timeout: float,
    retries: int,
    max_tokens: int,
    api_key_env: str,
    limit: int | None,
    key: Path | None,
    do_attest: bool,
    progress: bool | None,
    repo: Path | None,
) -> None:
    """Run a sealed suite against an adapter; write security-eval evidence."""
    import json

    from ftpolicy.errors import UsageError
    from ftpolicy.evals.adapter import load_adapter
    from ftpolicy.evals.evidence import build_evidence, write_evidence
    from ftpolicy.evals.runner import Backend, complete, run_suite
    from ftpolicy.evals.seal import load_suite

    if do_attest and key is None:
        raise UsageError(
            "--attest needs --key", hint="pass the evaluator's private key (outside the repository)"
        )
    root = _root(repo)
    suite = load_suite(root, suite_ref, items_file)
    adapter = load_adapter(root, adapter_ref)
    engine: Backend
    if backend == "transformers":
        for flag, value in (("--endpoint", endpoint), ("--model", model)):
            if value is not None:
                raise UsageError(f"{flag} is for --backend openai", hint="use --base-model for transformers")
        from ftpolicy.evals.backends.transformers import TransformersBackend

        engine = TransformersBackend(root, adapter.rel, base_model, max_new_tokens=max_tokens, device=device)
    else:
        if not endpoint:
            raise UsageError(
                "--backend openai needs --endpoint URL", hint="e.g. --endpoint http://127.0.0.1:8000"
            )
        if base_model is not None:
            raise UsageError(
                "--base-model is for --backend transformers", hint="the endpoint serves the model"
            )
        from ftpolicy.evals.backends.openai import OpenAIBackend

        engine = OpenAIBackend(
            endpoint,
            model or adapter_ref.partition("@")[0],
            timeout=timeout,
            retries=retries,
            max_tokens=max_tokens,
            api_key_env=api_key_env,
        )
    cache = cache or output.with_name(output.name + ".cache.jsonl")
    result = run_suite(
        suite, engine, adapter_digest=adapter.digest, cache=cache, concurrency=concurrency, progress=progress,
        limit=limit,
    )  # fmt: skip
    if not complete(result, suite):
        click.echo(
            f"{len(result.results)}/{len(suite.items)} items done (cache {cache}); run again to continue",
            err=True,
        )
        raise click.exceptions.Exit(3)
    if results is not None:
        from ftpolicy._internal.atomic import write_text_atomic

        lines = [
            json.dumps({"id": r.item_id, **r.digest_view(), **({"detail": r.detail} if r.detail else {})})
            for r in sorted(result.results, key=lambda r: r.item)
        ]
        write_text_atomic(results, "\n".join(lines) + "\n")
    ident = result.identity
    evidence = build_evidence(
        adapter_ref=adapter.ref,
        adapter_digest=adapter.digest,
        suite={"name": suite.name, "version": suite.version, "digest": suite.digest},
        scores=result.scores,
        evaluated_at=result.finished_at,
        run={
            **ident,
            "items": len(result.results),
            "items_digest": suite.digest,
            "results_digest": result.results_digest,
            "started_at": result.started_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "finished_at": result.finished_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        },
    )
    write_evidence(output, evidence)
    for s in result.scores:
        mark = "ok  " if s.ok else "FAIL"
        extra = (
            f", over-refusal {s.over_refusal:.2f} (max {s.max_over_refusal})"
            if s.over_refusal is not None
            else ""
        )
        click.echo(
            f"{mark} {s.category}: {s.score:.3f} ({s.passed}/{s.samples}, threshold {s.threshold}{extra})"
        )
    click.echo(
        f"evidence {output} ({evidence['verdict']}; {result.generated} generated, {result.cached} cached)"
    )
    if do_attest:
        assert key is not None
        from ftpolicy.attest.link import attest_step
        from ftpolicy.attest.subject import Subject
        from ftpolicy.keys import load_signer

        signer = load_signer(key, repo=root)
        materials = [*adapter.local_files, root / suite.rel]
        if items_file is None or items_file.resolve().is_relative_to(root):
            materials.append((items_file or root / str(suite.data["items"]["path"])).resolve())
        att = attest_step(
            root, "security-eval", Subject.parse(f"adapter:{adapter.ref}"), signer, materials=materials,
            evidence=output,
        )  # fmt: skip
        click.echo(f"attested security-eval -> {att.link_path}")
    if evidence["verdict"] != "pass":
        raise click.exceptions.Exit(1)


IMPORT_EPILOG = """\b
Examples:
  ftpolicy eval import --from garak garak.3f2a.report.jsonl --suite security-holdout@2026.11 \\
      --adapter code-assistant-lora@1.0.0 --output security-eval.json
  ftpolicy eval import --from promptfoo results.json --mapping my-mapping.yaml ...

\b
Formats: garak report.jsonl (eval rows), promptfoo `eval --output results.json`,
lm-evaluation-harness results_<date>.json, Inspect eval logs in JSON. Probe, plugin and
task names become categories through the mapping (default: ftpolicy/evals/default-mapping.yaml,
print it with --show-default-mapping); unmapped names are listed and left out. Scores are
judged against the thresholds of the registered suite; a category of the suite without
results scores 0. The evidence records the sha256 of the imported file.
Exit codes: 0 every category passes, 1 a category fails, 2 usage or unreadable file."""


@eval_group.command("import", epilog=IMPORT_EPILOG)
@click.argument("result_file", type=click.Path(dir_okay=False, exists=True, path_type=Path), required=False)
@click.option("--from", "tool", type=click.Choice(["garak", "promptfoo", "lm-eval", "inspect"]), default=None)
@click.option("--mapping", type=click.Path(dir_okay=False, exists=True, path_type=Path), default=None)
@click.option("--suite", "suite_ref", default=None, metavar="NAME@VERSION", help="Registered eval suite.")
@click.option("--adapter", "adapter_ref", default=None, metavar="NAME@VERSION", help="Adapter evaluated.")
@click.option(
    "--output", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Evidence JSON."
)
@click.option("--show-default-mapping", is_flag=True, help="Print the default mapping and exit.")
@_REPO_OPTION
def import_(
    result_file: Path | None,
    tool: str | None,
    mapping: Path | None,
    suite_ref: str | None,
    adapter_ref: str | None,
    output: Path | None,
    show_default_mapping: bool,
    repo: Path | None,
) -> None:
    """Import a garak/promptfoo/lm-eval/Inspect result file as security-eval evidence."""
    import datetime as dt
    import hashlib

    from ftpolicy.errors import UsageError
    from ftpolicy.evals.mapping import default_mapping_text, load_mapping

    if show_default_mapping:
        click.echo(default_mapping_text(), nl=False)
        return
    missing = [n for n, v in (("RESULT_FILE", result_file), ("--from", tool), ("--suite", suite_ref),
                              ("--adapter", adapter_ref), ("--output", output)) if v is None]  # fmt: skip
    if missing:
        raise UsageError(f"eval import needs {', '.join(missing)}", hint="see `ftpolicy eval import --help`")
    assert result_file and tool and suite_ref and adapter_ref and output
    from ftpolicy.evals.adapter import load_adapter
    from ftpolicy.evals.evidence import build_evidence, utc, write_evidence
    from ftpolicy.evals.importers import import_results, to_scores
    from ftpolicy.evals.seal import parse_ref, suite_rel
    from ftpolicy.manifest import load_manifest

    root = _root(repo)
    name, version = parse_ref(suite_ref)
    rel = suite_rel(name, version)
    if not (root / rel).is_file():
        raise UsageError(f"{suite_ref}: no eval suite manifest at {rel}", hint="seal the suite first")
    suite = load_manifest(root, rel).data
    adapter = load_adapter(root, adapter_ref)
    imported = import_results(tool, result_file, load_mapping(mapping))
    scores = to_scores(imported, dict(suite.get("categories") or {}))
    now = dt.datetime.now(dt.UTC)
    notes = None
    if imported.unmapped:
        notes = f"unmapped {tool} names left out: {', '.join(imported.unmapped[:50])}"
        click.echo(f"warning: {notes}", err=True)
    tool_info = {"name": imported.tool}
    if imported.tool_version:
        tool_info["version"] = str(imported.tool_version)[:100]
    evidence = build_evidence(
        adapter_ref=adapter.ref,
        adapter_digest=adapter.digest,
        suite={"name": name, "version": version, "digest": (suite.get("items") or {}).get("digest")},
        scores=scores,
        evaluated_at=imported.evaluated_at or now,
        run={
            "backend": f"import:{tool}",
            "model": str(imported.model)[:500] if imported.model else None,
            "source_digest": "sha256:" + hashlib.sha256(result_file.read_bytes()).hexdigest(),
            "finished_at": utc(now),
        },
        tool=tool_info,
        notes=notes,
    )
    write_evidence(output, evidence)
    for s in scores:
        mark = "ok  " if s.ok else "FAIL"
        click.echo(f"{mark} {s.category}: {s.score:.3f} ({s.samples} samples, threshold {s.threshold})")
    click.echo(f"evidence {output} ({evidence['verdict']})")
    if evidence["verdict"] != "pass":
        raise click.exceptions.Exit(1)
