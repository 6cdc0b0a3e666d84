"""``eval run --backend transformers`` on a tiny random model with a real PEFT adapter (make test-models).

Skipped unless torch, transformers and peft are importable (the default ``make test`` does
not install them; ``make test-models`` does). Nothing is downloaded: the base model, its
tokenizer and the LoRA adapter are built in the test (tiny_model.py) and the adapter is
registered in a governed repository with keys for every role (tests/attest/conftest.py).
The model is random, so its answers are noise: it leaks nothing, follows no injected
instruction, writes no unsafe code and refuses nothing. The suite is sealed with
thresholds that such a model meets (refusal 0.0) so the chain verifies end to end; what
is asserted about the scores is what the graders say about those answers.

The ``openai`` backend is run here too, against model_server.py serving the same model and
adapter through ``/v1/chat/completions`` (aiohttp): it must produce the very same item-level
results as the in-process run.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

for _mod in ("torch", "transformers", "peft", "tokenizers"):
    pytest.importorskip(_mod, reason=f"needs the models extra ({_mod}): make test-models")

from attest.conftest import (  # noqa: E402
    ADAPTER,
    ADAPTER_DIR,
    ADAPTER_FILES,
    Chain,
    _adapter_manifest,
    attest_adapter,
    attest_dataset,
    build_governed_repo,
)

from ftpolicy.attest.evidence import check_evidence  # noqa: E402
from ftpolicy.errors import ManifestError, UsageError  # noqa: E402
from ftpolicy.evals.backends.transformers import TransformersBackend, base_model_digest  # noqa: E402
from ftpolicy.evals.runner import BackendError  # noqa: E402

from .conftest import EXAMPLE, ITEMS_REL, assert_chain_verifies, by_category, run  # noqa: E402
from .model_server import ServerState, serve  # noqa: E402
from .tiny_model import CHAT_TEMPLATE, TinyModel  # noqa: E402

pytestmark = pytest.mark.models

SUITE = "holdout@2026.12"
MANIFEST = f"adapters/{ADAPTER.name}/{ADAPTER.version}.yaml"


def governed_with_adapter(tmp_path: Path, tiny: TinyModel, capsys: pytest.CaptureFixture[str]) -> Chain:
    """The attest test chain with the tiny PEFT adapter registered as bot@1.0 and a sealed suite."""
    chain = build_governed_repo(tmp_path)
    for rel in ADAPTER_FILES:
        shutil.copy(tiny.adapter / Path(rel).name, chain.root / rel)
    chain.write(MANIFEST, _adapter_manifest(chain.root))
    items_rel = "holdout/holdout/2026.12/items.jsonl"
    (chain.root / items_rel).parent.mkdir(parents=True)
    shutil.copy(EXAMPLE / ITEMS_REL, chain.root / items_rel)
    code, _, err = run(
        capsys, "eval", "seal", str(chain.root / items_rel), "--name", "holdout", "--version", "2026.12",
        "--items-path", items_rel, "--sealed-by", "eve", "--threshold", "refusal=0.0",
        "--max-over-refusal", "1.0", "--repo", str(chain.root),
    )  # fmt: skip
    assert code == 0, err
    chain.sign_layout()
    return chain


def eval_args(chain: Chain, out: Path, *extra: str) -> list[str]:
    return [
        "eval", "run", "--suite", SUITE, "--adapter", ADAPTER.ref, "--output", str(out),
        "--max-tokens", "6", "--repo", str(chain.root), "--no-progress", *extra,
    ]  # fmt: skip


def test_transformers_run_attests_resumes_and_verifies(
    tmp_path: Path, tiny_model: TinyModel, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = governed_with_adapter(tmp_path, tiny_model, capsys)
    attest_dataset(chain)
    attest_adapter(chain, skip=("security-eval", "quality-eval", "security-approval", "promote"))
    out = tmp_path / "security-eval.json"
    argv = eval_args(
        chain, out, "--backend", "transformers", "--base-model", str(tiny_model.base), "--device", "cpu",
        "--key", str(chain.keys["eve"]), "--attest", "--results", str(tmp_path / "results.jsonl"),
    )  # fmt: skip
    code, _, err = run(capsys, *argv, "--limit", "20")
    assert code == 3 and "20/60 items done" in err and not out.exists()
    code, stdout, err = run(capsys, *argv)
    assert code == 0, err + stdout
    assert "40 generated, 20 cached" in stdout
    assert "attested security-eval -> attestations/adapter/bot/1.0/security-eval." in stdout

    evidence = json.loads(out.read_text())
    check_evidence("security-eval", out.read_bytes(), display="e")
    assert evidence["adapter"] == chain.adapter_ref()  # the digest of the registered PEFT files
    assert evidence["suite"]["name"] == "holdout" and evidence["suite"]["version"] == "2026.12"
    run_info = evidence["run"]
    assert run_info["backend"] == "transformers"
    assert run_info["model"] == str(tiny_model.base)
    assert run_info["model_version"] == base_model_digest(tiny_model.base)
    import peft
    import torch
    import transformers

    assert run_info["backend_version"] == (
        f"transformers {transformers.__version__}, torch {torch.__version__}, peft {peft.__version__}, "
        "device cpu"
    )
    assert run_info["items"] == 60
    res = by_category(evidence)
    # noise leaks no canary, follows no injection, holds no unsafe code
    for cat in ("secret-leakage", "prompt-injection", "unsafe-code"):
        assert res[cat]["passed"] == res[cat]["samples"] == 15, res[cat]
    rows = [json.loads(line) for line in (tmp_path / "results.jsonl").read_text().splitlines()]
    refusal_rows = [r for r in rows if r["category"] == "refusal"]
    assert res["refusal"]["passed"] == sum(r["passed"] for r in refusal_rows)
    assert evidence["verdict"] == "pass"

    signed = json.loads((chain.root / ADAPTER.evidence_dir / "security-eval.json").read_text())
    assert signed == evidence
    assert_chain_verifies(chain, capsys)

    # the same model and adapter served over HTTP: the openai backend gets the same answers
    backend = TransformersBackend(chain.root, MANIFEST, str(tiny_model.base), max_new_tokens=6, device="cpu")
    served = tmp_path / "served.json"
    state = ServerState(chat=backend.generate)
    with serve(state) as url:
        code, stdout, err = run(
            capsys, *eval_args(chain, served, "--backend", "openai", "--endpoint", url, "--model", "bot")
        )
    assert code == 0, err + stdout
    assert state.requests == 60
    other = json.loads(served.read_text())
    assert other["run"]["backend"] == "openai" and other["run"]["backend_version"] == "fp_tiny_model"
    assert other["run"]["results_digest"] == evidence["run"]["results_digest"]
    assert other["results"] == evidence["results"]


def test_adapter_is_applied_and_generation_is_greedy(tmp_path: Path, tiny_model: TinyModel) -> None:
    chain = build_governed_repo(tmp_path)
    for rel in ADAPTER_FILES:
        shutil.copy(tiny_model.adapter / Path(rel).name, chain.root / rel)
    chain.write(MANIFEST, _adapter_manifest(chain.root))
    backend = TransformersBackend(chain.root, MANIFEST, str(tiny_model.base), max_new_tokens=12, device="cpu")
    prompts = [[{"role": "user", "content": f"question {i}: what is in the config?"}] for i in range(4)]
    first = [backend.generate(p) for p in prompts]
    assert first == [backend.generate(p) for p in prompts]  # greedy: the same answer every time
    # the chat template of the tokenizer frames the prompt
    assert backend.prompt(prompts[0]) == "<|user|>question 0: what is in the config?</s><|assistant|>"

    # without the adapter the base model answers differently: the LoRA weights are in use
    import torch
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(str(tiny_model.base), use_safetensors=True)
    plain = []
    for p in prompts:
        enc = backend.tokenizer(backend.prompt(p), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = base.generate(**enc, do_sample=False, max_new_tokens=12, pad_token_id=2)
        plain.append(backend.tokenizer.decode(out[0][enc["input_ids"].shape[1] :], skip_special_tokens=True))
    assert plain != first

    # a template that refuses the messages, or an unknown device: clear errors
    backend.tokenizer.chat_template = "{{ raise_exception('no system role') }}"
    with pytest.raises(BackendError, match="chat template refuses"):
        backend.generate(prompts[0])
    backend.tokenizer.chat_template = CHAT_TEMPLATE
    with pytest.raises(UsageError, match="not a device"):
        TransformersBackend(chain.root, MANIFEST, str(tiny_model.base), device="gpu")
    # a prompt that does not fit the context with --max-tokens is an error, never cut
    with pytest.raises(BackendError, match="exceeds the 4096 positions"):
        backend.generate(prompts[0], max_new_tokens=4090)


def test_tampered_adapter_is_refused(
    tmp_path: Path, tiny_model: TinyModel, capsys: pytest.CaptureFixture[str]
) -> None:
    chain = governed_with_adapter(tmp_path, tiny_model, capsys)
    weights = chain.root / ADAPTER_FILES[1]
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0x01  # one bit of one LoRA weight
    weights.write_bytes(bytes(data))
    out = tmp_path / "e.json"
    argv = eval_args(chain, out, "--backend", "transformers", "--base-model", str(tiny_model.base))
    code, _, err = run(capsys, *argv)
    assert code == 1 and f"{ADAPTER_FILES[1]}: sha256" in err and "differs from" in err
    assert not out.exists()
    # the backend checks the bytes it loads itself, whoever calls it
    with pytest.raises(ManifestError, match=r"differs from adapters/bot/1\.0\.yaml"):
        TransformersBackend(chain.root, MANIFEST, str(tiny_model.base), device="cpu")
    weights.unlink()
    with pytest.raises(UsageError, match="not in the work tree"):
        TransformersBackend(chain.root, MANIFEST, str(tiny_model.base), device="cpu")


def test_pickle_weights_and_other_base_model_are_refused(
    tmp_path: Path, tiny_model: TinyModel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    chain = governed_with_adapter(tmp_path, tiny_model, capsys)
    manifest = (chain.root / MANIFEST).read_text()
    # the manifest pins a base model digest: a different folder is refused before loading
    pinned = manifest.replace("  revision: ", f"  digest: sha256:{'0' * 64}\n  revision: ", 1)
    chain.write(MANIFEST, pinned)
    argv = eval_args(
        chain, tmp_path / "e.json", "--backend", "transformers", "--base-model", str(tiny_model.base)
    )
    code, _, err = run(capsys, *argv)
    assert code == 1 and "base model digest" in err and "differs from" in err
    right = pinned.replace(f"sha256:{'0' * 64}", base_model_digest(tiny_model.base))
    chain.write(MANIFEST, right)
    backend = TransformersBackend(chain.root, MANIFEST, str(tiny_model.base), max_new_tokens=2, device="cpu")
    assert backend.identity()["model_version"] == base_model_digest(tiny_model.base)

    # pickle weights (peft's safe_serialization=False) are never loaded
    binary = f"{ADAPTER_DIR}/adapter_model.bin"
    chain.write(binary, b"PK\x03\x04 not loaded")
    import hashlib

    sha = hashlib.sha256((chain.root / binary).read_bytes()).hexdigest()
    lines = right.replace(ADAPTER_FILES[1], binary).splitlines()
    i = next(n for n, line in enumerate(lines) if binary in line)
    lines[i + 1] = f'    sha256: "{sha}"'
    lines[i + 2] = f"    bytes: {(chain.root / binary).stat().st_size}"
    chain.write(MANIFEST, "\n".join(lines) + "\n")
    code, _, err = run(capsys, *argv)
    assert code == 1 and "pickle-based adapter weights are not loaded" in err
    # a base model that is neither a folder nor a cached hub id: a usage error, no download
    code, _, err = run(capsys, *argv[:-1], str(tmp_path / "missing" / "model"))
    assert code == 2 and "not a model folder" in err
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))  # an empty cache
    code, _, err = run(capsys, *argv[:-1], "example/tiny")
    assert code == 2 and "not found in the local Hugging Face cache (HF_HUB_OFFLINE is set)" in err
