"""Inspect a PEFT adapter folder as a deployable artifact, without loading any tensor.

:func:`inspect_adapter` walks the folder (never following links) and reports, as
:class:`~ftpolicy.report.Finding` values with rule ids ``adapter/<rule>``:

* the folder itself: symlinks and special files (``adapter/symlink``,
  ``adapter/special-file``), files that are not part of a PEFT adapter
  (``adapter/extra-file``), files over the size limit (``adapter/oversize-file``);
* unsafe content: code (``adapter/code-file``), custom-code hooks in any JSON config
  (``adapter/auto-map``, ``adapter/trust-remote-code``), pickle-based files
  (``adapter/pickle-file``) whose opcodes are read without unpickling and whose imports
  outside the weights allowlist are ``adapter/pickle-global`` (critical);
* ``adapter_config.json``: present and readable (``adapter/config-missing``,
  ``adapter/config-invalid``), the PEFT type known (``adapter/peft-type``), base model
  recorded and pinned to a 40-hex revision (``adapter/base-model-missing``,
  ``adapter/base-model-unpinned``);
* safetensors headers parsed with bounds checks (``adapter/safetensors-*``);
* LoRA structure against the config: rank and alpha (``adapter/lora-config``), target
  modules present and only those (``adapter/target-modules-missing``,
  ``adapter/target-modules-extra``), A ``[r, in]`` / B ``[out, r]`` shapes
  (``adapter/lora-shape``), one shape per module kind across layers
  (``adapter/lora-inconsistent``), unpaired or unexpected tensors
  (``adapter/lora-unpaired``, ``adapter/tensor-unexpected``).

:meth:`AdapterReport.summary` is the ``adapter-scan`` step evidence
(``schemas/evidence-adapter-scan.v1.schema.json``).
"""

from __future__ import annotations

import json
import os
import re
import stat
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftpolicy import __version__
from ftpolicy.hashing.digest import sha256_file
from ftpolicy.report import SEVERITY_LEVEL, Finding, Report, RuleInfo
from ftpolicy.scan.adapter.pickles import (
    PICKLE_SUFFIXES,
    iter_disallowed,
    looks_like_pickle,
    scan_pickle_file,
)
from ftpolicy.scan.adapter.safetensors_header import read_header

CONFIG_NAME = "adapter_config.json"
WEIGHT_NAMES = ("adapter_model.safetensors",)
# files a PEFT save / hub upload of an adapter legitimately holds beside the weights
KNOWN_FILES = frozenset(
    {
        CONFIG_NAME,
        "adapter_model.safetensors",
        "README.md",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "tokenizer.model",
        "added_tokens.json",
        "chat_template.jinja",
        "generation_config.json",
    }
)
CODE_SUFFIXES = frozenset(
    {".py", ".pyc", ".pyo", ".pyd", ".so", ".dll", ".dylib", ".sh", ".bash", ".js", ".ipynb", ".exe", ".bat"}
)
PEFT_TYPES = frozenset({"LORA", "ADALORA", "IA3", "LOHA", "LOKR", "VERA", "BOFT", "OFT", "PREFIX_TUNING"})
DEFAULT_MAX_FILE_BYTES = 2 * 1024**3
SEVERITY_ORDER = ("info", "low", "medium", "high", "critical")
_HEX40 = re.compile(r"^[0-9a-f]{40}$")
_LORA_NAME = re.compile(
    r"^(?P<module>.+)\.(?P<part>lora_A|lora_B|lora_embedding_A|lora_embedding_B)(?:\.[A-Za-z0-9_-]+)?"
    r"(?:\.weight)?$"
)

RULES: dict[str, str] = {
    "config-missing": "the adapter folder has no adapter_config.json",
    "config-invalid": "adapter_config.json is not a readable JSON object",
    "weights-missing": "no adapter_model.safetensors in the folder",
    "peft-type": "unknown or missing peft_type",
    "base-model-missing": "base_model_name_or_path is not recorded",
    "base-model-unpinned": "the base model is not pinned to an immutable 40-hex revision",
    "safetensors-header-length": "safetensors header length out of bounds",
    "safetensors-header-json": "safetensors header is not valid JSON of tensor entries",
    "safetensors-offsets": "safetensors data offsets outside the file, with holes or trailing bytes",
    "safetensors-overlap": "safetensors tensors overlap",
    "safetensors-dtype": "unknown safetensors dtype",
    "safetensors-size": "tensor byte size differs from shape x dtype size",
    "lora-config": "LoRA rank or alpha missing or invalid",
    "target-modules-missing": "a configured target module has no LoRA weights",
    "target-modules-extra": "LoRA weights for a module that is not a configured target",
    "lora-shape": "LoRA A/B shapes do not match [r, in] / [out, r]",
    "lora-inconsistent": "a module kind has different shapes across layers",
    "lora-unpaired": "a LoRA A matrix without its B matrix (or the reverse)",
    "tensor-unexpected": "a tensor that is neither LoRA weights nor a configured module to save",
    "pickle-file": "pickle-based weights file (can run code when loaded)",
    "pickle-global": "pickle imports a global outside the weights allowlist",
    "pickle-malformed": "pickle-based file whose opcodes cannot be read",
    "code-file": "code file in the adapter folder",
    "auto-map": "config maps model classes to custom code (auto_map / auto_mapping)",
    "trust-remote-code": "config asks loaders to trust remote code",
    "extra-file": "file that is not part of a PEFT adapter",
    "oversize-file": "file larger than the size limit",
    "symlink": "symbolic link in the adapter folder",
    "special-file": "special file (FIFO, socket, device) in the adapter folder",
    "unreadable": "a file could not be read",
}


@dataclass
class AdapterReport:
    """Everything :func:`inspect_adapter` found about one adapter folder."""

    path: Path
    findings: list[Finding] = field(default_factory=list)
    files: list[dict[str, Any]] = field(default_factory=list)  # {path, bytes, sha256}
    config: dict[str, Any] | None = None
    tensors: int = 0
    parameters: int = 0
    tensor_bytes: int = 0
    lora_modules: list[str] = field(default_factory=list)
    ref: str | None = None
    digest: str | None = None
    rel_path: str | None = None  # repository-relative folder, when inside a governed repository
    fail_on: str = "high"

    def add(self, rule: str, severity: str, message: str, file: str | None = None, **props: Any) -> None:
        """Record a finding ``adapter/<rule>``."""
        self.findings.append(
            Finding(
                rule_id=f"adapter/{rule}",
                message=message,
                level=SEVERITY_LEVEL[severity],
                file=file,
                severity=severity,
                category="adapter",
                properties={k: v for k, v in props.items() if v is not None},
            )
        )

    def failed(self, fail_on: str | None = None) -> bool:
        """True when a finding is at or above ``fail_on`` (default: the report's own)."""
        threshold = fail_on or self.fail_on
        if threshold == "never":
            return False
        floor = SEVERITY_ORDER.index(threshold)
        return any(SEVERITY_ORDER.index(f.severity or "info") >= floor for f in self.findings)

    def summary(self) -> dict[str, Any]:
        """The ``adapter-scan`` step evidence (``schemas/evidence-adapter-scan.v1.schema.json``)."""
        cfg = self.config or {}
        adapter: dict[str, Any] = {"path": self.rel_path or self.path.name, "files": list(self.files)}
        if self.ref:
            adapter["ref"] = self.ref
        if self.digest:
            adapter["digest"] = self.digest
        by_sev = Counter(f.severity or "info" for f in self.findings)
        by_rule = Counter(f.rule_id for f in self.findings)
        out: dict[str, Any] = {
            "schema_version": 1,
            "kind": "evidence-adapter-scan",
            "scanner": {"name": "ftpolicy", "version": __version__},
            "adapter": adapter,
            "peft": {
                "type": cfg.get("peft_type") if isinstance(cfg.get("peft_type"), str) else None,
                "r": cfg.get("r") if isinstance(cfg.get("r"), int) else None,
                "lora_alpha": cfg.get("lora_alpha")
                if isinstance(cfg.get("lora_alpha"), int | float)
                else None,
                "target_modules": _targets(cfg)[0] if isinstance(_targets(cfg)[0], list) else [],
                "base_model": cfg.get("base_model_name_or_path")
                if isinstance(cfg.get("base_model_name_or_path"), str)
                else None,
                "revision": cfg.get("revision") if isinstance(cfg.get("revision"), str) else None,
            },
            "tensors": {"count": self.tensors, "parameters": self.parameters, "bytes": self.tensor_bytes},
            "counts": {
                "total": len(self.findings),
                "by_severity": dict(sorted(by_sev.items())),
                "by_rule": dict(sorted(by_rule.items())),
            },
            "findings": [
                {
                    k: v
                    for k, v in {
                        "rule": f.rule_id,
                        "severity": f.severity or "info",
                        "file": f.file,
                        "message": f.message,
                    }.items()
                    if v is not None
                }
                for f in self.findings
            ],
            "fail_on": self.fail_on,
            "status": "fail" if self.failed() else "pass",
        }
        if self.ref:
            out["subject"] = f"adapter:{self.ref}"
        return out

    def to_report(self) -> Report:
        """A renderable :class:`~ftpolicy.report.Report` (text, JSON, SARIF, GitHub)."""
        used = sorted({f.rule_id for f in self.findings})
        rules = {r: RuleInfo(r, RULES.get(r.split("/", 1)[1], r)) for r in used}
        notes = [
            f"{len(self.files)} file(s), {self.tensors} tensor(s), {self.parameters} parameter(s); "
            f"{len(self.findings)} finding(s); fail-on {self.fail_on}"
        ]
        return Report(
            kind="scan-adapter",
            status="fail" if self.failed() else "pass",
            findings=list(self.findings),
            summary={
                "adapter": str(self.path),
                "files": len(self.files),
                "tensors": self.tensors,
                "parameters": self.parameters,
                "findings": len(self.findings),
            },
            rules=rules,
            notes=notes,
        )


def _targets(cfg: dict[str, Any]) -> tuple[list[str] | str | None, bool]:
    """``target_modules`` as a sorted list (or a regex string) and whether it is well-formed."""
    tm = cfg.get("target_modules")
    if isinstance(tm, str) and tm:
        return tm, True
    if isinstance(tm, list) and tm and all(isinstance(t, str) and t for t in tm):
        return sorted(set(tm)), True
    return None, False


def inspect_adapter(
    path: Path | str,
    *,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    fail_on: str = "high",
    repo_root: Path | None = None,
    ref: str | None = None,
) -> AdapterReport:
    """Inspect the adapter folder ``path``; never loads tensors and never unpickles.

    With ``repo_root`` the evidence records the adapter digest over repository-relative
    paths (as ``ftpolicy verify`` computes it) and ``ref`` (``NAME@VERSION``) names it.
    Raises ``NotADirectoryError`` / ``FileNotFoundError`` when ``path`` is not a folder.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(2, "no such adapter folder", str(root))
    if root.is_symlink() or not root.is_dir():
        raise NotADirectoryError(20, "not a folder", str(root))
    report = AdapterReport(path=root, fail_on=fail_on, ref=ref)
    regular: list[tuple[str, Path, int]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames.sort()
        here = Path(dirpath)
        for d in list(dirnames):
            p = here / d
            if p.is_symlink():
                dirnames.remove(d)
                report.add(
                    "symlink",
                    "high",
                    f"symbolic link to {os.readlink(p)!r}",
                    _rel(root, p),
                    target=os.readlink(p),
                )
        for fname in sorted(filenames):
            p = here / fname
            rel = _rel(root, p)
            st = os.lstat(p)
            if stat.S_ISLNK(st.st_mode):
                report.add(
                    "symlink", "high", f"symbolic link to {os.readlink(p)!r}", rel, target=os.readlink(p)
                )
                continue
            if not stat.S_ISREG(st.st_mode):
                report.add("special-file", "high", "not a regular file", rel)
                continue
            regular.append((rel, p, st.st_size))
    for rel, p, size in regular:
        _check_file(report, root, rel, p, size, max_file_bytes)
    if repo_root is not None:
        from ftpolicy.attest.evidence import adapter_digest

        try:
            base = root.resolve().relative_to(repo_root.resolve()).as_posix()
        except ValueError:
            base = None
        if base is not None:
            report.rel_path = base
            report.digest = adapter_digest({f"{base}/{f['path']}": f["sha256"] for f in report.files})
    _check_config(report, root)
    weights = root / WEIGHT_NAMES[0]
    if weights.is_file() and not weights.is_symlink():
        _check_weights(report, weights)
    elif not any(f.rule_id == "adapter/symlink" and f.file == WEIGHT_NAMES[0] for f in report.findings):
        report.add(
            "weights-missing", "high", "no adapter_model.safetensors (safetensors weights are required)"
        )
    return report


def _rel(root: Path, p: Path) -> str:
    return p.relative_to(root).as_posix()


def _check_file(report: AdapterReport, root: Path, rel: str, p: Path, size: int, max_bytes: int) -> None:
    try:
        digest = sha256_file(p)
    except OSError as exc:
        report.add("unreadable", "high", f"cannot read ({exc.strerror or exc})", rel)
        return
    report.files.append({"path": rel, "bytes": size, "sha256": digest})
    if size > max_bytes:
        report.add("oversize-file", "high", f"{size} bytes, over the {max_bytes}-byte limit", rel, bytes=size)
    suffix = p.suffix.lower()
    try:
        with open(p, "rb") as fh:
            head = fh.read(4)
    except OSError:
        head = b""
    is_pickle = (
        suffix in PICKLE_SUFFIXES or looks_like_pickle(head) or (head == b"PK\x03\x04" and _zip_has_pkl(p))
    )
    if suffix in CODE_SUFFIXES:
        report.add("code-file", "high", f"code file ({suffix}) in an adapter; loaders may import it", rel)
    elif is_pickle:
        _check_pickle(report, rel, p)
    elif rel not in KNOWN_FILES:
        report.add("extra-file", "medium", "not part of a PEFT adapter; remove it or ship it elsewhere", rel)
    if suffix == ".json" and size <= 16 * 1024 * 1024 and rel != CONFIG_NAME:
        try:
            doc = json.loads(p.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, ValueError):
            return
        _check_code_hooks(report, rel, doc)


def _zip_has_pkl(p: Path) -> bool:
    import zipfile

    try:
        with zipfile.ZipFile(p) as zf:
            return any(n.endswith(".pkl") for n in zf.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def _check_pickle(report: AdapterReport, rel: str, p: Path) -> None:
    scan = scan_pickle_file(p)
    report.add(
        "pickle-file",
        "high",
        f"pickle-based file ({scan.format}); loading it can run code: ship safetensors instead",
        rel,
        format=scan.format,
        members=scan.members or None,
    )
    for err in scan.errors:
        report.add("pickle-malformed", "high", err, rel)
    for g in iter_disallowed(scan):
        where = f"{g.member}: " if g.member else ""
        report.add(
            "pickle-global",
            "critical",
            f"{where}imports {g.name} ({g.opcode} at byte {g.offset}), which a weights file never needs",
            rel,
            global_name=g.name,
            opcode=g.opcode,
            offset=g.offset,
            member=g.member,
        )


def _check_code_hooks(report: AdapterReport, rel: str, doc: Any, pointer: str = "") -> None:
    if isinstance(doc, dict):
        for key, value in doc.items():
            where = f"{pointer}/{key}"
            if key == "auto_mapping" and _library_mapping(value):
                continue
            if key in ("auto_map", "auto_mapping") and value not in (None, {}, []):
                report.add(
                    "auto-map", "high", f"{where} maps classes to custom code: {json.dumps(value)[:200]}", rel
                )
            elif "trust_remote_code" in key and value not in (None, False):
                report.add("trust-remote-code", "high", f"{where} is {json.dumps(value)}", rel)
            else:
                _check_code_hooks(report, rel, value, where)
    elif isinstance(doc, list):
        for i, value in enumerate(doc):
            _check_code_hooks(report, rel, value, f"{pointer}/{i}")


_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LIBRARY_MODULE = re.compile(r"^transformers(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def _library_mapping(value: Any) -> bool:
    """peft's ``auto_mapping`` naming a class of the transformers library itself (no custom code)."""
    return (
        isinstance(value, dict)
        and set(value) == {"base_model_class", "parent_library"}
        and isinstance(value["base_model_class"], str)
        and _IDENT.match(value["base_model_class"]) is not None
        and isinstance(value["parent_library"], str)
        and _LIBRARY_MODULE.match(value["parent_library"]) is not None
    )


def _check_config(report: AdapterReport, root: Path) -> None:
    p = root / CONFIG_NAME
    if p.is_symlink() or not p.is_file():
        report.add("config-missing", "high", f"no {CONFIG_NAME}: cannot tell what the adapter is")
        return
    try:
        cfg = json.loads(p.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        report.add("config-invalid", "high", f"not UTF-8 JSON ({exc})", CONFIG_NAME)
        return
    if not isinstance(cfg, dict):
        report.add("config-invalid", "high", "not a JSON object", CONFIG_NAME)
        return
    report.config = cfg
    _check_code_hooks(report, CONFIG_NAME, cfg)
    ptype = cfg.get("peft_type")
    if not isinstance(ptype, str) or ptype.upper() not in PEFT_TYPES:
        report.add("peft-type", "high", f"peft_type {ptype!r} is not a known PEFT method", CONFIG_NAME)
    base = cfg.get("base_model_name_or_path")
    if not isinstance(base, str) or not base.strip():
        report.add(
            "base-model-missing",
            "high",
            "base_model_name_or_path is not recorded: the adapter could be applied to any model",
            CONFIG_NAME,
        )
    rev = cfg.get("revision")
    if not isinstance(rev, str) or not _HEX40.match(rev):
        report.add(
            "base-model-unpinned",
            "high",
            f"revision {rev!r} is not an immutable 40-hex commit of the base model",
            CONFIG_NAME,
        )


def _check_weights(report: AdapterReport, weights: Path) -> None:
    rel = weights.name
    header = read_header(weights)
    for prob in header.problems:
        report.add(
            prob.rule,
            "high",
            (f"{prob.tensor}: " if prob.tensor else "") + prob.message,
            rel,
            tensor=prob.tensor,
        )
    if header.header_bytes is None or any(p.rule == "safetensors-header-length" for p in header.problems):
        return
    report.tensors = len(header.tensors)
    report.parameters = sum(t.numel for t in header.tensors)
    report.tensor_bytes = sum(t.end - t.begin for t in header.tensors)
    cfg = report.config
    if cfg is None or str(cfg.get("peft_type", "")).upper() != "LORA":
        return
    _check_lora(report, rel, cfg, header.tensors)


def _check_lora(report: AdapterReport, rel: str, cfg: dict[str, Any], tensors: list[Any]) -> None:
    r = cfg.get("r")
    alpha = cfg.get("lora_alpha")
    if not isinstance(r, int) or isinstance(r, bool) or r < 1:
        report.add("lora-config", "high", f"r {r!r} is not a positive integer", CONFIG_NAME)
        r = None
    if not isinstance(alpha, int | float) or isinstance(alpha, bool) or alpha <= 0:
        report.add("lora-config", "high", f"lora_alpha {alpha!r} is not a positive number", CONFIG_NAME)
    targets, targets_ok = _targets(cfg)
    if not targets_ok:
        report.add("lora-config", "high", "target_modules is missing or empty", CONFIG_NAME)
    rp, ms = cfg.get("rank_pattern"), cfg.get("modules_to_save")
    rank_pattern: dict[str, Any] = rp if isinstance(rp, dict) else {}
    to_save: list[Any] = ms if isinstance(ms, list) else []
    use_dora = cfg.get("use_dora") is True
    pairs: dict[str, dict[str, Any]] = defaultdict(dict)
    for t in tensors:
        m = _LORA_NAME.match(t.name)
        if m:
            part = m["part"].replace("lora_embedding_", "lora_")
            pairs[m["module"]][part] = t
            continue
        if use_dora and ".lora_magnitude_vector" in t.name:
            continue
        if any(f".{s}." in f".{t.name}." for s in to_save):
            continue
        report.add("tensor-unexpected", "medium", f"{t.name}: neither LoRA weights nor a module to save", rel)
    seen_kinds: set[str] = set()
    shapes: dict[str, tuple[tuple[int, ...], tuple[int, ...], str]] = {}
    for module, parts in sorted(pairs.items()):
        kind = module.rsplit(".", 1)[-1]
        short = module.removeprefix("base_model.model.")
        if isinstance(targets, str):
            ok_target = re.fullmatch(targets, short) is not None or re.fullmatch(targets, module) is not None
        elif isinstance(targets, list):
            ok_target = kind in targets or short in targets or any(short.endswith(f".{t}") for t in targets)
        else:
            ok_target = True
        if not ok_target:
            report.add(
                "target-modules-extra",
                "high",
                f"{module}: LoRA weights for a module that target_modules does not list",
                rel,
                module=module,
            )
        seen_kinds.add(kind)
        a, b = parts.get("lora_A"), parts.get("lora_B")
        if a is None or b is None:
            missing = "lora_B" if b is None else "lora_A"
            report.add("lora-unpaired", "high", f"{module}: {missing} is missing", rel, module=module)
            continue
        report.lora_modules.append(module)
        rank = r
        for pat, val in rank_pattern.items():
            if isinstance(val, int) and (
                re.fullmatch(pat, short) or short.endswith(f".{pat}") or kind == pat
            ):
                rank = val
        if len(a.shape) != 2 or len(b.shape) != 2:
            report.add(
                "lora-shape",
                "high",
                f"{module}: A {list(a.shape)} and B {list(b.shape)} must be matrices",
                rel,
            )
            continue
        if a.shape[0] != b.shape[1] or (rank is not None and a.shape[0] != rank):
            report.add(
                "lora-shape",
                "high",
                f"{module}: A {list(a.shape)} / B {list(b.shape)} do not match [r, in] / [out, r] "
                f"with r={rank}",
                rel,
                module=module,
            )
            continue
        if a.dtype != b.dtype:
            report.add(
                "lora-shape", "medium", f"{module}: A is {a.dtype}, B is {b.dtype}", rel, module=module
            )
        prev = shapes.get(kind)
        if prev is None:
            shapes[kind] = (a.shape, b.shape, module)
        elif (prev[0], prev[1]) != (a.shape, b.shape):
            report.add(
                "lora-inconsistent",
                "high",
                f"{module}: A {list(a.shape)} / B {list(b.shape)}, but {prev[2]} has "
                f"A {list(prev[0])} / B {list(prev[1])}",
                rel,
                module=module,
            )
    if isinstance(targets, list):
        for t in targets:
            if t not in seen_kinds and not any(m.endswith(f".{t}") for m in pairs):
                report.add(
                    "target-modules-missing",
                    "high",
                    f"target module {t!r} is configured but has no LoRA weights",
                    rel,
                    module=t,
                )
    if not pairs and targets_ok:
        report.add("target-modules-missing", "high", "no LoRA weights at all in the file", rel)
