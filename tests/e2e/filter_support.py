"""Support for test_filter.py: Envoy stats and issuer-svc metrics readers,
test PKI (CA, server and SPIFFE client certificates) and workload JWTs, all
made with `cryptography` at test time. Nothing here prints a token."""

from __future__ import annotations

import base64
import datetime
import json
import ssl
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

try:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    from cryptography.x509.oid import NameOID
except ImportError:  # pragma: no cover - reported by require_cryptography()
    x509 = None

from harness import Envoy, http


def require_cryptography():
    if x509 is None:
        import pytest

        pytest.fail(
            "test_filter.py needs the `cryptography` package in .venv "
            "(tests/requirements.txt; run `make setup`)",
            pytrace=False,
        )


def envoy_stats(envoy: Envoy, *, settle: bool = False) -> dict[str, int]:
    """The filter's counters from Envoy's admin `/stats`, by short name
    (`cache_hits`, …); Envoy shows them as `wasmcustom.claude_wif.<name>`.
    `cache_hits` is handed to Envoy once per refresh tick (1 s by default):
    with `settle`, wait for the next tick first."""
    if settle:
        time.sleep(1.5)
    resp = http("GET", f"http://127.0.0.1:{envoy.admin_port}/stats?filter=claude_wif")
    assert resp.status == 200, resp.body
    stats = {}
    for line in resp.body.decode().splitlines():
        name, _, value = line.partition(": ")
        if "claude_wif." in name and value.strip().isdigit():
            stats[name.split("claude_wif.", 1)[1]] = int(value)
    return stats


def stat_names(envoy: Envoy) -> list[str]:
    resp = http("GET", f"http://127.0.0.1:{envoy.admin_port}/stats?filter=claude_wif")
    return [line.partition(": ")[0] for line in resp.body.decode().splitlines()]


def issuer_token_requests(issuer_internal_url: str) -> int:
    """Sum of issuer-svc's `issuer_svc_token_requests_total` over its labels."""
    text = http("GET", f"{issuer_internal_url}/metrics").body.decode()
    total = 0
    for line in text.splitlines():
        if line.startswith("issuer_svc_token_requests_total"):
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def uint_b64(n: int) -> str:
    return b64url(n.to_bytes((n.bit_length() + 7) // 8, "big"))


@dataclass
class JwtSigner:
    key: object
    kid: str

    @classmethod
    def new(cls, kid: str) -> "JwtSigner":
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=2048), kid)

    def jwk(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {"kty": "RSA", "alg": "RS256", "kid": self.kid, "n": uint_b64(numbers.n), "e": uint_b64(numbers.e)}

    def sign(self, claims: dict) -> str:
        header = {"alg": "RS256", "typ": "JWT", "kid": self.kid}
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
        signature = self.key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
        return f"{signing_input}.{b64url(signature)}"


def workload_claims(issuer: str, audience: str, sub: str, lifetime: int = 600) -> dict:
    now = int(time.time())
    return {"iss": issuer, "aud": [audience], "sub": sub, "iat": now, "exp": now + lifetime}


@dataclass
class Pki:
    """A test CA, a server certificate for 127.0.0.1 and client certificates."""

    dir: Path

    def __post_init__(self):
        self.ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "claude-wif test CA")])
        self.ca_cert = (
            self._builder(name, name, self.ca_key.public_key())
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(self.ca_key, hashes.SHA256())
        )
        self.ca_path = self._write("ca.pem", self.ca_cert, None)[0]
        self.server_cert, self.server_key = self.leaf("server", [x509.IPAddress(__import__("ipaddress").ip_address("127.0.0.1"))])

    def _builder(self, subject, issuer, public_key):
        now = datetime.datetime.now(datetime.timezone.utc)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
        )

    def _write(self, name: str, cert, key):
        cert_path = self.dir / name
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path = None
        if key is not None:
            key_path = self.dir / (name + ".key")
            key_path.write_bytes(
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                )
            )
        return cert_path, key_path

    def leaf(self, name: str, sans: list) -> tuple[Path, Path]:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        builder = self._builder(
            x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]), self.ca_cert.subject, key.public_key()
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self.ca_key, hashes.SHA256())
        return self._write(f"{name}.pem", cert, key)

    def client(self, name: str, spiffe_id: str | None) -> tuple[Path, Path]:
        sans = [x509.UniformResourceIdentifier(spiffe_id)] if spiffe_id else [x509.DNSName(f"{name}.test")]
        return self.leaf(name, sans)

    def client_context(self, cert: Path, key: Path) -> ssl.SSLContext:
        ctx = ssl.create_default_context(cafile=str(self.ca_path))
        ctx.check_hostname = False
        ctx.load_cert_chain(str(cert), str(key))
        return ctx


class MtlsEnvoy(Envoy):
    """The harness Envoy with downstream TLS that requires a client certificate."""

    pki: Pki | None = None

    def config(self) -> dict:
        cfg = super().config()
        chain = cfg["static_resources"]["listeners"][0]["filter_chains"][0]
        chain["transport_socket"] = {
            "name": "envoy.transport_sockets.tls",
            "typed_config": {
                "@type": "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
                "require_client_certificate": True,
                "common_tls_context": {
                    "tls_certificates": [
                        {
                            "certificate_chain": {"filename": str(self.pki.server_cert)},
                            "private_key": {"filename": str(self.pki.server_key)},
                        }
                    ],
                    "validation_context": {"trusted_ca": {"filename": str(self.pki.ca_path)}},
                },
            },
        }
        return cfg

    def messages_tls(self, context: ssl.SSLContext):
        body = json.dumps(
            {"model": "claude-sonnet-4-5", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}
        ).encode()
        req = urllib.request.Request(
            f"https://127.0.0.1:{self.port}/v1/messages",
            data=body,
            method="POST",
            headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
        )
        try:
            with urllib.request.urlopen(req, timeout=10, context=context) as resp:
                return resp.status, resp.read()
        except urllib.error.HTTPError as err:
            return err.code, err.read()
