"""Scaffold a governed repository: ``ftpolicy.yaml``, teams, and the folders manifests live in.

>>> from ftpolicy.scaffold import scaffold
>>> result = scaffold(Path("my-governed-repo"))  # doctest: +SKIP
>>> [a.path for a in result.created][:2]
['ftpolicy.yaml', 'identities/teams.yaml']

Scaffolding is idempotent and never destructive: a file that already exists is kept as
it is (even when it differs from the template), and every new file is written
atomically and exclusively, so a concurrent writer cannot be overwritten either. Git is
initialised only when the folder is not already inside a Git work tree.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ftpolicy._internal.atomic import write_text_atomic
from ftpolicy.errors import GitError, UsageError
from ftpolicy.manifest import CONFIG_FILE

Action = Literal["created", "kept"]

DEFAULT_PROJECT = "governed-repo"

TEAMS: dict[str, str] = {
    "security": "Security team: approves security gates, releases to production and changes to "
    "the control plane (ftpolicy.yaml, identities/, layouts/, policies/).",
    "ml-training": "Trains adapters from reviewed dataset versions.",
    "ml-quality": "Runs quality evaluations of trained adapters.",
    "data-review": "Reviews dataset versions before they may be used for training.",
    "publishers": "Promote adapters to registry channels and roll them back.",
}

# folder -> what its README.md says goes there
FOLDERS: dict[str, str] = {
    "identities": """\
# identities/

People and service accounts that act in this repository, one file each:
`identities/<name>.yaml` (`kind: identity`) with its teams and public keys (paths to
PEM files in this repository). `teams.yaml` lists the teams (`kind: teams`).

Private keys never go into this repository.
""",
    "datasets": """\
# datasets/

One manifest per dataset version: `datasets/<name>/<version>.yaml` (`kind: dataset`).
A manifest records provenance (sources with licence, who collected the data and when,
preprocessing steps) and pins every shard by sha256, byte and record count. It never
holds the data itself.

Versions are immutable: publish a new version (with `parent:` set) instead of editing
one. Create them with `ftpolicy dataset add NAME --version V --shard PATH...`.
""",
    "evals": """\
# evals/

Sealed holdout security evaluation suites: `evals/<suite>/<version>.yaml`
(`kind: eval-suite`) with categories (prompt-injection, secret-leakage, unsafe-code,
refusal), item digests, pass thresholds and the owning team. The items themselves
stay outside the training data and are pinned by digest.
""",
    "adapters": """\
# adapters/

One manifest per trained adapter version: `adapters/<name>/<version>.yaml`
(`kind: adapter`). It pins the base model (id + immutable revision or digest), the
dataset versions it was trained on (`name@version`), the training config digest, every
adapter file by sha256, and the signature file.
""",
    "registry": """\
# registry/

One file per adapter: `registry/<adapter>.yaml` (`kind: registry`) with the version
each channel (staging, production, ...) serves and an append-only history of
promotions, rollbacks and revocations. Change it with ftpolicy's promotion commands,
not by hand.
""",
    "attestations": """\
# attestations/

Signed in-toto attestations (DSSE envelopes), one per pipeline step and subject:
what the step consumed and produced (by digest), who did it and its evidence (scan
summaries, review decisions, eval scores, approvals). Written by `ftpolicy attest`;
never edited by hand.
""",
    "layouts": """\
# layouts/

Signed in-toto layouts: `layouts/<pipeline>.layout`. A layout names the pipeline
steps, who may perform each one (functionaries), the thresholds and the artifact rules
that bind one step's products to the next step's materials.
""",
    "policies": """\
# policies/

This repository's own Rego policies, evaluated beside ftpolicy's default library.
Use `package ftpolicy.<subject>` (dataset, adapter, eval, registry, change,
promotion) and `deny` / `warn` rules, with `*_test.rego` unit tests beside each file.
Run them with `ftpolicy policy test`.
""",
}

CONFIG_TEMPLATE = """\
# ftpolicy configuration of this governed repository.
# Every field is described in ftpolicy's JSON Schema config.v1 (schemas/config.v1.schema.json).
# Changes to this file are control-plane changes: they need security-team approval.
schema_version: 1
kind: config
project: {project}

# Which team plays each role. The teams themselves are listed in identities/teams.yaml.
teams:
  security: security         # security gates, production releases, control-plane changes
  training: ml-training      # trains adapters
  quality: ml-quality        # runs quality evaluations
  data_review: data-review   # reviews dataset versions
  publishers: publishers     # promotes and rolls back adapters

datasets:
  # Licences a dataset source may carry (SPDX identifiers); anything else is denied.
  licence_allowlist:
    - Apache-2.0
    - MIT
    - CC0-1.0
    - CC-BY-4.0
  # Distinct reviewers from the data-review team who must approve a dataset version.
  min_reviewers: 2
  # Source kinds whose records get the strictest scanning.
  untrusted_source_kinds:
    - public
    - user-generated

evals:
  # A security evaluation older than this no longer counts for a promotion.
  max_age_days: 30
  required_categories:
    - prompt-injection
    - secret-leakage
    - unsafe-code
    - refusal

registry:
  channels:
    - staging
    - production
  # An adapter must have been in staging before it may reach these channels.
  require_staging_before:
    - production

engine:
  # embedded: in-process Rego, nothing else to run. opa: a central OPA server, e.g.
  #   name: opa
  #   opa_url: http://localhost:8181
  name: embedded
  # This repository's own Rego, evaluated beside the default library:
  # extra_policies: policies
"""


def teams_yaml() -> str:
    """The text of a fresh ``identities/teams.yaml``."""
    lines = [
        "# The teams of this governed repository. Identities (identities/<name>.yaml) name the",
        "# teams they belong to; ftpolicy.yaml says which team plays which role.",
        "schema_version: 1",
        "kind: teams",
        "teams:",
    ]
    for name, description in TEAMS.items():
        lines += [f"  {name}:", f"    description: {_yaml_quote(description)}"]
    return "\n".join(lines) + "\n"


def config_yaml(project: str) -> str:
    """The text of a fresh ``ftpolicy.yaml`` for ``project`` (a valid name)."""
    return CONFIG_TEMPLATE.format(project=project)


@dataclass(frozen=True)
class ScaffoldAction:
    """What happened to one path (repository-relative, POSIX style; folders end in '/')."""

    path: str
    action: Action


@dataclass(frozen=True)
class ScaffoldResult:
    """The outcome of :func:`scaffold`."""

    root: Path
    git_initialized: bool
    actions: tuple[ScaffoldAction, ...]

    @property
    def created(self) -> tuple[ScaffoldAction, ...]:
        """Paths that did not exist and were written."""
        return tuple(a for a in self.actions if a.action == "created")

    @property
    def kept(self) -> tuple[ScaffoldAction, ...]:
        """Paths that already existed and were left untouched."""
        return tuple(a for a in self.actions if a.action == "kept")

    @property
    def changed(self) -> bool:
        """True when anything was created (or Git initialised)."""
        return self.git_initialized or bool(self.created)


def project_name(folder: Path) -> str:
    """A valid project name derived from a folder name (lower case, ``[a-z0-9._-]``)."""
    name = re.sub(r"[^a-z0-9._-]+", "-", folder.name.lower())
    name = re.sub(r"^[^a-z0-9]+", "", name)[:64].rstrip("-._")
    return name or DEFAULT_PROJECT


_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


def scaffold(root: Path, *, project: str | None = None, git: bool = True) -> ScaffoldResult:
    """Create a governed repository at ``root`` (created if missing); never overwrite.

    Runs ``git init`` when ``git`` is true and ``root`` is not inside a Git work tree.
    Raises :class:`UsageError` for an invalid ``project`` name or when a path the
    scaffold needs exists with the wrong type (a file where a folder belongs), and
    :class:`GitError` when Git is needed but missing or fails.
    """
    if project is not None and not _NAME.match(project):
        raise UsageError(
            f"invalid project name {project!r}",
            hint="use lower-case letters, digits, '.', '_' and '-' (max 64), starting with a letter or digit",
        )
    if root.exists() and not root.is_dir():
        raise UsageError(f"{root} exists and is not a folder", hint="pass a folder to scaffold")
    root.mkdir(parents=True, exist_ok=True)
    root = root.resolve()
    git_initialized = False
    if git and not _inside_git_work_tree(root):
        _run_git(root, "init", "--quiet")
        git_initialized = True

    actions: list[ScaffoldAction] = []
    files: list[tuple[str, str]] = [
        (CONFIG_FILE, config_yaml(project or project_name(root))),
        ("identities/teams.yaml", teams_yaml()),
    ]
    for folder, readme in FOLDERS.items():
        actions.append(_ensure_folder(root, folder))
        files.append((f"{folder}/README.md", readme))
    for rel, text in files:
        actions.append(_ensure_file(root, rel, text))
    order = {name: i for i, name in enumerate([CONFIG_FILE, "identities/teams.yaml"])}
    actions.sort(key=lambda a: (order.get(a.path, len(order)), a.path))
    return ScaffoldResult(root=root, git_initialized=git_initialized, actions=tuple(actions))


def _ensure_folder(root: Path, rel: str) -> ScaffoldAction:
    path = root / rel
    if path.is_dir():
        return ScaffoldAction(f"{rel}/", "kept")
    if path.exists() or path.is_symlink():
        raise UsageError(
            f"{path} exists and is not a folder",
            hint=f"move it away; a governed repository keeps its {rel} in the folder {rel}/",
        )
    path.mkdir(parents=True)
    return ScaffoldAction(f"{rel}/", "created")


def _ensure_file(root: Path, rel: str, text: str) -> ScaffoldAction:
    path = root / rel
    if path.is_symlink() or path.is_file():
        return ScaffoldAction(rel, "kept")
    if path.exists():
        raise UsageError(
            f"{path} exists and is not a file", hint=f"move it away so that {rel} can be created"
        )
    try:
        write_text_atomic(path, text, exclusive=True)
    except FileExistsError:  # another writer got there first: theirs stays
        return ScaffoldAction(rel, "kept")
    return ScaffoldAction(rel, "created")


def _inside_git_work_tree(folder: Path) -> bool:
    proc = _git(folder, "rev-parse", "--is-inside-work-tree")
    return proc.returncode == 0 and proc.stdout.strip() == "true"


def _run_git(folder: Path, *args: str) -> None:
    proc = _git(folder, *args)
    if proc.returncode != 0:
        raise GitError(
            f"git {' '.join(args)} failed in {folder}: {proc.stderr.strip() or f'exit {proc.returncode}'}",
            hint="run it yourself to see why, or create the Git repository first and rerun `ftpolicy init`",
        )


def _git(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            ["git", "-C", str(folder), *args],
            capture_output=True,
            text=True,
            check=False,
        )
    except FileNotFoundError:
        raise GitError(
            "git is not installed (or not on PATH)",
            hint="install Git, or pass --no-git to scaffold without a Git repository",
        ) from None


def _yaml_quote(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML)."""
    import json

    return json.dumps(text, ensure_ascii=False)
