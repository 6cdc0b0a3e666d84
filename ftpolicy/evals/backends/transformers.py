"""The ``transformers`` backend: a local base model plus the registered PEFT adapter, in-process.

Needs the optional ``models`` extra (``pip install 'ftpolicy[models]'``: torch, transformers,
peft, safetensors); without it the backend refuses with that fix instead of a traceback.

What is loaded is pinned before anything is loaded:

* **Adapter.** Every file the adapter manifest (``adapters/NAME/VERSION.yaml``) lists is read
  from the work tree, hashed and copied into a private temporary folder in one pass; the
  sha256 of the copied bytes must equal the manifest's, otherwise the run stops (a file
  changed after registration is never evaluated, and the evidence can only be about the
  registered adapter digest). The model loads the copy, so a file changed during the run is
  not picked up either. Only ``adapter_model.safetensors`` weights are loaded: an adapter
  whose manifest lists pickle-based weights (``.bin``, ``.pt``, ...) is refused, like
  ``ftpolicy scan adapter`` flags it.
* **Base model.** ``--base-model`` is a local folder (``save_pretrained`` layout) or a hub id.
  A hub id is resolved in the local Hugging Face cache at the ``base_model.revision`` the
  adapter manifest records (downloaded only when the environment allows it, i.e.
  ``HF_HUB_OFFLINE`` is not set). The folder's digest is ``sha256:`` over the RFC 8785
  canonical JSON of ``{relative path: sha256}`` of its files (hidden files left out), the
  same construction as the adapter digest; when the adapter manifest records
  ``base_model.digest`` the two must be equal. Weights load with ``use_safetensors=True``
  and ``trust_remote_code=False``: no pickle and no code from the model folder runs.

Generation is greedy (``do_sample=False``) and bounded by ``--max-tokens`` new tokens. The
prompt is the tokenizer's chat template when it has one (``add_generation_prompt=True``);
otherwise one line per message, ``System: ...``, ``User: ...``, ``Assistant: ...``, followed
by ``Assistant:``. A prompt that does not fit the model's context with ``--max-tokens`` is
an error (exit 3), never silently cut: the cut could drop the canary the item tests. The
device is ``cuda`` when torch sees a GPU, else ``cpu``, unless ``--device`` says otherwise.
One model answers at a time (a lock): ``--concurrency`` above 1 only queues.

The evidence records ``backend`` ``transformers``, ``backend_version`` (the transformers,
torch and peft versions and the device), ``model`` (the base model id or folder as given) and
``model_version`` (the base model digest, plus the revision for hub ids).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ftpolicy.errors import Location, ManifestError, UsageError
from ftpolicy.evals.runner import BackendError
from ftpolicy.hashing.digest import sha256_file

__all__ = ["MODELS_HINT", "TransformersBackend", "base_model_digest", "plain_prompt"]

MODELS_HINT = (
    "install the optional models extra: pip install 'ftpolicy[models]' (in a checkout: make test-models)"
)
ADAPTER_WEIGHTS = "adapter_model.safetensors"
ADAPTER_CONFIG = "adapter_config.json"
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")


def _import() -> tuple[Any, Any, Any]:
    """(torch, transformers, peft), or a UsageError saying what to install."""
    missing = []
    mods = []
    for name in ("torch", "transformers", "peft"):
        try:
            mods.append(__import__(name))
        except ImportError:
            missing.append(name)
    if missing:
        raise UsageError(
            f"--backend transformers needs {', '.join(missing)}, "
            + ("which is not installed" if len(missing) == 1 else "which are not installed"),
            hint=MODELS_HINT,
        )
    return mods[0], mods[1], mods[2]


def _hash_files(folder: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts) or not path.is_file():
            continue
        out[rel.as_posix()] = sha256_file(path)
    return out


def base_model_digest(folder: Path) -> str:
    """``sha256:`` over the canonical JSON of ``{relative path: sha256}`` of the folder's files."""
    from ftpolicy.attest.evidence import adapter_digest

    files = _hash_files(folder)
    if not files:
        raise UsageError(f"{folder}: the base model folder is empty", hint="pass a save_pretrained folder")
    return adapter_digest(files)


def plain_prompt(messages: Sequence[Mapping[str, str]]) -> str:
    """The prompt for a tokenizer without a chat template: ``Role: content`` lines, then ``Assistant:``."""
    lines = [f"{str(m.get('role', 'user')).capitalize()}: {m.get('content', '')}" for m in messages]
    return "\n".join([*lines, "Assistant:"])


def _copy_verified(root: Path, manifest_rel: str, files: Sequence[Mapping[str, Any]], dest: Path) -> None:
    """Copy the adapter's files into ``dest`` (flat), checking each copy's sha256 against the manifest."""
    from ftpolicy.manifest import confine

    names: dict[str, str] = {}
    for entry in files:
        rel, want = str(entry.get("path", "")), str(entry.get("sha256", ""))
        name = Path(rel).name
        if name.lower().endswith(_PICKLE_SUFFIXES):
            raise ManifestError(
                f"{rel}: pickle-based adapter weights are not loaded (only {ADAPTER_WEIGHTS})",
                location=Location(manifest_rel),
                hint="save the adapter with safe_serialization=True and register the safetensors file",
            )
        if name in names:
            raise ManifestError(
                f"{rel} and {names[name]}: two adapter files named {name}",
                location=Location(manifest_rel),
                hint="register the files of one adapter folder",
            )
        names[name] = rel
        src = confine(root, rel)
        if not src.is_file():
            raise UsageError(
                f"{rel}: listed in {manifest_rel} but not in the work tree",
                hint="fetch the adapter's files (the evaluation loads the registered bytes)",
            )
        h = hashlib.sha256()
        with open(src, "rb") as fin, open(dest / name, "wb") as fout:
            for chunk in iter(lambda: fin.read(1 << 20), b""):
                h.update(chunk)
                fout.write(chunk)
        if h.hexdigest() != want:
            raise ManifestError(
                f"{rel}: sha256 {h.hexdigest()[:16]}… differs from {manifest_rel} ({want[:16]}…)",
                location=Location(manifest_rel),
                hint="evaluate the adapter the manifest registers (a changed adapter is a new version)",
            )
    for need in (ADAPTER_CONFIG, ADAPTER_WEIGHTS):
        if need not in names:
            raise ManifestError(
                f"{manifest_rel}: the adapter lists no {need}",
                location=Location(manifest_rel),
                hint=f"a PEFT adapter is {ADAPTER_CONFIG} + {ADAPTER_WEIGHTS} (safetensors)",
            )


class TransformersBackend:
    """A base model and a PEFT adapter loaded locally (see the module docstring)."""

    name = "transformers"

    def __init__(
        self,
        root: Path,
        adapter_manifest: str,
        base_model: str | None,
        *,
        max_new_tokens: int = 1024,
        device: str = "auto",
    ) -> None:
        from ftpolicy.manifest import load_manifest

        torch, transformers, peft = _import()
        manifest = load_manifest(root, adapter_manifest).data
        pinned = manifest.get("base_model") or {}
        base = base_model or pinned.get("id")
        if not base:
            raise UsageError(
                "--backend transformers needs --base-model PATH|ID",
                hint=f"{adapter_manifest} records no base_model.id either",
            )
        self.model = str(base)
        self.max_new_tokens = max_new_tokens
        self._lock = threading.Lock()
        self._torch = torch
        folder, revision = self._resolve_base(str(base), pinned.get("revision"))
        self._digest = base_model_digest(folder)
        want = pinned.get("digest")
        if want and want != self._digest:
            raise ManifestError(
                f"{base}: base model digest {self._digest} differs from {adapter_manifest} "
                f"base_model.digest {want}",
                location=Location(adapter_manifest),
                hint="evaluate on the base model the adapter was registered for",
            )
        self._revision = revision
        self.device = self._pick_device(device)
        versions = [f"transformers {transformers.__version__}", f"torch {torch.__version__}"]
        self._backend_version = ", ".join([*versions, f"peft {peft.__version__}", f"device {self.device}"])
        with tempfile.TemporaryDirectory(prefix="ftpolicy-adapter-") as tmp:
            _copy_verified(root, adapter_manifest, manifest.get("files") or [], Path(tmp))
            self._load(folder, Path(tmp), transformers, peft)

    def _resolve_base(self, base: str, revision: Any) -> tuple[Path, str | None]:
        path = Path(base).expanduser()
        if path.is_dir():
            return path.resolve(), None
        if path.exists() or base.startswith((".", "/", "~")) or base.count("/") > 1:
            raise UsageError(
                f"--base-model {base}: not a model folder", hint="pass a save_pretrained folder or a hub id"
            )
        from huggingface_hub import snapshot_download

        offline = os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"}
        try:
            got = snapshot_download(
                base,
                revision=str(revision) if revision else None,
                local_files_only=offline,
                allow_patterns=["*.json", "*.safetensors", "*.model", "*.txt", "*.jinja", "*.tiktoken"],
            )
        except Exception as exc:
            raise UsageError(
                f"--base-model {base}: not found"
                + (" in the local Hugging Face cache (HF_HUB_OFFLINE is set)" if offline else "")
                + f" ({type(exc).__name__})",
                hint="pass a local save_pretrained folder, or fetch the model at the adapter's "
                "base_model.revision first",
            ) from None
        return Path(got), str(revision) if revision else None

    def _pick_device(self, device: str) -> str:
        torch = self._torch
        if device == "auto":
            return "cuda" if torch.cuda.is_available() else "cpu"
        if not re.fullmatch(r"cpu|mps|cuda(:\d+)?", device):
            raise UsageError(f"--device {device}: not a device", hint="cpu, cuda, cuda:N, mps or auto")
        if device.startswith("cuda") and not torch.cuda.is_available():
            raise UsageError(f"--device {device}: torch sees no CUDA device", hint="use --device cpu")
        return device

    def _load(self, folder: Path, adapter_dir: Path, transformers: Any, peft: Any) -> None:
        transformers.utils.logging.disable_progress_bar()  # no "Loading weights" bars on stderr
        common = {"local_files_only": True, "trust_remote_code": False}
        try:
            self.tokenizer = transformers.AutoTokenizer.from_pretrained(str(folder), **common)
        except Exception as exc:
            raise UsageError(
                f"{self.model}: could not load the tokenizer ({type(exc).__name__}: {str(exc)[:300]})",
                hint="the base model folder needs its tokenizer files (save the tokenizer beside the model)",
            ) from None
        try:
            base = transformers.AutoModelForCausalLM.from_pretrained(
                str(folder), use_safetensors=True, **common
            )
        except Exception as exc:
            raise UsageError(
                f"{self.model}: could not load the base model ({type(exc).__name__}: {str(exc)[:300]})",
                hint="a causal LM folder with config.json and *.safetensors weights (pickles are not loaded)",
            ) from None
        try:
            model = peft.PeftModel.from_pretrained(base, str(adapter_dir), is_trainable=False)
        except Exception as exc:
            raise ManifestError(
                f"the adapter does not load on {self.model} ({type(exc).__name__}: {str(exc)[:300]})",
                hint="evaluate on the base model the adapter was trained on",
            ) from None
        model.eval()
        self._model = model.to(self.device)
        self._limit = getattr(base.config, "max_position_embeddings", None)
        tok = self.tokenizer
        self._pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self._template = bool(getattr(tok, "chat_template", None))

    def prompt(self, messages: Sequence[Mapping[str, str]]) -> str:
        """The text the model is given for ``messages``."""
        if self._template:
            try:
                text = self.tokenizer.apply_chat_template(
                    [dict(m) for m in messages], tokenize=False, add_generation_prompt=True
                )
            except Exception as exc:  # the template's own checks (e.g. no system role)
                raise BackendError(
                    f"{self.model}: the chat template refuses the item's messages ({str(exc)[:300]})",
                    hint="use items whose roles the model's chat template accepts",
                ) from None
            return str(text)
        return plain_prompt(messages)

    def generate(self, messages: Sequence[Mapping[str, str]], *, max_new_tokens: int | None = None) -> str:
        """Greedy answer to ``messages`` (one at a time); ``max_new_tokens`` defaults to --max-tokens."""
        torch = self._torch
        budget = max_new_tokens or self.max_new_tokens
        text = self.prompt(messages)
        with self._lock:
            enc = self.tokenizer(text, return_tensors="pt", add_special_tokens=not self._template)
            n = int(enc["input_ids"].shape[1])
            if self._limit and n + budget > self._limit:
                raise BackendError(
                    f"a prompt of {n} tokens plus --max-tokens {budget} exceeds the "
                    f"{self._limit} positions of {self.model}",
                    hint="lower --max-tokens, or use a model with a longer context (prompts are never cut)",
                )
            enc = {k: v.to(self.device) for k, v in enc.items()}
            try:
                with torch.inference_mode():
                    out = self._model.generate(
                        **enc,
                        do_sample=False,
                        num_beams=1,
                        max_new_tokens=budget,
                        pad_token_id=self._pad,
                    )
            except RuntimeError as exc:  # e.g. out of memory
                raise BackendError(
                    f"{self.model}: generation failed ({str(exc)[:300]})",
                    hint="try --device cpu or a smaller --max-tokens; a new run resumes from its cache",
                ) from None
        return str(self.tokenizer.decode(out[0][n:], skip_special_tokens=True))

    def identity(self) -> dict[str, str]:
        """Backend and model as recorded in the cache and the evidence."""
        version = self._digest + (f" (revision {self._revision})" if self._revision else "")
        return {
            "backend": "transformers",
            "backend_version": self._backend_version,
            "model": self.model,
            "model_version": version,
        }
