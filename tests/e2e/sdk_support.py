"""Signing assertions exactly as issuer-svc does, with issuer-svc's own key.

issuer-svc has no endpoint that hands out an assertion (by design), so the
SDK-compatibility tests sign one here: the private key is read from
issuer-svc's state_dir (`keys/<kid>.p8`, PKCS#8 DER, P-256), checked against
the public key issuer-svc publishes in its JWKS, and used with the claims
issuer-svc produces (DESIGN.md, *Assertion claims*). fake-claude then fetches
issuer-svc's real discovery document and JWKS to verify it.

ES256 is done in pure Python (the venv has no `cryptography`): textbook
ECDSA over P-256 with a fresh random nonce. Nothing here prints a key or an
assertion.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from pathlib import Path

AUDIENCE = "https://api.anthropic.com"

# NIST P-256 (secp256r1).
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)


def _add(p, q):
    if p is None:
        return q
    if q is None:
        return p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        slope = (3 * p[0] * p[0] + _A) * pow(2 * p[1], -1, _P) % _P
    else:
        slope = (q[1] - p[1]) * pow(q[0] - p[0], -1, _P) % _P
    x = (slope * slope - p[0] - q[0]) % _P
    return x, (slope * (p[0] - x) - p[1]) % _P


def _mul(k: int, point):
    result = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


def p256_private_scalar(pkcs8_der: bytes) -> int:
    """The private scalar of a P-256 PKCS#8 key (the ECPrivateKey's
    `INTEGER 1, OCTET STRING (32)`)."""
    marker = b"\x02\x01\x01\x04\x20"
    at = pkcs8_der.find(marker)
    if at < 0:
        raise ValueError("not a P-256 PKCS#8 private key")
    start = at + len(marker)
    return int.from_bytes(pkcs8_der[start : start + 32], "big")


def es256_sign(d: int, message: bytes) -> bytes:
    z = int.from_bytes(hashlib.sha256(message).digest(), "big")
    while True:
        k = secrets.randbelow(_N - 1) + 1
        r = _mul(k, _G)[0] % _N
        s = pow(k, -1, _N) * (z + r * d) % _N
        if r and s:
            return r.to_bytes(32, "big") + s.to_bytes(32, "big")


class IssuerSigner:
    """issuer-svc's active signing key, used the way issuer-svc uses it."""

    def __init__(self, state_dir: Path, jwks: dict, issuer_url: str):
        keys = {p.stem: p for p in (state_dir / "keys").glob("*.p8")}
        published = {k["kid"]: k for k in jwks["keys"]}
        kids = sorted(set(keys) & set(published))
        if len(kids) != 1:
            raise AssertionError(f"expected one published issuer-svc key, found {len(kids)}")
        self.kid = kids[0]
        self._d = p256_private_scalar(keys[self.kid].read_bytes())
        jwk = published[self.kid]
        public = _mul(self._d, _G)
        if public != (_b64url_int(jwk["x"]), _b64url_int(jwk["y"])):
            raise AssertionError("the key file does not match the published JWK")
        self.issuer_url = issuer_url

    def claims(self, subject: str, lifetime: int = 3600, **overrides) -> dict:
        now = int(time.time())
        claims = {
            "iss": self.issuer_url,
            "sub": subject,
            "aud": AUDIENCE,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": secrets.token_hex(16),
        }
        claims.update(overrides)
        return claims

    def sign(self, claims: dict) -> str:
        header = {"alg": "ES256", "typ": "JWT", "kid": self.kid}
        signing_input = ".".join(
            _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
        )
        signature = es256_sign(self._d, signing_input.encode())
        return f"{signing_input}.{_b64url(signature)}"
