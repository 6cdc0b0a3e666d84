"""The dataset scan driver: files in, findings and a summary out.

:func:`scan_dataset` resolves its targets (``NAME@VERSION`` of a registered dataset,
whose shards are verified against their sha256 first, or files/directories), splits the
work into units (whole files, or newline-aligned byte ranges of large plain JSONL files
when ``jobs > 1``; line numbers stay exact because the newlines before each range start
are counted), runs the record detectors over every unit (in ``jobs`` worker processes,
each streaming batches of records (see :func:`~.readers.iter_batches`): memory per
worker is bounded) and runs the corpus detector (trigger backdoors) over the merged
stream in corpus order:

* ``jobs == 1``: one pass feeds both;
* ``jobs > 1``: the workers run the record detectors while the parent process reads the
  same units in order and feeds the corpus detector (or, when the detector offers
  ``merge``, each worker feeds its own instance and the parent merges them in order).

Within a batch each step runs over all of its records before the next one starts: the
pre-screens over every new field text (:meth:`_FieldMemo.scan_batch`), then the record
detectors, then the corpus detector. Each step's tables (the rule screen's Hyperscan
database, the holdout index, the trigger's memos) then stay in the CPU caches for a whole
batch instead of being evicted by the other steps at every record, which made up ~15 % of
the scan's CPU time. Results do not depend on the batching (the screens are exact caches).

Findings are sorted by (file order, line, rule, field), so ``--jobs 4`` reports exactly
what ``--jobs 1`` reports. A baseline then suppresses accepted findings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import hashlib
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import ModuleType
from typing import Any

from ftpolicy import __version__
from ftpolicy.errors import EvaluationError, ManifestError, UsageError
from ftpolicy.hashing.digest import sha256_file
from ftpolicy.report import Finding
from ftpolicy.scan.dataset.baseline import BaselineOutcome, apply_baseline, load_baseline
from ftpolicy.scan.dataset.contamination import ContaminationDetector, Holdout, HoldoutItem, load_holdout
from ftpolicy.scan.dataset.interface import (
    CATEGORIES,
    MALFORMED,
    CorpusDetector,
    CorpusResult,
    Record,
    RecordDetector,
    TextField,
    fingerprint,
)
from ftpolicy.scan.dataset.native import native
from ftpolicy.scan.dataset.readers import (
    DEFAULT_MAX_LINE_BYTES,
    Unit,
    detect_format,
    iter_batches,
    iter_records,
    split_units,
)
from ftpolicy.scan.dataset.rules import RulePack, SharedKeywordIndex, load_rules, share_keyword_indexes

DATA_SUFFIXES = (".jsonl", ".jsonl.gz", ".jsonl.zst", ".ndjson", ".json.gz", ".parquet")
SEVERITY_RANK = {"info": 0, "low": 1, "medium": 2, "high": 3, "critical": 4}


@dataclass(frozen=True)
class ScanOptions:
    """How to scan (mirrors the ``ftpolicy scan dataset`` options)."""

    jobs: int = 1
    rules: tuple[Path, ...] = ()
    holdout: str | None = None
    repo: Path | None = None
    baseline: Path | None = None
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES
    triggers: bool = True
    trigger_config: dict[str, Any] | None = None
    fail_on: str = "high"
    split_bytes: int = 8 * 1024 * 1024  # plain JSONL files at least twice this size are split for --jobs
    today: dt.date | None = None
    progress: Callable[[int, int], None] | None = None  # (units done, units total)


@dataclass(frozen=True)
class ScannedFile:
    """A file that was scanned, as recorded in the summary."""

    path: str  # as shown in findings
    full: str  # where it was read
    sha256: str
    bytes: int
    format: str


@dataclass
class ScanResult:
    """Findings that remain after the baseline, what it suppressed, and the summary."""

    findings: list[Finding]
    suppressed: list[Finding]
    summary: dict[str, Any]
    rule_pack: RulePack
    baseline: BaselineOutcome | None = None
    files: list[ScannedFile] = field(default_factory=list)

    def failed(self) -> bool:
        """True when a finding at or above ``fail_on`` remains."""
        return self.summary["status"] == "fail"


# -- targets ------------------------------------------------------------------------


def _display(path: Path) -> str:
    try:
        rel = os.path.relpath(path)
    except ValueError:
        return str(path)
    return str(path) if rel.startswith("..") else rel


def resolve_targets(
    targets: list[str], repo: Path | None
) -> tuple[str | None, list[ScannedFile], str | None]:
    """Files to scan: ``(dataset ref, files, digest of the registered shard list)``."""
    if not targets:
        raise UsageError("nothing to scan", hint="pass NAME@VERSION or one or more JSONL/Parquet paths")
    files: list[ScannedFile] = []
    ref: str | None = None
    registered_digest: str | None = None
    for target in targets:
        path = Path(target)
        if "@" in target and not path.exists():
            if len(targets) > 1:
                raise UsageError(
                    f"{target}: a dataset reference cannot be mixed with other targets",
                    hint="scan one NAME@VERSION at a time",
                )
            ref = target
            found, registered_digest = _resolve_dataset(target, repo)
            files.extend(found)
            continue
        if path.is_dir():
            inside = sorted(
                p for p in path.rglob("*") if p.is_file() and p.name.lower().endswith(DATA_SUFFIXES)
            )
            if not inside:
                raise UsageError(
                    f"{target}: no .jsonl, .jsonl.gz, .jsonl.zst or .parquet files in the directory"
                )
            for p in inside:
                files.append(_scanned(p))
        elif path.is_file():
            files.append(_scanned(path))
        else:
            raise UsageError(
                f"{target}: no such file or directory",
                hint="pass NAME@VERSION of a registered dataset (with --repo) or an existing path",
            )
    return ref, files, registered_digest


def _scanned(path: Path, display: str | None = None, sha: str | None = None) -> ScannedFile:
    full = str(path)
    return ScannedFile(
        path=display or _display(path),
        full=full,
        sha256=sha or sha256_file(full),
        bytes=path.stat().st_size,
        format=detect_format(full),
    )


def _resolve_dataset(ref: str, repo: Path | None) -> tuple[list[ScannedFile], str]:
    from ftpolicy.manifest import confine, find_repo_root, load_manifest

    name, _, version = ref.partition("@")
    root = repo if repo is not None else find_repo_root(Path.cwd())
    rel = f"datasets/{name}/{version}.yaml"
    if not (root / rel).is_file():
        raise UsageError(
            f"{ref}: no dataset manifest at {rel} in {root}",
            hint="check the name and version, or pass --repo DIR",
        )
    manifest = load_manifest(root, rel)
    out = []
    digests = []
    for i, shard in enumerate(manifest.data.get("shards", [])):
        if "path" not in shard:
            raise UsageError(
                f"{rel}: shard {i} is remote ({shard.get('uri')}); only local shards can be scanned",
                hint="download the shards and scan the files by path",
            )
        full = confine(root, shard["path"])
        if not full.is_file():
            raise UsageError(f"{rel}: shard {shard['path']} is missing", hint="fetch the dataset files first")
        actual = sha256_file(full)
        if actual != shard["sha256"]:
            raise ManifestError(
                f"{shard['path']}: sha256 {actual} does not match the manifest ({shard['sha256']})",
                hint="the shard changed after the dataset version was recorded; do not scan or train on it",
            )
        digests.append(actual)
        out.append(_scanned(full, display=shard["path"], sha=actual))
    return out, "sha256:" + hashlib.sha256("".join(d + "\n" for d in digests).encode()).hexdigest()


# -- detectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class _DetectorSpec:
    """Picklable recipe for the record detectors of one scan (built again in each worker)."""

    pack: dict[str, Any]
    holdout: tuple[HoldoutItem, ...]
    max_line_bytes: int
    key: str = ""
    corpus_config: dict[str, Any] | None = None  # set when the corpus detector runs in workers


def build_detectors(spec: _DetectorSpec) -> list[RecordDetector]:
    """The record detectors for a rule pack (and holdout, when given)."""
    from ftpolicy.scan.dataset.approval import ApprovalBypassDetector
    from ftpolicy.scan.dataset.injection import PromptInjectionDetector
    from ftpolicy.scan.dataset.secrets import SecretDetector
    from ftpolicy.scan.dataset.unicode import HiddenUnicodeDetector

    data = spec.pack
    disabled = frozenset(str(v) for v in data.get("disable", []) or [])

    def section(name: str) -> dict[str, Any]:
        value = data.get(name)
        return value if isinstance(value, dict) else {}

    detectors: list[RecordDetector] = [
        SecretDetector(section("secret"), disabled),
        ApprovalBypassDetector(section("approval-bypass"), disabled),
        HiddenUnicodeDetector(section("hidden-unicode"), disabled),
        PromptInjectionDetector(section("prompt-injection"), disabled),
    ]
    if spec.holdout:
        detectors.append(ContaminationDetector(spec.holdout, section("contamination")))
    share_keyword_indexes(detectors)  # one keyword pass per field for all of them
    return detectors


def load_trigger_detector(config: dict[str, Any] | None) -> tuple[CorpusDetector | None, str | None]:
    """The trigger detector, or ``(None, reason)`` when it cannot be loaded."""
    try:
        from ftpolicy.scan.dataset import trigger
    except ImportError as exc:  # pragma: no cover - the module ships with ftpolicy
        return None, f"trigger detection unavailable: {exc}"
    cls = getattr(trigger, "TriggerDetector", None)
    if cls is None:  # pragma: no cover
        return None, "trigger detection unavailable: ftpolicy.scan.dataset.trigger has no TriggerDetector"
    detector: CorpusDetector = cls(config)
    return detector, None


_WORKER_CACHE: dict[str, list[RecordDetector]] = {}


@dataclass
class _UnitResult:
    findings: list[Finding]
    records: int
    malformed: int
    corpus: Any = None  # the worker's corpus detector (mergeable ones only), pickled back


#: Field texts up to this many characters are remembered by :class:`_FieldMemo` ...
MEMO_MAX_TEXT = 4096
#: ... at most this many of them, and at most this many characters in all (the memo is
#: emptied when full: memory stays bounded, ~20 MB at most).
MEMO_MAX_ENTRIES = 1 << 16
MEMO_MAX_CHARS = 8 << 20


class _FieldMemo:
    """The record detectors' findings for field texts already seen.

    Training sets repeat field texts (one system prompt on every record, templated answers);
    every record detector judges each field on its own (its text, path and role, and the
    file name in fingerprints), so a repeated field has the findings it had before, moved
    to the new record's line and id. Only short texts are kept, at most
    ``MEMO_MAX_ENTRIES`` of them and ``MEMO_MAX_CHARS`` characters: memory stays bounded.
    """

    def __init__(self, detectors: list[RecordDetector]) -> None:
        self.detectors = detectors
        # (detector, how its fields are chosen, its pre-check): _SCREENED detectors report
        # only through rules of the shared pre-screened keyword index (a field the screen
        # clears for all of them is not shown to them); _WORTH ones have an exact pre-check
        # of fields (see RecordDetector); _ALL ones see every field
        self.shared = _shared_index(detectors)
        plan = []
        for d in detectors:
            worth = getattr(d, "worth", None)
            if self.shared is not None and getattr(getattr(d, "index", None), "_shared", None) is self.shared:
                plan.append((d, _SCREENED, None))
            else:
                plan.append((d, _ALL if worth is None else _WORTH, worth))
        self.plan = tuple(plan)
        # pre-checks that run over a batch's new texts first (see RecordDetector): each
        # returns the texts its detectors must look at; when every detector has one (or
        # reports through the shared screen), the other texts need no detector at all
        self.prescreens = [
            p for p in (getattr(x, "prescreen", None) for x in (self.shared, *detectors)) if callable(p)
        ]
        self.loud_all = any(
            kind == _ALL or (kind == _WORTH and not callable(getattr(d, "prescreen", None)))
            for d, kind, _ in plan
        )
        self.seen: dict[tuple[str, TextField], list[Finding]] = {}
        self.chars = 0
        self._loud: set[str] | None = None  # the current batch's texts a detector must see

    def scan_batch(self, batch: list[Record | Finding], out: list[Finding]) -> tuple[int, int]:
        """Append the findings of every record detector for the records of ``batch`` (and the
        ``malformed`` findings in it) to ``out``; return ``(records, malformed)``.

        The pre-screens (the shared rule screen's, the detectors' ``prescreen``) first run
        over the batch's field texts not yet remembered, and name the texts some detector
        must look at; a record whose new fields are none of those is done without asking
        the detectors."""
        seen = self.seen
        mod = _native_memo()
        if mod is not None:
            new: list[str] = mod.memo_new(batch, seen)
        else:
            new = [
                f.text
                for item in batch
                if isinstance(item, Record)
                for f in item.fields
                if (item.file, f) not in seen
            ]
        self._loud = self._prescreen(new)
        records = malformed = 0
        at = 0
        end = len(batch)
        quick = None if mod is None else mod.memo_quiet
        while at < end:
            if quick is not None and self._loud is not None:
                # the records with nothing to report, in C; it stops at the next one to
                # take here (a malformed line, remembered findings, a loud field, a full memo)
                at, taken, self.chars = quick(
                    batch,
                    at,
                    seen,
                    self._loud,
                    _NONE,
                    self.chars,
                    MEMO_MAX_ENTRIES,
                    MEMO_MAX_CHARS,
                    MEMO_MAX_TEXT,
                )
                records += taken
                if at >= end:
                    break
            item = batch[at]
            at += 1
            if isinstance(item, Finding):
                out.append(item)
                malformed += 1
                continue
            records += 1
            file = item.file
            todo: list[TextField] = []
            remembered: list[Finding] | None = None
            for f in item.fields:
                hit = seen.get((file, f))
                if hit is None:
                    todo.append(f)
                elif hit:
                    if remembered is None:
                        remembered = []
                    remembered.extend(hit)
            if todo:
                loud = self._loud
                quiet = loud is not None
                if quiet:
                    for f in todo:
                        if f.text in loud:  # type: ignore[operator]
                            quiet = False
                            break
                if not quiet:
                    self._scan_fields(item, todo, out)
                elif len(seen) + len(todo) <= MEMO_MAX_ENTRIES and self.chars <= MEMO_MAX_CHARS:
                    for f in todo:  # no detector has anything to look at: _remember, inline
                        if len(f.text) <= MEMO_MAX_TEXT:
                            seen[(file, f)] = _NONE
                            self.chars += len(f.text)
                else:
                    self._remember(file, todo, None)
            if remembered:
                out.extend(_moved(finding, item) for finding in remembered)
        return records, malformed

    def _prescreen(self, texts: list[str]) -> set[str] | None:
        """The texts some detector must look at (``None``: all of them)."""
        if self.loud_all:
            for screen in self.prescreens:  # still worth it: their answers are remembered
                screen(texts)
            return None
        loud: set[str] = set()
        for screen in self.prescreens:
            loud.update(screen(texts))
        return loud

    def _scan_fields(self, item: Record, todo: list[TextField], out: list[Finding]) -> None:
        n = len(item.fields)
        fresh: list[Finding] = []
        loud: Record | None = None
        for det, kind, worth in self.plan:
            if kind == _SCREENED:
                if loud is None:  # the fields the rule screen does not clear, once per record
                    quiet = self.shared.quiet  # type: ignore[union-attr]
                    kept = [f for f in todo if not quiet(f.text)]
                    loud = _subset(item, kept, n)
                if loud.fields:
                    fresh.extend(det.scan(loud))
            elif kind == _WORTH:
                some = worth(todo)  # type: ignore[misc]
                if some:
                    fresh.extend(det.scan(_subset(item, some, n)))
            else:
                fresh.extend(det.scan(_subset(item, todo, n)))
        out.extend(fresh)
        self._remember(item.file, todo, fresh)

    def _remember(self, file: str, todo: list[TextField], fresh: list[Finding] | None) -> None:
        """Keep the findings of the (short) fields in ``todo`` for the records that repeat them."""
        seen = self.seen
        if len(seen) + len(todo) > MEMO_MAX_ENTRIES or self.chars > MEMO_MAX_CHARS:
            seen.clear()
            self.chars = 0
            self._loud = None  # texts remembered when the batch was screened are new again
        by_path: dict[str, list[Finding]] = {}
        for finding in fresh or ():
            by_path.setdefault(str(finding.properties.get("field", "")), []).append(finding)
        for f in todo:
            if len(f.text) <= MEMO_MAX_TEXT:
                seen[(file, f)] = by_path.get(f.path, _NONE)
                self.chars += len(f.text)

    def scan(self, item: Record, out: list[Finding]) -> None:
        """Append the findings of every record detector for ``item`` to ``out``."""
        self.scan_batch([item], out)


_SCREENED, _WORTH, _ALL = 0, 1, 2


def _native_memo() -> ModuleType | None:
    """The C extension, for the loops of :meth:`_FieldMemo.scan_batch` (``memo_new``,
    ``memo_quiet``); ``None``: the Python loops."""
    return native()


def _subset(item: Record, fields: Sequence[TextField], n: int) -> Record:
    """``item`` with only ``fields`` (a subsequence of its fields, ``n`` of them in all)."""
    return item if len(fields) == n else Record(item.file, item.line, tuple(fields), item.key)


_NONE: list[Finding] = []  # shared by the fields without findings (never appended to)


def _shared_index(detectors: list[RecordDetector]) -> SharedKeywordIndex | None:
    """The pre-screened keyword index the detectors share (see :func:`share_keyword_indexes`)."""
    for det in detectors:
        shared = getattr(getattr(det, "index", None), "_shared", None)
        if isinstance(shared, SharedKeywordIndex):
            return shared
    return None


def _moved(f: Finding, item: Record) -> Finding:
    """A remembered finding placed on ``item`` (its line and record id)."""
    props = dict(f.properties)
    if item.key is None:
        props.pop("record", None)
    else:
        props["record"] = item.key
    return replace(f, line=item.line, properties=props)


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Run the record loop with the cyclic garbage collector mostly out of the way.

    The loop makes many short-lived containers and keeps bounded memos; on its default
    schedule (a young collection every 700 net allocations) the collector mostly re-walks
    long-lived objects (~5 % of the scan's time). Objects alive before the loop are frozen
    out of its reach and young collections wait for 50,000 allocations. Reference counting
    still frees everything acyclic at once; both settings are restored afterwards."""
    old = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, old[1], old[2])
    try:
        yield
    finally:
        gc.set_threshold(*old)
        gc.unfreeze()


def _scan_records(
    batches: Iterator[list[Record | Finding]], detectors: list[RecordDetector], corpus: CorpusDetector | None
) -> _UnitResult:
    with _fewer_collections():
        return _scan_records_loop(batches, detectors, corpus)


def _scan_records_loop(
    batches: Iterator[list[Record | Finding]], detectors: list[RecordDetector], corpus: CorpusDetector | None
) -> _UnitResult:
    findings: list[Finding] = []
    count = 0
    malformed = 0
    memo = _FieldMemo(detectors)
    for batch in batches:
        records_in, malformed_in = memo.scan_batch(batch, findings)
        count += records_in
        malformed += malformed_in
        if corpus is not None:  # after the record detectors: each keeps its tables warm
            observe_batch = getattr(corpus, "observe_batch", None)
            if observe_batch is not None:
                observe_batch([item for item in batch if not isinstance(item, Finding)])
            else:
                for item in batch:
                    if not isinstance(item, Finding):
                        corpus.observe(item)
    return _UnitResult(findings, count, malformed)


def _worker(spec: _DetectorSpec, unit: Unit) -> _UnitResult:
    key = spec.key
    detectors = _WORKER_CACHE.get(key)
    if detectors is None:
        _WORKER_CACHE.clear()
        detectors = build_detectors(spec)
        _WORKER_CACHE[key] = detectors
    corpus: CorpusDetector | None = None
    if spec.corpus_config is not None:
        corpus, _ = load_trigger_detector(spec.corpus_config or None)
    result = _scan_records(iter_batches(unit, spec.max_line_bytes), detectors, corpus)
    result.corpus = corpus
    return result


# -- the scan -----------------------------------------------------------------------------


def _sort_key(order: dict[str, int]) -> Callable[[Finding], tuple[Any, ...]]:
    def key(f: Finding) -> tuple[Any, ...]:
        return (
            order.get(f.file or "", 1 << 30),
            f.line or 0,
            f.category or "",
            f.rule_id,
            str(f.properties.get("field", "")),
            str(f.properties.get("offset", 0)).zfill(12),
        )

    return key


def _with_fingerprint(f: Finding) -> Finding:
    if f.properties.get("fingerprint"):
        return f
    p = f.properties
    basis = f"{p.get('field', '')}\0{p.get('excerpt', '')}\0{p.get('trigger', '')}"
    if f.category == MALFORMED:
        basis = f"{f.line}\0{basis}"  # malformed lines have no content to anchor on
    props = dict(f.properties)
    props["fingerprint"] = fingerprint(f.rule_id, f.file, basis)
    return replace(f, properties=props)


def scan_dataset(targets: list[str], options: ScanOptions | None = None) -> ScanResult:
    """Scan training files (or a registered dataset) and return findings and summary."""
    options = options or ScanOptions()
    started = time.time()
    started_at = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
    pack = load_rules(options.rules)
    ref, files, registered_digest = resolve_targets(targets, options.repo)
    holdout: Holdout | None = load_holdout(options.holdout, options.repo) if options.holdout else None
    suppressions = load_baseline(options.baseline) if options.baseline else None

    jobs = max(1, int(options.jobs))
    spec = _DetectorSpec(
        pack.data,
        holdout.items if holdout else (),
        options.max_line_bytes,
        key=f"{pack.digest}:{holdout.ref if holdout else ''}:{len(holdout.items) if holdout else 0}",
    )
    units: list[Unit] = []
    for f in files:
        if jobs > 1:
            units.extend(split_units(f.full, f.path, jobs, min_bytes=options.split_bytes))
        else:
            units.append(Unit(f.full, f.path, f.format))

    corpus: CorpusDetector | None = None
    trigger_reason: str | None = None
    trig_cfg: dict[str, Any] = {}
    if options.triggers:
        trig_cfg.update(pack.section("trigger"))
        trig_cfg.update(options.trigger_config or {})
        trig_cfg.pop("rules", None)
        corpus, trigger_reason = load_trigger_detector(trig_cfg or None)
    else:
        trigger_reason = "trigger detection switched off"

    findings: list[Finding] = []
    records = 0
    malformed = 0
    done = 0
    if jobs == 1:
        detectors = build_detectors(spec)
        for unit in units:
            res = _scan_records(iter_batches(unit, options.max_line_bytes), detectors, corpus)
            findings.extend(res.findings)
            records += res.records
            malformed += res.malformed
            done += 1
            if options.progress:
                options.progress(done, len(units))
    else:
        import multiprocessing

        mergeable = corpus is not None and callable(getattr(corpus, "merge", None))
        if mergeable:  # every worker feeds its own instance; the parent merges them in order
            spec = replace(spec, corpus_config=trig_cfg)
        # fork where the platform has it: workers start with the modules loaded and the
        # detectors (rule regexes, screens, holdout index) built once here, instead of
        # importing and building everything again in each worker
        ctx: multiprocessing.context.BaseContext
        if "fork" in multiprocessing.get_all_start_methods():
            ctx = multiprocessing.get_context("fork")
            _WORKER_CACHE.clear()
            _WORKER_CACHE[spec.key] = build_detectors(spec)
        else:  # pragma: no cover - Windows
            ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futures: list[Future[_UnitResult]] = [pool.submit(_worker, spec, u) for u in units]
            if corpus is not None and not mergeable:
                for unit in units:  # the corpus detector sees the merged stream, in order
                    for item in iter_records(unit, options.max_line_bytes):
                        if isinstance(item, Record):
                            corpus.observe(item)
            for fut in futures:
                try:
                    res = fut.result()
                except BrokenProcessPool as exc:
                    raise EvaluationError(
                        "a scan worker process died before finishing",
                        hint="it may have run out of memory (try fewer --jobs); a program calling "
                        "scan_dataset with jobs > 1 must do so under `if __name__ == '__main__':`",
                        code="scan.worker",
                    ) from exc
                findings.extend(res.findings)
                records += res.records
                malformed += res.malformed
                if mergeable and res.corpus is not None:
                    corpus.merge(res.corpus)  # type: ignore[union-attr]
                done += 1
                if options.progress:
                    options.progress(done, len(units))
        _WORKER_CACHE.clear()

    trigger_summary: dict[str, Any] = {"available": corpus is not None, "suspected": []}
    if corpus is not None:
        result: CorpusResult = corpus.finish()
        findings.extend(result.findings)
        detail = dict(result.summary)
        suspected = detail.pop("suspected_triggers", detail.pop("suspected", []))
        trigger_summary["suspected"] = list(suspected)
        trigger_summary["detail"] = detail
    else:
        trigger_summary["reason"] = trigger_reason or "trigger detection unavailable"

    order = {f.path: i for i, f in enumerate(files)}
    findings = sorted((_with_fingerprint(f) for f in findings), key=_sort_key(order))

    outcome: BaselineOutcome | None = None
    suppressed: list[Finding] = []
    if suppressions is not None:
        outcome = apply_baseline(findings, suppressions, options.today or dt.date.today())
        findings, suppressed = outcome.findings, outcome.suppressed

    from ftpolicy.scan.dataset.summary import build_summary

    dataset_digest = registered_digest or (
        "sha256:" + hashlib.sha256("".join(f.sha256 + "\n" for f in files).encode()).hexdigest()
    )
    summary = build_summary(
        findings=findings,
        files=[{"path": f.path, "sha256": f.sha256, "bytes": f.bytes, "format": f.format} for f in files],
        ref=ref,
        dataset_digest=dataset_digest,
        pack=pack,
        records=records,
        malformed=malformed,
        trigger=trigger_summary,
        holdout=holdout,
        baseline_file=str(options.baseline) if options.baseline else None,
        outcome=outcome,
        fail_on=options.fail_on,
        jobs=jobs,
        started_at=started_at,
        duration=time.time() - started,
        version=__version__,
        categories=list(CATEGORIES) if holdout else [c for c in CATEGORIES if c != "contamination"],
    )
    return ScanResult(findings, suppressed, summary, pack, outcome, files)


def failing(findings: list[Finding], fail_on: str) -> list[Finding]:
    """Findings at or above ``fail_on`` (``never`` fails nothing)."""
    if fail_on == "never":
        return []
    floor = SEVERITY_RANK[fail_on]
    return [f for f in findings if SEVERITY_RANK.get(f.severity or "medium", 2) >= floor]
