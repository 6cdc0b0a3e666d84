#!/usr/bin/env python3
"""Write real PEFT adapters of tiny randomly-initialised models into tests/fixtures/adapters/.

Needs torch, transformers and peft (``pip install '.[models]'``, or a throwaway virtual
environment: the default test run never needs them). No hub access: the base models are
built from configs in code, and ``HF_HUB_OFFLINE=1`` is set before anything is imported.

    python scripts/make_adapter_fixtures.py [--out tests/fixtures/adapters]

Writes (each a folder peft's ``save_pretrained`` produced, then pinned as noted):

* ``llama-lora/``         LlamaConfig 2 layers, hidden 32; LoRA r=4 alpha=8 on q_proj/v_proj;
                          base model name and a 40-hex revision recorded (sha1 of the base
                          config, standing in for the hub commit) -> passes ``scan adapter``;
* ``gpt2-lora/``          GPT2Config 2 layers, hidden 32; LoRA r=2 on c_attn (Conv1D) -> passes;
* ``llama-lora-unpinned/`` as peft writes it by default: base model and revision null;
* ``llama-lora-bin/``     ``safe_serialization=False``: a genuine torch zip ``adapter_model.bin``;
* ``torch-state-dict.pt`` ``torch.save`` of the LoRA state dict (genuine pickle globals);
* ``torch-legacy.bin``    the same in torch's legacy format (several pickles, then raw storage).

The output is deterministic for a given torch/peft version (fixed seeds, sorted
target_modules), except ``torch-legacy.bin``, whose storage keys differ between runs;
VERSIONS.txt in the output folder records the versions used.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
from pathlib import Path

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

BASE_NAME = "ftpolicy-fixtures/{}"


def _pin(folder: Path, base_name: str, revision: str) -> None:
    cfg_path = folder / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["base_model_name_or_path"] = base_name
    cfg["revision"] = revision
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    _normalise(folder)


def _normalise(folder: Path) -> None:
    """Sort target_modules (peft stores a set, whose order varies between runs) and the keys."""
    cfg_path = folder / "adapter_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    if isinstance(cfg.get("target_modules"), list):
        cfg["target_modules"] = sorted(cfg["target_modules"])
    cfg_path.write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def _revision(config: object) -> str:
    text = json.dumps(config.to_dict(), sort_keys=True, default=str)  # type: ignore[attr-defined]
    return hashlib.sha1(text.encode()).hexdigest()


def main(argv: list[str] | None = None) -> int:
    """Build the models, save the adapters, write NOTE.md's version line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("tests/fixtures/adapters"))
    args = ap.parse_args(argv)
    try:
        import peft
        import torch
        import transformers
        from peft import LoraConfig, get_peft_model
        from transformers import GPT2Config, GPT2LMHeadModel, LlamaConfig, LlamaForCausalLM
    except ImportError as exc:
        print(f"make_adapter_fixtures: needs torch, transformers and peft ({exc})", file=sys.stderr)
        return 2
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)

    def fresh(name: str) -> Path:
        d = out / name
        if d.exists():
            shutil.rmtree(d)
        return d

    torch.manual_seed(0)
    llama_cfg = LlamaConfig(
        vocab_size=128,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=64,
    )
    lora = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    llama = get_peft_model(LlamaForCausalLM(llama_cfg), lora)
    llama.save_pretrained(fresh("llama-lora"))
    _pin(out / "llama-lora", BASE_NAME.format("tiny-llama-2l"), _revision(llama_cfg))
    llama.save_pretrained(fresh("llama-lora-unpinned"))
    _normalise(out / "llama-lora-unpinned")
    llama.save_pretrained(fresh("llama-lora-bin"), safe_serialization=False)
    _pin(out / "llama-lora-bin", BASE_NAME.format("tiny-llama-2l"), _revision(llama_cfg))
    state = {k: v for k, v in llama.state_dict().items() if "lora_" in k}
    torch.save(state, out / "torch-state-dict.pt")
    torch.save(state, out / "torch-legacy.bin", _use_new_zipfile_serialization=False)

    torch.manual_seed(1)
    gpt2_cfg = GPT2Config(vocab_size=128, n_embd=32, n_layer=2, n_head=4, n_positions=64)
    gpt2_lora = LoraConfig(
        r=2,
        lora_alpha=4,
        lora_dropout=0.0,
        target_modules=["c_attn"],
        fan_in_fan_out=True,
        init_lora_weights=False,
    )
    gpt2 = get_peft_model(GPT2LMHeadModel(gpt2_cfg), gpt2_lora)
    gpt2.save_pretrained(fresh("gpt2-lora"))
    _pin(out / "gpt2-lora", BASE_NAME.format("tiny-gpt2-2l"), _revision(gpt2_cfg))

    versions = f"torch {torch.__version__}, transformers {transformers.__version__}, peft {peft.__version__}"
    (out / "VERSIONS.txt").write_text(versions + "\n", encoding="utf-8")
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    print(f"wrote fixtures to {out} ({total} bytes) with {versions}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
