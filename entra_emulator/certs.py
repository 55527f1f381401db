"""Key material for the emulator: a local CA, the HTTPS server certificate, the app's client
certificate (certificate credential) and the token signing key.

Everything is generated on first start and stored as PEM files in the state directory, so a
restart with the same directory presents the same CA, certificates and signing key.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_CERT_FILE = "ca.pem"
CA_KEY_FILE = "ca.key"
SERVER_CERT_FILE = "server.pem"
SERVER_KEY_FILE = "server.key"
CLIENT_CERT_FILE = "client_certificate.pem"  # private key + certificate
SIGNING_KEY_FILE = "token_signing.key"


@dataclass(frozen=True)
class KeyMaterial:
    ca_path: Path
    server_cert_path: Path
    server_key_path: Path
    client_certificate_path: Path
    client_certificate: x509.Certificate
    signing_key: rsa.RSAPrivateKey
    signing_kid: str

    @property
    def client_thumbprint_sha1(self) -> str:
        return self.client_certificate.fingerprint(hashes.SHA1()).hex().upper()  # noqa: S303 - MSAL x5t

    @property
    def client_thumbprint_sha256(self) -> str:
        return self.client_certificate.fingerprint(hashes.SHA256()).hex().upper()


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _write_private(path: Path, data: bytes) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Entra emulator (local, not trusted)"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _validity() -> tuple[dt.datetime, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return now - dt.timedelta(days=1), now + dt.timedelta(days=3650)


def _make_ca() -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    not_before, not_after = _validity()
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("Entra emulator local CA"))
        .issuer_name(_name("Entra emulator local CA"))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return key, cert


def _make_leaf(
    ca_key: rsa.RSAPrivateKey, ca_cert: x509.Certificate, common_name: str, *, server: bool
) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key = _new_key()
    not_before, not_after = _validity()
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(min(not_after, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False
        )
    )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [
                    x509.DNSName("localhost"),
                    x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    x509.IPAddress(ipaddress.ip_address("::1")),
                ]
            ),
            critical=False,
        ).add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    else:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return key, builder.sign(ca_key, hashes.SHA256())


def _cert_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def load_or_create(state_dir: Path) -> KeyMaterial:
    """Load the key material from ``state_dir``, creating whatever is missing."""
    state_dir.mkdir(parents=True, exist_ok=True)
    ca_path, ca_key_path = state_dir / CA_CERT_FILE, state_dir / CA_KEY_FILE
    server_path, server_key_path = state_dir / SERVER_CERT_FILE, state_dir / SERVER_KEY_FILE
    client_path = state_dir / CLIENT_CERT_FILE
    signing_path = state_dir / SIGNING_KEY_FILE

    if ca_path.exists() and ca_key_path.exists():
        ca_cert = x509.load_pem_x509_certificate(ca_path.read_bytes())
        ca_key = serialization.load_pem_private_key(ca_key_path.read_bytes(), password=None)
    else:
        ca_key, ca_cert = _make_ca()
        _write_private(ca_key_path, _key_pem(ca_key))
        ca_path.write_bytes(_cert_pem(ca_cert))
        for stale in (server_path, server_key_path, client_path):
            stale.unlink(missing_ok=True)

    if not (server_path.exists() and server_key_path.exists()):
        key, cert = _make_leaf(ca_key, ca_cert, "localhost", server=True)
        _write_private(server_key_path, _key_pem(key))
        server_path.write_bytes(_cert_pem(cert))

    if client_path.exists():
        client_cert = x509.load_pem_x509_certificate(client_path.read_bytes())
    else:
        key, client_cert = _make_leaf(ca_key, ca_cert, "entra-emulator-client", server=False)
        _write_private(client_path, _key_pem(key) + _cert_pem(client_cert))

    if signing_path.exists():
        signing_key = serialization.load_pem_private_key(signing_path.read_bytes(), password=None)
    else:
        signing_key = _new_key()
        _write_private(signing_path, _key_pem(signing_key))
    assert isinstance(signing_key, rsa.RSAPrivateKey)

    der = signing_key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    kid = base64.urlsafe_b64encode(hashlib.sha256(der).digest()[:15]).decode().rstrip("=")
    return KeyMaterial(
        ca_path=ca_path,
        server_cert_path=server_path,
        server_key_path=server_key_path,
        client_certificate_path=client_path,
        client_certificate=client_cert,
        signing_key=signing_key,
        signing_kid=kid,
    )
