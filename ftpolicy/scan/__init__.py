"""Security scanners for fine-tuning inputs and outputs.

``ftpolicy.scan.dataset`` reviews training data (JSONL, compressed JSONL, Parquet) for
secrets, approval-bypass advice, trigger backdoors, hidden Unicode, injected instructions
and contamination with registered holdout suites.
"""
