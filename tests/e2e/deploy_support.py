"""Support for tests/e2e/test_deploy.py: the deployment configs of envoy/ run
in real Envoy on loopback.

- `Pki`: a throwaway mesh CA and certificates with SPIFFE URI SANs (Python
  `cryptography`); keys are generated in the test's temporary directory and
  never leave it.
- `stage_etc`: a stand-in for /etc/claude-wif (the built .wasm, the SDS files
  of envoy/sds/, the certificates), the prefix every deployment config uses.
- `DeployEnvoy`: envoy/sidecar.yaml or envoy/gateway.yaml, loaded as shipped and
  patched only where a test must differ from production: loopback ports, the
  `anthropic` cluster pointed at fake-claude over plain HTTP, the `issuer_svc`
  cluster at the given issuer-svc replicas (health checks kept).
- `PolicyIssuer`: issuer-svc with one provider and a policy per given client
  workload, optionally sharing another replica's key directory and issuer URL.
- `mtls_post`: a request over mTLS with a client certificate.
"""

from __future__ import annotations

import copy
import datetime
import http.client as http_client
import ipaddress
import json
import re
import secrets
import shutil
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from harness import (
    ENVOY_BIN,
    ORGANIZATION_ID,
    ROOT,
    WASM,
    IssuerSvc,
    Process,
    Response,
    free_port,
    http,
)

ETC_PREFIX = "/etc/claude-wif/"
MESSAGE_BODY = {
    "model": "claude-sonnet-4-5",
    "max_tokens": 32,
    "messages": [{"role": "user", "content": "Hello through the gateway"}],
}


@dataclass
class Cert:
    cert: Path
    key: Path


def _write_pair(directory: Path, name: str, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> Cert:
    out = Cert(directory / f"{name}.crt", directory / f"{name}.key")
    out.cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.key.touch(mode=0o600)
    out.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return out


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "claude-wif tests"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=not cert_sign, content_commitment=False, key_encipherment=False,
        data_encipherment=False, key_agreement=False, key_cert_sign=cert_sign, crl_sign=cert_sign,
        encipher_only=False, decipher_only=False,
    )


class Pki:
    """A CA (EC P-256, valid one day) that issues server and SPIFFE client
    certificates, written as PEM files into `directory`."""

    def __init__(self, directory: Path, name: str = "mesh-ca"):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self._key = ec.generate_private_key(ec.SECP256R1())
        self._now = datetime.datetime.now(datetime.timezone.utc)
        self._cert = (
            self._builder(_name(name), self._key.public_key())
            .issuer_name(_name(name))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(_key_usage(cert_sign=True), critical=True)
            .sign(self._key, hashes.SHA256())
        )
        self.ca = _write_pair(self.dir, name, self._cert, self._key)

    def _builder(self, subject: x509.Name, public_key) -> x509.CertificateBuilder:
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(self._now - datetime.timedelta(minutes=5))
            .not_valid_after(self._now + datetime.timedelta(days=1))
        )

    def issue(self, name: str, sans: list[x509.GeneralName], usage: x509.ObjectIdentifier) -> Cert:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            self._builder(_name(name), key.public_key())
            .issuer_name(self._cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(_key_usage(cert_sign=False), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectAlternativeName(sans), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return _write_pair(self.dir, name, cert, key)

    def server(self, name: str = "gateway") -> Cert:
        sans = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        return self.issue(name, sans, ExtendedKeyUsageOID.SERVER_AUTH)

    def client(self, name: str, spiffe_id: str) -> Cert:
        return self.issue(name, [x509.UniformResourceIdentifier(spiffe_id)], ExtendedKeyUsageOID.CLIENT_AUTH)


def stage_etc(directory: Path, pki: Pki | None = None, server: Cert | None = None) -> Path:
    """A stand-in for /etc/claude-wif: the .wasm, envoy/sds/*.yaml, and tls/ from `pki`.

    tls/ is laid out like a Kubernetes Secret volume: each file is a symlink
    into `..data`, itself a symlink to a versioned directory, so
    `rotate_tls` can swap all files at once with one rename."""
    etc = directory / "etc-claude-wif"
    (etc / "sds").mkdir(parents=True, exist_ok=True)
    (etc / "tls").mkdir(exist_ok=True)
    wasm = etc / "claude_wif_filter.wasm"
    if not wasm.exists():
        wasm.symlink_to(WASM)
    for sds in sorted((ROOT / "envoy/sds").glob("*.yaml")):
        (etc / "sds" / sds.name).write_text(sds.read_text().replace(ETC_PREFIX, f"{etc}/"))
    if pki is not None and server is not None:
        rotate_tls(etc, pki, server)
        for name in TLS_FILES:
            (etc / "tls" / name).symlink_to(f"..data/{name}")
    return etc


TLS_FILES = ("gateway.crt", "gateway.key", "mesh-ca.crt")


def rotate_tls(etc: Path, pki: Pki, server: Cert) -> None:
    """Publishes `server` and `pki`'s CA in etc/tls as a Kubernetes Secret
    update does: a new versioned directory, then one atomic rename of `..data`."""
    tls = etc / "tls"
    version = tls / f"..{secrets.token_hex(4)}"
    version.mkdir()
    shutil.copyfile(server.cert, version / "gateway.crt")
    shutil.copyfile(server.key, version / "gateway.key")
    shutil.copyfile(pki.ca.cert, version / "mesh-ca.crt")
    staged = tls / "..data_tmp"
    staged.symlink_to(version.name)
    staged.rename(tls / "..data")


def server_serial(port: int, ca: Path, client: Cert) -> int:
    """The serial number of the certificate the TLS server on `port` presents."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with client_context(ca, client).wrap_socket(raw, server_hostname="localhost") as tls:
            return int(tls.getpeercert()["serialNumber"], 16)


def load_config(name: str, etc: Path | None = None) -> dict:
    """envoy/<name>.yaml as shipped, with /etc/claude-wif/ pointed at `etc` when given."""
    text = (ROOT / "envoy" / f"{name}.yaml").read_text()
    if etc is not None:
        text = text.replace(ETC_PREFIX, f"{etc}/")
    return yaml.safe_load(text)


def clusters_by_name(cfg: dict) -> dict[str, dict]:
    return {c["name"]: c for c in cfg["static_resources"]["clusters"]}


def wasm_filter(cfg: dict) -> dict:
    hcm = cfg["static_resources"]["listeners"][0]["filter_chains"][0]["filters"][0]["typed_config"]
    return next(f for f in hcm["http_filters"] if f["name"] == "claude_wif")["typed_config"]["config"]


def plugin_config(cfg: dict) -> dict:
    return json.loads(wasm_filter(cfg)["configuration"]["value"])


def static_endpoints(ports: list[int]) -> list[dict]:
    return [
        {"endpoint": {"address": {"socket_address": {"address": "127.0.0.1", "port_value": port}}}}
        for port in ports
    ]


@dataclass
class DeployEnvoy:
    """Real Envoy running a shipped deployment config, patched for loopback."""

    workdir: Path
    name: str  # "sidecar" or "gateway"
    etc: Path
    claude_port: int
    issuer_ports: list[int]
    plugin_config: dict | None = None  # replaces the shipped plugin configuration
    issuer_cluster_name: str | None = None  # renames the issuer cluster
    port: int = field(default_factory=free_port)
    admin_port: int = field(default_factory=free_port)
    process: Process | None = None

    def config(self) -> dict:
        cfg = copy.deepcopy(load_config(self.name, self.etc))
        cfg["admin"]["address"]["socket_address"]["port_value"] = self.admin_port
        listener = cfg["static_resources"]["listeners"][0]
        listener["address"]["socket_address"] = {"address": "127.0.0.1", "port_value": self.port}
        clusters = clusters_by_name(cfg)
        # fake-claude speaks plain HTTP/1.1 on loopback: no TLS origination,
        # no ALPN-based protocol selection, a static address.
        anthropic = clusters["anthropic"]
        for key in ("transport_socket", "typed_extension_protocol_options", "dns_lookup_family"):
            anthropic.pop(key, None)
        anthropic["type"] = "STATIC"
        anthropic["load_assignment"]["endpoints"] = [{"lb_endpoints": static_endpoints([self.claude_port])}]
        issuer = clusters["issuer_svc"]
        issuer.pop("dns_lookup_family", None)
        issuer["type"] = "STATIC"
        issuer["load_assignment"]["endpoints"] = [{"lb_endpoints": static_endpoints(self.issuer_ports)}]
        wasm = wasm_filter(cfg)
        if self.plugin_config is not None:
            wasm["configuration"]["value"] = json.dumps(self.plugin_config)
        if self.issuer_cluster_name is not None:
            issuer["name"] = self.issuer_cluster_name
            issuer["load_assignment"]["cluster_name"] = self.issuer_cluster_name
        return cfg

    def start(self) -> "DeployEnvoy":
        path = self.workdir / f"envoy-{self.name}-{self.port}.yaml"
        path.write_text(yaml.safe_dump(self.config()))
        self.process = Process(
            f"envoy ({self.name})",
            [
                str(ENVOY_BIN), "-c", str(path), "--disable-hot-restart", "--concurrency", "2",
                "-l", "warning", "--component-log-level", "wasm:info",
            ],
            self.workdir / f"envoy-{self.name}-{self.port}.log",
        ).start()
        self.process.wait_ready(f"http://127.0.0.1:{self.admin_port}/ready", timeout=30)
        return self

    def stop(self) -> None:
        if self.process:
            self.process.stop()

    def stats(self, prefix: str) -> dict[str, int]:
        """Counters and gauges whose name starts with `prefix`."""
        text = http("GET", f"http://127.0.0.1:{self.admin_port}/stats?filter=^{re.escape(prefix)}").body.decode()
        out = {}
        for line in text.splitlines():
            name, _, value = line.partition(": ")
            if value.strip().isdigit():
                out[name] = int(value)
        return out


def client_context(ca: Path, client: Cert | None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=str(ca))
    if client is not None:
        ctx.load_cert_chain(str(client.cert), str(client.key))
    return ctx


def mtls_post(port: int, ca: Path, client: Cert | None, path: str = "/v1/messages", body=None) -> Response:
    """POST over TLS to 127.0.0.1:`port` (server name localhost), presenting `client`."""
    conn = http_client.HTTPSConnection("localhost", port, context=client_context(ca, client), timeout=10)
    try:
        payload = json.dumps(MESSAGE_BODY if body is None else body).encode()
        conn.request(
            "POST", path, body=payload,
            headers={"content-type": "application/json", "anthropic-version": "2023-06-01"},
        )
        resp = conn.getresponse()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read())
    finally:
        conn.close()


def tls_refused(port: int, ca: Path, client: Cert | None) -> bool:
    """True when the gateway refuses the connection during or right after the handshake."""
    try:
        mtls_post(port, ca, client)
    except (ssl.SSLError, ConnectionError, socket.timeout, http_client.HTTPException, OSError):
        return True
    return False


@dataclass
class PolicyIssuer(IssuerSvc):
    """issuer-svc with provider `claude-demo` and one access policy per client workload.

    `shared_state_dir` and `shared_public_url` make it a further replica of
    another instance: the same key directory, the same issuer URL (Claude
    fetches discovery and JWKS from that URL, whichever replica signed)."""

    shared_state_dir: Path | None = None
    shared_public_url: str | None = None

    @property
    def state_dir(self) -> Path:
        return self.shared_state_dir or self.workdir / "issuer-state"

    @property
    def public_base_url(self) -> str:
        return self.shared_public_url or self.public_url

    @property
    def own_issuer_url(self) -> str:
        """The issuer documents as served by this replica's own public listener."""
        return f"{self.public_url}/providers/claude-demo"

    def metrics(self) -> str:
        resp = http("GET", f"{self.internal_url}/metrics")
        assert resp.status == 200, resp.body
        return resp.body.decode()

    def own_jwks(self) -> dict:
        resp = http("GET", f"{self.own_issuer_url}/jwks.json")
        assert resp.status == 200, resp.body
        return resp.json()


def metric_sum(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (Prometheus text format)."""
    total = 0.0
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})?\s+(\S+)$")
    for line in text.splitlines():
        match = pattern.match(line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(1) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(2))
    return total


def auth_history(claude_url: str) -> list[dict]:
    resp = http("GET", f"{claude_url}/_test/auth_history")
    assert resp.status == 200, (
        f"fake-claude has no /_test/auth_history ({resp.status}); rebuild it: `make build`"
    )
    return resp.json()
