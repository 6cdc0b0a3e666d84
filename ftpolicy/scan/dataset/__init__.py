"""Dataset security review (``ftpolicy scan dataset``).

The public entry point is :func:`ftpolicy.scan.dataset.engine.scan_dataset`; detectors
implement the protocols in :mod:`ftpolicy.scan.dataset.interface`.
"""
