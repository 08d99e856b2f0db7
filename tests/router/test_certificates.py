"""The project's certificate: made once, reused without cryptography while its files and hosts
are those last checked, checked (and made) again when a file or the hosts change."""

from __future__ import annotations

from pathlib import Path

import pytest

from sunup.router import certificates
from sunup.router.certificates import project_certificate


def test_a_checked_certificate_is_reused_until_a_file_or_the_hosts_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    ca, folder = tmp_path / "ca", tmp_path / "tls"
    first = project_certificate(folder, ["example.localhost"], ca=ca)
    made = first.certificate.read_bytes()
    assert (folder / "checked.json").exists()

    # The same files and hosts: reused as they are, without reading them with cryptography.
    with monkeypatch.context() as patched:
        patched.setattr(certificates, "_authority", _not_called)
        again = project_certificate(folder, ["example.localhost"], ca=ca)
    assert again == first and again.certificate.read_bytes() == made

    # Other hosts: a new certificate naming them.
    other = project_certificate(folder, ["other.localhost"], ca=ca)
    assert other.certificate.read_bytes() != made
    from cryptography import x509

    names = x509.load_pem_x509_certificate(other.certificate.read_bytes()).extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    )
    assert sorted(names.value.get_values_for_type(x509.DNSName)) == ["localhost", "other.localhost"]

    # A key replaced behind sunup's back: checked again, and a certificate made that matches it.
    remade = other.certificate.read_bytes()
    other.key.write_bytes(b"not a key")
    fixed = project_certificate(folder, ["other.localhost"], ca=ca)
    assert fixed.certificate.read_bytes() != remade
    assert b"PRIVATE KEY" in fixed.key.read_bytes()


def _not_called(*_: object) -> None:
    raise AssertionError("the certificate was checked with cryptography again")
