"""Signing assertions exactly as issuer-svc does, with issuer-svc's own key.

issuer-svc has no endpoint that hands out an assertion (by design), so the
SDK-compatibility tests sign one here: the private key is read from
issuer-svc's state_dir (`keys/<kid>.p8`, PKCS#8 DER, P-256), checked against
the public key issuer-svc publishes in its JWKS, and used with the claims
issuer-svc produces (DESIGN.md, *Assertion claims*). fake-claude then fetches
issuer-svc's real discovery document and JWKS to verify it.

ES256 signing uses `cryptography`. Nothing here prints a key or an assertion.
"""

from __future__ import annotations

import base64
import json
import secrets
import time
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, utils

AUDIENCE = "https://api.anthropic.com"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _b64url_int(text: str) -> int:
    return int.from_bytes(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)), "big")


class IssuerSigner:
    """issuer-svc's active signing key, used the way issuer-svc uses it."""

    def __init__(self, state_dir: Path, jwks: dict, issuer_url: str):
        keys = {p.stem: p for p in (state_dir / "keys").glob("*.p8")}
        published = {k["kid"]: k for k in jwks["keys"]}
        kids = sorted(set(keys) & set(published))
        if len(kids) != 1:
            raise AssertionError(f"expected one published issuer-svc key, found {len(kids)}")
        self.kid = kids[0]
        self._key = serialization.load_der_private_key(keys[self.kid].read_bytes(), password=None)
        if not isinstance(self._key, ec.EllipticCurvePrivateKey) or self._key.curve.name != "secp256r1":
            raise AssertionError("issuer-svc's active key is not a P-256 key")
        jwk = published[self.kid]
        public = self._key.public_key().public_numbers()
        if (public.x, public.y) != (_b64url_int(jwk["x"]), _b64url_int(jwk["y"])):
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
        der = self._key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256()))
        r, s = utils.decode_dss_signature(der)
        signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64url(signature)}"
