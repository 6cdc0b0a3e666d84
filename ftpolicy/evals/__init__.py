"""Holdout security evaluation: sealed suites, graders, a runner with backends, importers.

Modules: :mod:`~ftpolicy.evals.seal` (suite manifests and the item digest rule),
:mod:`~ftpolicy.evals.graders` (deterministic per-category graders),
:mod:`~ftpolicy.evals.runner` (backends, resumable runs), :mod:`~ftpolicy.evals.evidence`
(security-eval evidence), :mod:`~ftpolicy.evals.importers` (garak, promptfoo, lm-eval, Inspect).
"""
