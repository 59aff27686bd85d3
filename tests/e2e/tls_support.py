"""TLS helpers for test_tls_issuer.py: a throwaway CA and a server
certificate for loopback, and harness subclasses that put issuer-svc's public
listener on HTTPS and give fake-claude's federation issuer a `ca_cert_pem`.

Private keys are only written to `*.pem` files under the test's tmp_path;
nothing here prints or logs them.
"""

from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness import FakeClaude, IssuerSvc


@dataclass
class Ca:
    cert_pem: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_ca(common_name: str = "claude-wif e2e test CA") -> Ca:
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(_name(common_name))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False, content_commitment=False, key_encipherment=False,
                data_encipherment=False, key_agreement=False, key_cert_sign=True,
                crl_sign=True, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return Ca(cert.public_bytes(serialization.Encoding.PEM).decode(), key, cert)


def write_server_cert(ca: Ca, directory: Path) -> tuple[Path, Path]:
    """A leaf for 127.0.0.1 and localhost signed by `ca`; returns (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .sign(ca.key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    cert_path = directory / "server-cert.pem"
    key_path = directory / "server-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


@dataclass
class TlsIssuerSvc(IssuerSvc):
    """issuer-svc whose public listener serves HTTPS with the given files."""

    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None

    @property
    def public_url(self) -> str:
        return f"https://127.0.0.1:{self.public_port}"

    def config(self) -> str:
        text = super().config()
        marker = f'state_dir = "{self.state_dir}"\n'
        assert marker in text
        tls = f'tls_cert_file = "{self.tls_cert_file}"\ntls_key_file = "{self.tls_key_file}"\n'
        return text.replace(marker, marker + tls, 1)


@dataclass
class TlsFakeClaude(FakeClaude):
    """fake-claude whose federation issuer trusts `ca_cert_pem` (None: public roots only)."""

    ca_cert_pem: str | None = field(default=None)

    def config(self) -> str:
        text = super().config()
        if self.ca_cert_pem is None:
            return text
        marker = 'jwks_source = "discovery"\n'
        assert marker in text
        # A TOML basic string; json.dumps escapes the newlines compatibly.
        return text.replace(marker, marker + f"ca_cert_pem = {json.dumps(self.ca_cert_pem)}\n", 1)


def get_json_trusting(url: str, ca_pem: str, timeout: float = 10.0) -> dict:
    """GET over HTTPS trusting only `ca_pem` (no system roots)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(cadata=ca_pem)
    with urllib.request.urlopen(url, timeout=timeout, context=context) as resp:
        assert resp.status == 200
        return json.loads(resp.read())
