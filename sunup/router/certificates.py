"""The router's HTTPS: a local certificate authority made once per machine user, and a
certificate per project for the hosts of its routes (spec §10).

The CA lives in ``$XDG_DATA_HOME/sunup/ca`` (``~/.local/share/sunup/ca``): ``ca.pem`` is the file
to trust (`curl --cacert`, a browser's or the system's store; `sunup routes` prints it), its key
``ca-key.pem`` is readable by the user only. A project's certificate and key are in
``<state>/router/tls``; they are made again when the hosts of the routes change or the
certificate nears its end. Both are written whole (`sunup.atomicfile`).

Checking them takes cryptography (~40 ms of every `sunup up` to import and parse): once checked,
``<state>/router/tls/checked.json`` keeps a digest of the three files (CA certificate, the
project's certificate and key), the hosts, and when to renew; an `up` that finds the same files
and hosts before that time uses them without cryptography. Any change to a file makes the full
check again.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import ipaddress
import json
import os
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from sunup.atomicfile import write_atomically
from sunup.errors import RuntimeFailure

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes
    from cryptography.x509 import Certificate

CA_DAYS = 3650
CERTIFICATE_DAYS = 397  # what browsers accept for a leaf certificate
RENEW_BEFORE = datetime.timedelta(days=30)


def ca_folder(environ: Mapping[str, str] | None = None) -> Path:
    """Where this user's CA is kept."""
    env = os.environ if environ is None else environ
    data = env.get("XDG_DATA_HOME") or str(Path(env.get("HOME") or Path.home()) / ".local" / "share")
    return Path(data) / "sunup" / "ca"


def ca_path() -> Path:
    """The CA certificate to trust."""
    return ca_folder() / "ca.pem"


@dataclass(frozen=True, slots=True)
class ProjectCertificate:
    certificate: Path
    key: Path
    #: The CA certificate that signed it (the file users trust).
    authority: Path


def project_certificate(folder: Path, hosts: Iterable[str], *, ca: Path | None = None) -> ProjectCertificate:
    """The project's certificate in `folder` for `hosts` (plus localhost and 127.0.0.1), made or
    made again when needed; RuntimeFailure naming the file when a CA or key cannot be read."""
    ca_dir = ca if ca is not None else ca_folder()
    names = sorted({"localhost", *hosts})
    certificate_path, key_path = folder / "cert.pem", folder / "key.pem"
    made = ProjectCertificate(certificate_path, key_path, ca_dir / "ca.pem")
    if _known_good(made, names):
        return made
    authority, authority_key = _authority(ca_dir)
    renew_at = _still_good(certificate_path, key_path, names, authority)
    if renew_at is None:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

        key = ec.generate_private_key(ec.SECP256R1())
        now = datetime.datetime.now(datetime.UTC)
        alternatives: list[x509.GeneralName] = [x509.DNSName(n) for n in names]
        alternatives.append(x509.IPAddress(ipaddress.ip_address("127.0.0.1")))
        certificate = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
            .issuer_name(authority.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=CERTIFICATE_DAYS))
            .add_extension(x509.SubjectAlternativeName(alternatives), critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(authority.public_key()),  # type: ignore[arg-type]
                critical=False,
            )
            .sign(authority_key, hashes.SHA256())  # type: ignore[arg-type]
        )
        _write(
            key_path,
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            ),
            0o600,
        )
        _write(certificate_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
        renew_at = (certificate.not_valid_after_utc - RENEW_BEFORE).timestamp()
    _remember_good(made, names, renew_at)
    return made


def _digest(made: ProjectCertificate) -> str | None:
    digest = hashlib.sha256()
    try:
        for path in (made.authority, made.certificate, made.key):
            digest.update(path.read_bytes())
            digest.update(b"\0")
    except OSError:
        return None
    return digest.hexdigest()


def _known_good(made: ProjectCertificate, names: list[str]) -> bool:
    """The files and hosts are those last checked (`_remember_good`) and not due for renewal."""
    try:
        checked = json.loads((made.certificate.parent / "checked.json").read_text())
        fresh = checked["names"] == names and float(checked["renew_at"]) > time.time()
    except (OSError, ValueError, TypeError, KeyError):
        return False
    return fresh and checked["digest"] == _digest(made)


def _remember_good(made: ProjectCertificate, names: list[str], renew_at: float) -> None:
    digest = _digest(made)
    if digest is not None:
        with contextlib.suppress(OSError):  # a cache: failing to write it only costs the next check
            write_atomically(
                made.certificate.parent / "checked.json",
                json.dumps({"names": names, "digest": digest, "renew_at": renew_at}),
                0o644,
            )


def _authority(folder: Path) -> tuple[Certificate, PrivateKeyTypes]:
    """The CA's certificate and key, made the first time."""

    folder.mkdir(parents=True, exist_ok=True)
    # Two projects starting at once make one CA: the second waits, then reads the first's.
    with _locked(folder / ".lock"):
        return _made_authority(folder)


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _made_authority(folder: Path) -> tuple[Certificate, PrivateKeyTypes]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    certificate_path, key_path = folder / "ca.pem", folder / "ca-key.pem"
    if certificate_path.exists() and key_path.exists():
        try:
            certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except (OSError, ValueError) as exc:
            raise RuntimeFailure(
                f"sunup's local CA in {folder} cannot be read: {exc}",
                hint=f"remove {folder} to make a new one (then trust the new ca.pem again)",
            ) from None
        return certificate, key
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    user = os.environ.get("USER") or str(os.getuid())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "sunup local development CA"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"sunup local CA ({user})"),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    folder.mkdir(parents=True, exist_ok=True)
    os.chmod(folder, 0o700)
    _write(
        key_path,
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
        0o600,
    )
    _write(certificate_path, certificate.public_bytes(serialization.Encoding.PEM), 0o644)
    return certificate, key


def _still_good(certificate_path: Path, key_path: Path, names: list[str], authority: Certificate) -> float | None:
    """When to renew the certificate (a POSIX time) if it exists, was signed by `authority`,
    names exactly `names` and is not near its end; else None."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        certificate = x509.load_pem_x509_certificate(certificate_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    if key.public_key() != certificate.public_key():  # a key from elsewhere: nginx would refuse it
        return None
    if certificate.issuer != authority.subject:
        return None
    if certificate.not_valid_after_utc - RENEW_BEFORE < datetime.datetime.now(datetime.UTC):
        return None
    try:
        found = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return None
    if sorted(found.get_values_for_type(x509.DNSName)) != names:
        return None
    return (certificate.not_valid_after_utc - RENEW_BEFORE).timestamp()


def _write(path: Path, data: bytes, mode: int) -> None:
    try:
        write_atomically(path, data, mode)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write {path}: {exc.strerror or exc}") from None
