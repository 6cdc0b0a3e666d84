"""ftpolicy: Git-native policy-as-code for fine-tuning security.

The library comes first; the ``ftpolicy`` command is a thin layer over it.

* :mod:`ftpolicy.manifest` loads and validates the YAML manifests of a governed
  repository (datasets, eval suites, adapters, registry, config, identities) against the
  JSON Schemas in ``schemas/``, with errors that name file, line and fix.
* :mod:`ftpolicy.git` reads a governed repository at any revision without touching the
  work tree.
* :mod:`ftpolicy.hashing` streams and hashes dataset shards and adapter files.
* :mod:`ftpolicy.datasets` adds dataset versions and diffs them record by record.
* :mod:`ftpolicy.errors` holds the typed errors every command renders once.
"""

__version__ = "0.1.0"
