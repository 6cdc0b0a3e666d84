"""Manifests of a governed repository: safe loading, schema validation, discovery.

>>> from ftpolicy.manifest import load_manifest
>>> m = load_manifest(repo_root, "datasets/support-tickets/1.0.0.yaml")  # doctest: +SKIP
>>> m.kind, m.ref
('dataset', 'support-tickets@1.0.0')
"""

from ftpolicy.manifest.loader import (
    CONFIG_FILE,
    KIND_GLOBS,
    Manifest,
    check_manifest,
    confine,
    discover,
    find_repo_root,
    kind_for_path,
    load_manifest,
    parse_manifest,
    path_fields,
)
from ftpolicy.manifest.schema import Problem, schema_for, validate_instance

__all__ = [
    "CONFIG_FILE",
    "KIND_GLOBS",
    "Manifest",
    "Problem",
    "check_manifest",
    "confine",
    "discover",
    "find_repo_root",
    "kind_for_path",
    "load_manifest",
    "parse_manifest",
    "path_fields",
    "schema_for",
    "validate_instance",
]
