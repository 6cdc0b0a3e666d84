"""Sign and verify adapter folders with OpenSSF model signing (``model_signing``, key mode, offline).

The signature is a Sigstore bundle (v0.3) holding a DSSE envelope over an in-toto
Statement whose predicate lists every file of the folder with its sha256 — the same
format the upstream ``model_signing sign key`` / ``verify key`` commands read and write,
so either side verifies the other's signatures.

* :func:`sign_adapter` signs ``adapters/NAME/VERSION.yaml``'s folder (only after checking
  that the files on disk are exactly those the manifest lists), writes the signature to
  ``signatures/adapters/NAME/VERSION.sig`` — outside the adapter folder, since the
  library would otherwise hash the signature into itself — and records ``signature:
  {path, sha256, method: model_signing-key}`` in the manifest (atomic rewrite, validated
  before it is written).
* :func:`verify_adapter_signature` checks the recorded signature: the file and its sha256,
  its signer (a key of an identity in ``identities/``, matched by the bundle's key hint,
  valid now), the signature over the folder on disk (``model_signing``'s own verifier:
  any changed, missing or extra file fails), and that its per-file digests are the ones
  the train step signed in the in-toto chain (one set of facts, two signatures).

Failures carry the reason code ``model-signature``. Keys: ECDSA P-256 (model signing
rejects ed25519).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ftpolicy.errors import ExitCode, FtpolicyError, ManifestError, UsageError
from ftpolicy.hashing.digest import sha256_file

METHOD = "model_signing-key"
PREDICATE_TYPE = "https://model_signing/signature/v1.0"
BUNDLE_MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
REASON = "model-signature"


class SigningError(FtpolicyError):
    """The adapter cannot be signed as asked."""

    code = "sign.failed"
    exit_code = ExitCode.VIOLATION


@dataclass(frozen=True)
class SignResult:
    """What :func:`sign_adapter` wrote."""

    ref: str
    folder: str  # repo-relative adapter folder
    signature_path: str  # repo-relative
    sha256: str
    keyid: str
    identity: str | None
    resources: dict[str, str]  # file name inside the folder -> sha256


@dataclass
class SignatureCheck:
    """Outcome of :func:`verify_adapter_signature`; ``failures`` are ``(message, path)``."""

    present: bool
    signature_path: str | None = None
    identity: str | None = None
    keyid: str | None = None
    resources: dict[str, str] = field(default_factory=dict)
    failures: list[tuple[str, str | None]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when a signature is recorded and every check held."""
        return self.present and not self.failures


def signature_rel(name: str, version: str) -> str:
    """Repo-relative path of an adapter version's signature file."""
    return f"signatures/adapters/{name}/{version}.sig"


def adapter_folder(files: list[str], where: str) -> str:
    """The one folder holding every adapter file (repo-relative, POSIX)."""
    if not files:
        raise ManifestError(f"{where}: lists no files", code="sign.no-files")
    folder = Path(files[0]).parent
    for f in files[1:]:
        while folder != Path(".") and folder not in Path(f).parents:
            folder = folder.parent
    if folder == Path(".") or len(folder.parts) < 2:
        raise ManifestError(
            f"{where}: adapter files do not share one adapter folder",
            hint="keep an adapter's files under artifacts/adapters/NAME/VERSION/",
            code="sign.folder",
        )
    return folder.as_posix()


def _manifest(root: Path, ref: str) -> tuple[str, str, str, dict[str, Any]]:
    from ftpolicy.manifest import load_manifest

    m = re.match(r"^([a-z0-9][a-z0-9._-]{0,63})@([0-9A-Za-z][0-9A-Za-z._+-]{0,63})$", ref)
    if not m:
        raise UsageError(
            f"invalid adapter reference {ref!r}", hint="write NAME@VERSION, e.g. support-bot@1.0.0"
        )
    name, version = m[1], m[2]
    rel = f"adapters/{name}/{version}.yaml"
    return name, version, rel, load_manifest(root, rel).data


def _folder_files(folder: Path) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for p in sorted(folder.rglob("*")):
        if p.is_symlink() or p.is_file():
            out[p.relative_to(folder).as_posix()] = p
    return out


def read_bundle(data: bytes, where: str) -> tuple[str, dict[str, str]]:
    """``(key hint, {file name: sha256})`` of a model-signing bundle; raises ``ValueError``."""
    try:
        bundle = json.loads(data.decode("utf-8"))
        hint = str(bundle["verificationMaterial"]["publicKey"]["hint"])
        statement = json.loads(base64.b64decode(bundle["dsseEnvelope"]["payload"], validate=True))
        if bundle.get("mediaType") != BUNDLE_MEDIA_TYPE:
            raise ValueError(f"media type {bundle.get('mediaType')!r} is not {BUNDLE_MEDIA_TYPE}")
        if statement.get("predicateType") != PREDICATE_TYPE:
            raise ValueError(f"predicate type {statement.get('predicateType')!r} is not {PREDICATE_TYPE}")
        resources: dict[str, str] = {}
        for r in statement["predicate"]["resources"]:
            if r.get("algorithm") != "sha256":
                raise ValueError(f"{r.get('name')}: digest algorithm {r.get('algorithm')!r}, expected sha256")
            resources[str(r["name"])] = str(r["digest"])
    except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{where}: not a model-signing bundle ({exc})") from None
    return hint, resources


def _key_hint(public_pem: bytes) -> str:
    """The key hint model_signing writes: sha256 (hex) of the PEM SubjectPublicKeyInfo."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_public_key

    key = load_pem_public_key(public_pem)
    return hashlib.sha256(key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo)).hexdigest()


def _rewrite_manifest(root: Path, rel: str, signature: dict[str, str]) -> None:
    """Replace (or add) the top-level ``signature:`` block; validate; write atomically."""
    from ftpolicy._internal.atomic import write_bytes_atomic
    from ftpolicy.manifest import parse_manifest

    path = root / rel
    lines = path.read_text(encoding="utf-8").splitlines()
    kept: list[str] = []
    skipping = False
    for line in lines:
        if line.startswith("signature:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "#")) or not line.strip()):
            continue
        skipping = False
        kept.append(line)
    while kept and not kept[-1].strip():
        kept.pop()
    kept += [
        "signature:",
        f"  path: {signature['path']}",
        f'  sha256: "{signature["sha256"]}"',
        f"  method: {signature['method']}",
    ]
    data = ("\n".join(kept) + "\n").encode("utf-8")
    parse_manifest(rel, data, kind="adapter", root=root)
    write_bytes_atomic(path, data)


def sign_adapter(root: Path, ref: str, key_path: Path) -> SignResult:
    """Sign adapter ``NAME@VERSION`` of the repository at ``root`` with the ECDSA key at ``key_path``."""
    from cryptography.hazmat.primitives.asymmetric import ec

    from ftpolicy._internal.atomic import write_bytes_atomic
    from ftpolicy.identities import load_keyring
    from ftpolicy.keys import load_signer

    name, version, rel, data = _manifest(root, ref)
    listed = {str(f["path"]): str(f["sha256"]) for f in data.get("files", [])}
    folder_rel = adapter_folder(sorted(listed), rel)
    folder = root / folder_rel
    on_disk = _folder_files(folder)
    want = {p.removeprefix(folder_rel + "/"): h for p, h in listed.items()}
    for fname, p in on_disk.items():
        if p.is_symlink():
            raise SigningError(
                f"{folder_rel}/{fname}: is a symbolic link", hint="remove links before signing"
            )
        if fname not in want:
            raise SigningError(
                f"{folder_rel}/{fname}: not listed in {rel}",
                hint="remove the file or list it in the manifest before signing",
            )
    for fname, digest in want.items():
        found = on_disk.get(fname)
        if found is None:
            raise SigningError(f"{folder_rel}/{fname}: listed in {rel} but missing")
        if sha256_file(found) != digest:
            raise SigningError(
                f"{folder_rel}/{fname}: sha256 differs from {rel}",
                hint="sign only the files the manifest records (rebuild or re-register the adapter)",
            )
    signer = load_signer(key_path, repo=root)
    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    private = load_pem_private_key(signer.private_bytes, password=None)
    if not isinstance(private, ec.EllipticCurvePrivateKey):
        raise SigningError(
            f"{key_path}: OpenSSF model signing needs an ECDSA key, not {type(private).__name__}",
            hint="generate one with `ftpolicy keys generate --type ecdsa`",
        )
    import model_signing

    with tempfile.TemporaryDirectory(prefix="ftpolicy-sign-") as tmp:
        out = Path(tmp) / "model.sig"
        try:
            model_signing.signing.Config().use_elliptic_key_signer(private_key=key_path).sign(folder, out)
        except (ValueError, OSError) as exc:
            raise SigningError(f"model signing failed for {folder_rel}: {exc}") from None
        sig_bytes = out.read_bytes()
    _, resources = read_bundle(sig_bytes, "new signature")
    sig_rel = signature_rel(name, version)
    (root / sig_rel).parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(root / sig_rel, sig_bytes)
    sha = hashlib.sha256(sig_bytes).hexdigest()
    _rewrite_manifest(root, rel, {"path": sig_rel, "sha256": sha, "method": METHOD})
    keyid = signer.public_key.keyid
    rec = load_keyring(root).get(keyid)
    return SignResult(ref, folder_rel, sig_rel, sha, keyid, rec.identity if rec else None, resources)


def verify_adapter_signature(
    root: Path,
    ref: str,
    *,
    artifacts: Path | None = None,
    signed_products: dict[str, str] | None = None,
) -> SignatureCheck:
    """Check the model signature recorded in ``adapters/NAME/VERSION.yaml`` (see the module doc).

    ``artifacts`` holds the adapter files under their repository-relative names (default
    ``root``); ``signed_products`` are the train step's products ``{repo path: sha256}``
    to compare the signature's per-file digests with. Never raises for a bad signature.
    """
    from ftpolicy.identities import load_keyring, utcnow

    _, _, rel, data = _manifest(root, ref)
    sig = data.get("signature")
    if not isinstance(sig, dict):
        return SignatureCheck(present=False)
    check = SignatureCheck(present=True, signature_path=str(sig["path"]))
    sig_path = root / str(sig["path"])
    if not sig_path.is_file():
        check.failures.append(
            (f"{sig['path']}: signature file recorded in {rel} is missing", str(sig["path"]))
        )
        return check
    sig_bytes = sig_path.read_bytes()
    got = hashlib.sha256(sig_bytes).hexdigest()
    if got != sig.get("sha256"):
        check.failures.append(
            (f"{sig['path']}: sha256 {got[:12]}… differs from {str(sig.get('sha256'))[:12]}… in {rel}", rel)
        )
        return check
    try:
        hint, resources = read_bundle(sig_bytes, str(sig["path"]))
    except ValueError as exc:
        check.failures.append((str(exc), str(sig["path"])))
        return check
    check.resources = resources
    ring = load_keyring(root)
    record = None
    for rec in ring.keys.values():
        pub = root / rec.public_key_path
        try:
            if pub.is_file() and _key_hint(pub.read_bytes()) == hint:
                record = rec
                break
        except (ValueError, TypeError):
            continue
    if record is None:
        check.failures.append(
            (f"{sig['path']}: signed by a key (hint {hint[:12]}…) that no identity in identities/ lists", rel)
        )
        return check
    check.identity, check.keyid = record.identity, record.keyid
    status = ring.key_valid_at(record.keyid, utcnow())
    if not status.ok:
        check.failures.append((f"{sig['path']}: {status.message}", str(sig["path"])))
    listed = sorted(str(f["path"]) for f in data.get("files", []))
    try:
        folder_rel = adapter_folder(listed, rel)
    except ManifestError as exc:
        check.failures.append((exc.message, rel))
        return check
    base = artifacts or root
    _verify_folder(base / folder_rel, sig_path, root / record.public_key_path, folder_rel, check)
    if signed_products is not None:
        signed = {f"{folder_rel}/{n}": h for n, h in resources.items()}
        trained = {p: h for p, h in signed_products.items() if p.startswith(folder_rel + "/")}
        if signed != trained:
            diff = sorted(set(signed.items()) ^ set(trained.items()))
            check.failures.append(
                (
                    f"{sig['path']}: per-file digests differ from the train step's products, "
                    f"e.g. {diff[0][0]}",
                    diff[0][0],
                )
            )
    return check


def _verify_folder(
    folder: Path, sig_path: Path, public_key: Path, folder_rel: str, check: SignatureCheck
) -> None:
    import model_signing

    if not folder.is_dir():
        check.failures.append((f"{folder_rel}: adapter folder is missing", folder_rel))
        return
    with tempfile.TemporaryDirectory(prefix="ftpolicy-verify-") as tmp:
        # the library reads the key by path; copy so a key file outside the tree is never needed
        key_copy = Path(tmp) / "key.pub"
        shutil.copyfile(public_key, key_copy)
        try:
            model_signing.verifying.Config().use_elliptic_key_verifier(public_key=key_copy).verify(
                folder, sig_path
            )
        except Exception as exc:  # any verifier error means "does not verify" (fail closed)
            text = " ".join(str(exc).split()) or type(exc).__name__
            check.failures.append(
                (f"{folder_rel}: model signature does not verify: {text[:400]}", folder_rel)
            )
