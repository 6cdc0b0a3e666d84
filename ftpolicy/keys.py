"""Signing keys: generate, store and load them (securesystemslib under the hood).

ECDSA P-256 (``ecdsa-sha2-nistp256``) is the default: one key then signs in-toto
attestations and OpenSSF model-signing signatures (whose key mode rejects ed25519).
ed25519 is allowed where only in-toto is needed.

Private keys never live in the governed repository: :func:`generate_key` refuses to
write one inside it, and :func:`load_signer` refuses to read one from inside it. Public
keys go to ``identities/keys/<name>.pub`` and are identified by their securesystemslib
keyid (SHA-256 of the canonical JSON of ``{keytype, scheme, keyval}``), the same keyid
the in-toto tools compute.

>>> from ftpolicy.keys import generate_key, load_signer  # doctest: +SKIP
>>> gen = generate_key("alice", Path("~/.ftpolicy/keys").expanduser(), repo=repo_root)
>>> signer = load_signer(gen.private_path, repo=repo_root)
"""

from __future__ import annotations

import copy
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from ftpolicy._internal.atomic import write_bytes_atomic
from ftpolicy.errors import FtpolicyError, UsageError

if TYPE_CHECKING:
    from securesystemslib.signer import CryptoSigner, SSlibKey

KeyType = Literal["ecdsa", "ed25519"]

SCHEMES: dict[str, str] = {"ecdsa": "ecdsa-sha2-nistp256", "ed25519": "ed25519"}
PUBLIC_KEY_DIR = "identities/keys"
_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")


class KeyUsageError(FtpolicyError):
    """A key cannot be generated, read or used."""

    code = "key.invalid"


class PrivateKeyInRepoError(FtpolicyError):
    """A private key would be written to, or read from, inside the governed repository."""

    code = "key.private-in-repo"


@dataclass(frozen=True)
class GeneratedKey:
    """What :func:`generate_key` wrote."""

    name: str
    keyid: str
    scheme: str
    private_path: Path
    public_pem: str
    public_rel: str | None  # repo-relative path of the public key, when written into a repo


def check_name(name: str, what: str = "key name") -> str:
    """Names become file names; keep them to lower-case letters, digits, '.', '_' and '-'."""
    if not _NAME_RE.match(name):
        raise UsageError(
            f"invalid {what} {name!r}",
            hint="use lower-case letters, digits, '.', '_' and '-' (at most 64), e.g. alice or ci-trainer",
        )
    return name


def _work_tree_of(path: Path) -> Path | None:
    """The Git work tree containing ``path`` (the folder holding ``.git``), if any."""
    for folder in (path, *path.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _forbidden_roots(repo: Path) -> list[Path]:
    real = Path(os.path.realpath(repo))
    roots = [real]
    tree = _work_tree_of(real)
    if tree is not None and tree not in roots:
        roots.append(tree)
    return roots


def is_inside_repo(path: Path, repo: Path) -> bool:
    """True when ``path`` (resolved, symlinks followed) is inside ``repo`` or its Git work tree."""
    real = Path(os.path.realpath(path))
    return any(real == root or root in real.parents for root in _forbidden_roots(repo))


def public_key_dict(key: SSlibKey) -> dict[str, Any]:
    """The legacy key dict (with a ``keyid`` entry) that in-toto layouts and verifylib use."""
    data = key.to_dict()
    data["keyid"] = key.keyid
    return data


def golang_keyid(key: SSlibKey) -> str:
    """The keyid in-toto-golang computes for the same public key when loading its PEM file.

    in-toto-golang (v0.11) hashes ``keyid_hash_algorithms: [sha256, sha512]`` into the keyid
    and keeps the PEM without its trailing newline, so its keyid differs from
    securesystemslib's. Layout signatures are listed under both keyids (the signature bytes
    are the same: a DSSE keyid is not signed) so both reference verifiers find them.
    """
    import hashlib

    from securesystemslib.formats import encode_canonical

    public = str(key.keyval.get("public", ""))
    data = {
        "keytype": key.keytype,
        "scheme": key.scheme,
        "keyid_hash_algorithms": ["sha256", "sha512"],
        "keyval": {"public": public.strip()},
    }
    return hashlib.sha256(str(encode_canonical(data)).encode("utf-8")).hexdigest()


def key_from_dict(data: dict[str, Any]) -> SSlibKey:
    """An :class:`SSlibKey` from a legacy key dict (the input is not consumed)."""
    from securesystemslib.signer import SSlibKey

    data = copy.deepcopy(data)
    keyid = data.pop("keyid")
    return SSlibKey.from_dict(keyid, data)


def public_key_from_pem(pem: bytes, *, where: str = "public key") -> SSlibKey:
    """Parse a PEM public key (ECDSA P-256 or ed25519) into an :class:`SSlibKey`."""
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from securesystemslib.signer import SSlibKey

    try:
        crypto_key = load_pem_public_key(pem)
    except ValueError as exc:
        raise KeyUsageError(
            f"{where}: not a PEM public key ({exc})",
            hint="public keys are PEM files written by `ftpolicy keys generate` (identities/keys/NAME.pub)",
        ) from None
    if isinstance(crypto_key, ec.EllipticCurvePublicKey):
        if not isinstance(crypto_key.curve, ec.SECP256R1):
            raise KeyUsageError(
                f"{where}: ECDSA curve {crypto_key.curve.name} is not supported",
                hint="generate an ECDSA P-256 key with `ftpolicy keys generate`",
            )
    elif not isinstance(crypto_key, ed25519.Ed25519PublicKey):
        raise KeyUsageError(
            f"{where}: unsupported key type {type(crypto_key).__name__}",
            hint="use ECDSA P-256 (default) or ed25519 keys",
        )
    return SSlibKey.from_crypto(crypto_key)


def load_public_key(path: Path) -> SSlibKey:
    """Read a PEM public key file."""
    try:
        pem = path.read_bytes()
    except OSError as exc:
        raise KeyUsageError(f"{path}: cannot read public key ({exc.strerror})") from None
    return public_key_from_pem(pem, where=str(path))


def generate_key(
    name: str,
    out_dir: Path,
    *,
    key_type: KeyType = "ecdsa",
    repo: Path | None = None,
) -> GeneratedKey:
    """Generate a key pair: the private key to ``out_dir/NAME.pem`` (0600), never inside ``repo``.

    With ``repo`` the public key is also written to ``identities/keys/NAME.pub`` there.
    Existing files are never overwritten (a rotated key gets a new name).
    """
    from securesystemslib.signer import CryptoSigner

    check_name(name)
    if key_type not in SCHEMES:
        raise UsageError(f"unknown key type {key_type!r}", hint="use --type ecdsa (default) or ed25519")
    if repo is not None and is_inside_repo(out_dir, repo):
        raise PrivateKeyInRepoError(
            f"refusing to write a private key inside the governed repository ({out_dir})",
            hint="pass --out a folder outside the repository, e.g. ~/.ftpolicy/keys",
        )
    signer = CryptoSigner.generate_ecdsa() if key_type == "ecdsa" else CryptoSigner.generate_ed25519()
    key = signer.public_key
    public_pem = _public_pem(signer)
    private_path = out_dir / f"{name}.pem"
    public_rel: str | None = None
    if repo is not None:
        public_rel = f"{PUBLIC_KEY_DIR}/{name}.pub"
        pub_path = repo / public_rel
        if pub_path.exists():
            raise UsageError(
                f"{public_rel} already exists",
                hint="keys are never overwritten; give the new key another --name (e.g. "
                f"{name}-2) and revoke the old one in its identity file",
                code="key.exists",
            )
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        write_bytes_atomic(private_path, signer.private_bytes, exclusive=True, mode=0o600)
    except FileExistsError:
        raise UsageError(
            f"{private_path} already exists",
            hint="keys are never overwritten; choose another --name or --out",
            code="key.exists",
        ) from None
    if public_rel is not None and repo is not None:
        write_bytes_atomic(repo / public_rel, public_pem.encode("ascii"), exclusive=True)
    return GeneratedKey(
        name=name,
        keyid=key.keyid,
        scheme=key.scheme,
        private_path=private_path,
        public_pem=public_pem,
        public_rel=public_rel,
    )


def _public_pem(signer: CryptoSigner) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat, load_pem_private_key

    private = load_pem_private_key(signer.private_bytes, password=None)
    crypto_public = private.public_key()
    return crypto_public.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode("ascii")


def load_signer(path: Path, *, repo: Path | None = None) -> CryptoSigner:
    """Load a private key (unencrypted PKCS#8 PEM) for signing.

    Refuses a key file inside ``repo`` (or its Git work tree) and a key file that other
    users can read.
    """
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519
    from cryptography.hazmat.primitives.serialization import load_pem_private_key
    from securesystemslib.signer import CryptoSigner

    if repo is not None and is_inside_repo(path, repo):
        raise PrivateKeyInRepoError(
            f"refusing to read a private key from inside the governed repository ({path})",
            hint="move the key outside the repository (and rotate it: it may have been committed)",
        )
    try:
        st = path.stat()
        data = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read private key ({exc.strerror})",
            hint="pass --key the private key file written by `ftpolicy keys generate`",
            code="key.not-found",
        ) from None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyUsageError(
            f"{path}: private key is readable by other users (mode {stat.S_IMODE(st.st_mode):o})",
            hint=f"chmod 600 {path}",
        )
    try:
        private = load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise KeyUsageError(
            f"{path}: not an unencrypted PEM private key ({exc})",
            hint="use a key written by `ftpolicy keys generate`",
        ) from None
    if isinstance(private, ec.EllipticCurvePrivateKey):
        if not isinstance(private.curve, ec.SECP256R1):
            raise KeyUsageError(f"{path}: ECDSA curve {private.curve.name} is not supported")
    elif not isinstance(private, ed25519.Ed25519PrivateKey):
        raise KeyUsageError(f"{path}: unsupported key type {type(private).__name__}")
    return CryptoSigner(private)
