"""Adapter inspection: PEFT layout, safetensors headers, LoRA structure and unsafe content.

>>> from ftpolicy.scan.adapter import inspect_adapter  # doctest: +SKIP
>>> report = inspect_adapter("artifacts/adapters/bot/1.0.0")
>>> [f.rule_id for f in report.findings], report.failed()

Nothing here loads a tensor or unpickles a file: safetensors headers are parsed with
bounds checks (:mod:`~ftpolicy.scan.adapter.safetensors_header`) and pickles are judged by
their opcodes against an allowlist (:mod:`~ftpolicy.scan.adapter.pickles`).
"""

from ftpolicy.scan.adapter.inspect import RULES, AdapterReport, inspect_adapter

__all__ = ["RULES", "AdapterReport", "inspect_adapter"]
