"""The end-of-test secret scan (conftest.py runs it after every e2e test).

It reads every log file a test's stack wrote under the test's `tmp_path`
(`*.log`: Envoy, issuer-svc, fake-claude, anything else) and the test's own
captured output, and reports:

- `access token`: a Claude access token (`sk-ant-oat01-…`) or API key
  (`sk-ant-api03-…`) with its secret part; `…abcd` (last four) is fine;
- `assertion`: a JWT-shaped string that verifies against a signing key of
  an issuer-svc state directory under `tmp_path`, names such a key's `kid`,
  or whose `iss` is an issuer-svc issuer URL (`…/providers/<id>`);
- `JWT`: any other JWT-shaped string (a workload's own JWT is a credential
  too);
- `private key`: PEM private key blocks, and JWK private members (`"d"`).

A finding names the file and the kind, never the secret itself.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from pathlib import Path

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
    from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
except ImportError:  # verification is skipped; kid and iss checks still apply
    serialization = None

TOKEN_RE = re.compile(rb"sk-ant-(?:oat|api|admin)\d\d-[A-Za-z0-9_\-]{8,}")
JWT_RE = re.compile(rb"eyJ[A-Za-z0-9_\-]{4,}\.eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
PEM_RE = re.compile(rb"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----")
JWK_PRIVATE_RE = re.compile(rb'"(?:d|p|q|dp|dq|qi|k)"\s*:\s*"[A-Za-z0-9_\-]{16,}"')
ISSUER_PATH_RE = re.compile(r"/providers/[a-z0-9-]+$")


@dataclass(frozen=True)
class Finding:
    where: str
    kind: str

    def __str__(self) -> str:
        return f"{self.where}: {self.kind}"


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def signing_keys(root: Path) -> dict[str, object]:
    """kid → public key of every issuer-svc signing key (`<kid>.p8`) under root."""
    keys: dict[str, object] = {}
    for path in root.rglob("*.p8"):
        kid = path.stem
        if serialization is None:
            keys[kid] = None
            continue
        try:
            keys[kid] = serialization.load_der_private_key(path.read_bytes(), password=None).public_key()
        except (ValueError, TypeError, OSError):
            keys[kid] = None
    return keys


def _verifies(key, alg: str, signing_input: bytes, signature: bytes) -> bool:
    if key is None or serialization is None:
        return False
    try:
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey) and len(signature) == 64:
            der = encode_dss_signature(int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big"))
            key.verify(der, signing_input, ec.ECDSA(hashes.SHA256()))
            return True
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def classify_jwt(token: bytes, keys: dict[str, object]) -> str | None:
    """`assertion`, `JWT`, or None when it does not decode as a JWT."""
    try:
        head_b64, claims_b64, sig_b64 = token.decode().split(".")
        header = json.loads(_b64(head_b64))
        claims = json.loads(_b64(claims_b64))
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(header, dict) or "alg" not in header:
        return None
    if not isinstance(claims, dict):
        claims = {}
    if header.get("kid") in keys or ISSUER_PATH_RE.search(str(claims.get("iss", ""))):
        return "assertion"
    try:
        signature = _b64(sig_b64)
    except ValueError:
        signature = b""
    signing_input = f"{head_b64}.{claims_b64}".encode()
    if any(_verifies(key, str(header.get("alg")), signing_input, signature) for key in keys.values()):
        return "assertion"
    return "JWT"


def scan_bytes(where: str, data: bytes, keys: dict[str, object]) -> list[Finding]:
    kinds: set[str] = set()
    if TOKEN_RE.search(data):
        kinds.add("access token or API key")
    for match in JWT_RE.finditer(data):
        kind = classify_jwt(match.group(0), keys)
        if kind:
            kinds.add(kind)
    if PEM_RE.search(data):
        kinds.add("PEM private key")
    if JWK_PRIVATE_RE.search(data):
        kinds.add("JWK private key member")
    return [Finding(where, kind) for kind in sorted(kinds)]


def scan(root: Path, extra: dict[str, str] | None = None) -> list[Finding]:
    """Scans every `*.log` under `root` and each `extra` text (name → text)."""
    keys = signing_keys(root)
    findings: list[Finding] = []
    for path in sorted(root.rglob("*.log")):
        if path.is_file():
            findings += scan_bytes(str(path.relative_to(root)), path.read_bytes(), keys)
    for name, text in (extra or {}).items():
        findings += scan_bytes(name, text.encode(errors="replace"), keys)
    return findings
