"""A tiny randomly-initialised causal LM, its tokenizer and a real PEFT LoRA adapter, built locally.

Needs torch, transformers, peft and tokenizers (``make test-models``); nothing is downloaded
(``HF_HUB_OFFLINE=1``). The base model is a 2-layer LlamaConfig (hidden 32) with fixed seeds,
saved with ``save_pretrained`` (safetensors); the tokenizer is a byte-level BPE without merges
(one token per byte, so any text encodes) wrapped in ``PreTrainedTokenizerFast`` with a small
chat template; the adapter is LoRA r=4 on ``q_proj``/``v_proj`` with random (non-zero) B, so
it changes what the model says.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


@dataclass(frozen=True)
class TinyModel:
    base: Path  # save_pretrained folder: config, safetensors weights, tokenizer
    adapter: Path  # PEFT save_pretrained folder: adapter_config.json, adapter_model.safetensors


def build(dest: Path, *, seed: int = 0) -> TinyModel:
    """Write the base model (with tokenizer) and the adapter under ``dest``."""
    import torch
    from peft import LoraConfig, get_peft_model
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    vocab = {t: i for i, t in enumerate(specials)}
    for ch in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[ch] = len(vocab)
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    core.add_special_tokens(specials)
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>"
    )
    tok.chat_template = CHAT_TEMPLATE

    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        bos_token_id=1,
        eos_token_id=2,
        pad_token_id=2,
    )
    model = LlamaForCausalLM(config)
    base = dest / "base"
    model.save_pretrained(base)
    tok.save_pretrained(base)
    lora = LoraConfig(
        r=4, lora_alpha=8, lora_dropout=0.0, target_modules=["q_proj", "v_proj"], init_lora_weights=False
    )
    adapter = dest / "adapter"
    get_peft_model(model, lora).save_pretrained(adapter)
    return TinyModel(base, adapter)
