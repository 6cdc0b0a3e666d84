"""Model backends for :func:`ftpolicy.evals.runner.run_suite`."""
