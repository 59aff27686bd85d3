//! The keys and encodings under the verifier (the hand-written RS256
//! verifier and base64url decoder they replace had these tests): signatures
//! made by other code, RSA key checks, canonical unpadded base64url.

use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

use super::tests::{RSA_JWK, RSA_PEM, b64, key};
use super::*;

fn rsa() -> JwtKey {
    key(&serde_json::from_str(RSA_JWK).unwrap()).unwrap()
}

/// A JWK member, decoded.
fn member(name: &str) -> Vec<u8> {
    let jwk: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap()
}

/// An RS256 signature made by other code (jsonwebtoken's signer).
fn signature_of(message: &str) -> Vec<u8> {
    let key = EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::RS256).unwrap();
    URL_SAFE_NO_PAD.decode(sig).unwrap()
}

/// The RSA JWK with `n` and `e` replaced.
fn rsa_with(n: &[u8], e: &[u8]) -> Result<JwtKey, String> {
    let mut jwk: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    jwk["n"] = json!(b64(n));
    jwk["e"] = json!(b64(e));
    key(&jwk)
}

#[test]
fn base64url_is_unpadded_and_canonical() {
    for (text, bytes) in [
        ("", &b""[..]),
        ("Zg", b"f"),
        ("Zm8", b"fo"),
        ("Zm9v", b"foo"),
        ("Zm9vYg", b"foob"),
        ("Zm9vYmE", b"fooba"),
        ("Zm9vYmFy", b"foobar"),
        ("-_8", &[0xfb, 0xff][..]),
    ] {
        assert_eq!(URL_SAFE_NO_PAD.decode(text).unwrap(), bytes, "{text}");
    }
    // Padding, the other alphabet, impossible lengths, non-zero trailing
    // bits (a second encoding of "f"), spaces and line breaks.
    for bad in ["Zg==", "+/8", "Z", "Zm9vY", "Zh", "a b", "Zm9v\n"] {
        assert!(URL_SAFE_NO_PAD.decode(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn rs256_signatures_made_by_other_code_verify() {
    let key = rsa();
    for message in ["", "a", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0"] {
        assert!(key.verifies(message.as_bytes(), &signature_of(message)));
    }
}

#[test]
fn rs256_refuses_wrong_messages_and_malformed_signatures() {
    let key = rsa();
    let sig = signature_of("hello");
    assert!(!key.verifies(b"hellp", &sig));
    let mut flipped = sig.clone();
    flipped[100] ^= 1;
    assert!(!key.verifies(b"hello", &flipped));
    // Wrong lengths, including a leading zero byte added or removed.
    assert!(!key.verifies(b"hello", &sig[1..]));
    let mut longer = vec![0u8];
    longer.extend_from_slice(&sig);
    assert!(!key.verifies(b"hello", &longer));
    assert!(!key.verifies(b"hello", &[]));
    // Representatives out of range: 0, 1, n - 1, n, all ones.
    let n = member("n");
    let mut n_minus_1 = n.clone();
    *n_minus_1.last_mut().unwrap() -= 1;
    let mut one = vec![0u8; 256];
    one[255] = 1;
    for bad in [vec![0u8; 256], one, n_minus_1, n, vec![0xff; 256]] {
        assert!(!key.verifies(b"hello", &bad));
    }
}

#[test]
fn rsa_keys_are_checked_when_read() {
    let n = member("n");
    let e = member("e");
    let err = |n: &[u8], e: &[u8]| rsa_with(n, e).unwrap_err();
    assert!(err(&[], &e).contains("2048 to 8192 bits"));
    assert!(err(&n[128..], &e).contains("bits"), "1024-bit modulus");
    assert!(err(&[0x80; 1025], &e).contains("bits"), "8200-bit modulus");
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    assert!(err(&even, &e).contains("odd"));
    assert!(err(&n, &[1]).contains("exponent"));
    assert!(err(&n, &[2]).contains("exponent"));
    assert!(err(&n, &[]).contains("exponent"));
    // rsa's bound on e (RSADoS): 2^33 - 1.
    assert!(err(&n, &[2, 0, 0, 0, 1]).contains("exponent is too large"));
    assert!(rsa_with(&n, &[1, 0, 0, 0, 1]).is_ok());
    // Leading zero bytes are not part of the size, nor of the key.
    let mut padded = vec![0u8, 0];
    padded.extend_from_slice(&n);
    assert_eq!(rsa_with(&padded, &[0, 1, 0, 1]).unwrap(), rsa());
}
