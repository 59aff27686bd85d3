use super::*;
use crate::jwt::base64url;

const RSA_JWK: &str = include_str!("../testdata/rsa.jwk.json");
const RSA_PEM: &str = include_str!("../testdata/rsa.pem");

fn member(name: &str) -> Vec<u8> {
    let jwk: serde_json::Value = serde_json::from_str(RSA_JWK).unwrap();
    base64url::decode(jwk[name].as_str().unwrap()).unwrap()
}

fn key() -> RsaPublicKey {
    RsaPublicKey::new(&member("n"), &member("e")).unwrap()
}

/// An RS256 signature made by other code (jsonwebtoken's RustCrypto `rsa`).
fn signature_of(message: &str) -> Vec<u8> {
    let key = jsonwebtoken::EncodingKey::from_rsa_pem(RSA_PEM.as_bytes()).unwrap();
    let sig = jsonwebtoken::crypto::sign(message.as_bytes(), &key, jsonwebtoken::Algorithm::RS256)
        .unwrap();
    base64url::decode(&sig).unwrap()
}

/// A key of any size, for arithmetic checks against `u128`.
fn small_key(n: u128, e: u32) -> RsaPublicKey {
    let bytes = n.to_be_bytes();
    let n_be = strip_zeros(&bytes);
    let limbs = to_limbs(n_be, n_be.len().div_ceil(4));
    RsaPublicKey {
        n0inv: neg_inverse(limbs[0]),
        rr: r_squared(&limbs),
        k: n_be.len(),
        e,
        n: limbs,
    }
}

fn pow_mod(mut base: u128, mut e: u32, n: u128) -> u128 {
    let mut acc = 1u128;
    base %= n;
    while e > 0 {
        if e & 1 == 1 {
            acc = acc * base % n;
        }
        base = base * base % n;
        e >>= 1;
    }
    acc
}

#[test]
fn montgomery_exponentiation_matches_a_reference() {
    // Moduli up to 62 bits, so the u128 reference cannot overflow.
    let moduli = [
        0xffff_fffbu128,
        0x1_0000_0001,
        0x3fff_ffff_ffff_ffc3,
        0x2000_0000_0000_0001,
        0x3a5f_c3b1_0d27_9e65,
    ];
    for n in moduli {
        for e in [3u32, 17, 65_537, 0xffff_ffff] {
            let key = small_key(n, e);
            for base in [0u128, 1, 2, 12_345, n - 1, n / 3] {
                let got = key.pow_e(&to_limbs(&base.to_be_bytes()[8..], key.n.len()));
                let got = got
                    .iter()
                    .rev()
                    .fold(0u128, |acc, l| (acc << 32) | u128::from(*l));
                assert_eq!(got, pow_mod(base, e, n), "n {n:#x} e {e} base {base}");
            }
        }
    }
}

#[test]
fn neg_inverse_is_the_montgomery_constant() {
    for x in [1u32, 3, 0xffff_ffff, 0x1234_5677, 65_537] {
        assert_eq!(x.wrapping_mul(neg_inverse(x)), u32::MAX, "{x}");
    }
}

#[test]
fn verifies_signatures_made_by_other_code() {
    let key = key();
    assert_eq!(key.bits(), 2048);
    for message in ["", "a", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0"] {
        assert!(key.verify_sha256(message.as_bytes(), &signature_of(message)));
    }
}

#[test]
fn refuses_wrong_messages_and_malformed_signatures() {
    let key = key();
    let sig = signature_of("hello");
    assert!(!key.verify_sha256(b"hellp", &sig));
    let mut flipped = sig.clone();
    flipped[100] ^= 1;
    assert!(!key.verify_sha256(b"hello", &flipped));
    // Wrong lengths, including a leading zero byte added or removed.
    assert!(!key.verify_sha256(b"hello", &sig[1..]));
    let mut longer = vec![0u8];
    longer.extend_from_slice(&sig);
    assert!(!key.verify_sha256(b"hello", &longer));
    assert!(!key.verify_sha256(b"hello", &[]));
    // Representatives out of range: 0, 1, n - 1, n, all ones.
    let n = member("n");
    let mut n_minus_1 = n.clone();
    *n_minus_1.last_mut().unwrap() -= 1;
    let mut one = vec![0u8; 256];
    one[255] = 1;
    for bad in [vec![0u8; 256], one, n_minus_1, n, vec![0xff; 256]] {
        assert!(!key.verify_sha256(b"hello", &bad));
    }
}

#[test]
fn refuses_malformed_keys() {
    let n = member("n");
    let e = member("e");
    let err = |n: &[u8], e: &[u8]| RsaPublicKey::new(n, e).unwrap_err();
    assert!(err(&[], &e).contains("bits"));
    assert!(err(&n[128..], &e).contains("bits"), "1024-bit modulus");
    let mut even = n.clone();
    *even.last_mut().unwrap() &= 0xfe;
    assert!(err(&even, &e).contains("odd"));
    assert!(err(&n, &[1]).contains("exponent"));
    assert!(err(&n, &[2]).contains("exponent"));
    assert!(err(&n, &[]).contains("exponent"));
    assert!(err(&n, &[1, 0, 0, 0, 1]).contains("too large"));
    // Leading zero bytes are not part of the size.
    let mut padded = vec![0u8, 0];
    padded.extend_from_slice(&n);
    assert_eq!(RsaPublicKey::new(&padded, &[0, 1, 0, 1]).unwrap(), key());
}

#[test]
fn the_encoding_needs_room_for_eight_bytes_of_padding() {
    assert!(expected_encoding(61, &[0; 32]).is_none());
    let em = expected_encoding(62, &[7; 32]).unwrap();
    assert_eq!(em.len(), 62);
    assert_eq!(&em[..3], &[0, 1, 0xff]);
}
