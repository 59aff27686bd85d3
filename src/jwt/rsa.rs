//! RS256 verification: RSASSA-PKCS1-v1_5 with SHA-256 (RFC 8017 §8.2.2),
//! over a minimal bignum (32-bit limbs, Montgomery multiplication).
//!
//! Only public data passes through here (the key, the signature, the signed
//! bytes), so nothing needs to be constant-time. Every index below is
//! bounded by lengths fixed when the key is built (`limbs` of the modulus),
//! and the unit tests cross-check against signatures made by other code.

use sha2::{Digest, Sha256};

/// Smallest and largest modulus accepted, in bits.
pub const MIN_BITS: usize = 2048;
pub const MAX_BITS: usize = 8192;

/// DER `DigestInfo` prefix for SHA-256 (RFC 8017 §9.2, note 1).
const SHA256_DIGEST_INFO: [u8; 19] = [
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

/// An RSA public key, ready for repeated verification.
#[derive(Clone, PartialEq, Eq)]
pub struct RsaPublicKey {
    /// Modulus, little-endian 32-bit limbs.
    n: Vec<u32>,
    /// Modulus length in bytes (the signature length).
    k: usize,
    e: u32,
    /// `-n⁻¹ mod 2³²`.
    n0inv: u32,
    /// `R² mod n`, with `R = 2^(32·limbs)`.
    rr: Vec<u32>,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RsaPublicKey({} bits, e {})", self.bits(), self.e)
    }
}

impl RsaPublicKey {
    /// A key from the big-endian modulus and exponent (JWK `n`, `e`).
    pub fn new(n: &[u8], e: &[u8]) -> Result<Self, String> {
        let n = strip_zeros(n);
        let bits =
            (n.len() * 8).saturating_sub(n.first().map_or(0, |b| b.leading_zeros() as usize));
        if !(MIN_BITS..=MAX_BITS).contains(&bits) {
            return Err(format!(
                "the RSA modulus must have {MIN_BITS} to {MAX_BITS} bits"
            ));
        }
        if n.last().is_none_or(|b| b % 2 == 0) {
            return Err("the RSA modulus must be odd".into());
        }
        let e = strip_zeros(e);
        if e.len() > 4 {
            return Err("the RSA exponent is too large".into());
        }
        let e = e.iter().fold(0u32, |acc, b| (acc << 8) | u32::from(*b));
        if e < 3 || e % 2 == 0 {
            return Err("the RSA exponent must be odd and at least 3".into());
        }
        let k = n.len();
        let n = to_limbs(n, k.div_ceil(4));
        let n0inv = neg_inverse(n.first().copied().unwrap_or(1));
        let rr = r_squared(&n);
        Ok(Self { n, k, e, n0inv, rr })
    }

    /// Modulus size in bits.
    pub fn bits(&self) -> usize {
        self.n.len() * 32 - self.n.last().map_or(32, |l| l.leading_zeros() as usize)
    }

    /// Whether `signature` is a valid RS256 signature of `message`.
    pub fn verify_sha256(&self, message: &[u8], signature: &[u8]) -> bool {
        if signature.len() != self.k {
            return false;
        }
        let s = to_limbs(signature, self.n.len());
        if !less_than(&s, &self.n) {
            return false;
        }
        let m = self.pow_e(&s);
        expected_encoding(self.k, &Sha256::digest(message))
            .is_some_and(|em| em == to_bytes(&m, self.k))
    }

    /// `base^e mod n`, by left-to-right square and multiply in Montgomery form.
    fn pow_e(&self, base: &[u32]) -> Vec<u32> {
        let base_m = self.mul(base, &self.rr);
        let mut acc = base_m.clone();
        let top = 31 - self.e.leading_zeros();
        for bit in (0..top).rev() {
            acc = self.mul(&acc, &acc);
            if (self.e >> bit) & 1 == 1 {
                acc = self.mul(&acc, &base_m);
            }
        }
        let mut one = vec![0u32; self.n.len()];
        if let Some(first) = one.first_mut() {
            *first = 1;
        }
        self.mul(&acc, &one)
    }

    /// Montgomery product `a·b·R⁻¹ mod n` (CIOS), for `a, b < n`.
    #[allow(clippy::indexing_slicing)] // j < s = n.len() = a.len(); t has s + 2 limbs
    fn mul(&self, a: &[u32], b: &[u32]) -> Vec<u32> {
        let n = &self.n;
        let s = n.len();
        let mut t = vec![0u32; s + 2];
        for &limb in b.iter().take(s) {
            let bi = u64::from(limb);
            let mut carry = 0u64;
            for j in 0..s {
                let x = u64::from(t[j]) + u64::from(a[j]) * bi + carry;
                t[j] = x as u32;
                carry = x >> 32;
            }
            let x = u64::from(t[s]) + carry;
            t[s] = x as u32;
            t[s + 1] = (x >> 32) as u32;
            let m = u64::from(t[0].wrapping_mul(self.n0inv));
            let mut carry = (u64::from(t[0]) + m * u64::from(n[0])) >> 32;
            for j in 1..s {
                let x = u64::from(t[j]) + m * u64::from(n[j]) + carry;
                t[j - 1] = x as u32;
                carry = x >> 32;
            }
            let x = u64::from(t[s]) + carry;
            t[s - 1] = x as u32;
            t[s] = t[s + 1] + (x >> 32) as u32;
            t[s + 1] = 0;
        }
        let overflow = t[s] != 0;
        t.truncate(s);
        if overflow || !less_than(&t, n) {
            sub_in_place(&mut t, n);
        }
        t
    }
}

/// `00 01 FF…FF 00 DigestInfo(SHA-256) hash` of `k` bytes; `None` if `k` is too short.
fn expected_encoding(k: usize, hash: &[u8]) -> Option<Vec<u8>> {
    let t_len = SHA256_DIGEST_INFO.len() + hash.len();
    let ps = k.checked_sub(t_len + 3).filter(|ps| *ps >= 8)?;
    let mut em = Vec::with_capacity(k);
    em.extend_from_slice(&[0x00, 0x01]);
    em.resize(2 + ps, 0xff);
    em.push(0x00);
    em.extend_from_slice(&SHA256_DIGEST_INFO);
    em.extend_from_slice(hash);
    Some(em)
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes.get(first..).unwrap_or_default()
}

/// Big-endian bytes to `len` little-endian limbs (extra high bytes are dropped;
/// callers pass at most `4·len` bytes).
fn to_limbs(be: &[u8], len: usize) -> Vec<u32> {
    let mut out = vec![0u32; len];
    for (i, byte) in be.iter().rev().enumerate() {
        if let Some(limb) = out.get_mut(i / 4) {
            *limb |= u32::from(*byte) << (8 * (i % 4));
        }
    }
    out
}

/// Little-endian limbs to `k` big-endian bytes.
fn to_bytes(limbs: &[u32], k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k];
    for (i, byte) in out.iter_mut().rev().enumerate() {
        *byte = limbs.get(i / 4).map_or(0, |l| (l >> (8 * (i % 4))) as u8);
    }
    out
}

/// `a < b` for equal-length limb vectors.
fn less_than(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// `a -= b` modulo `2^(32·len)`.
fn sub_in_place(a: &mut [u32], b: &[u32]) {
    let mut borrow = 0u64;
    for (x, y) in a.iter_mut().zip(b) {
        let d = u64::from(*x)
            .wrapping_sub(u64::from(*y))
            .wrapping_sub(borrow);
        *x = d as u32;
        borrow = (d >> 63) & 1;
    }
}

/// `-x⁻¹ mod 2³²` for odd `x` (Newton's iteration doubles the correct bits).
fn neg_inverse(x: u32) -> u32 {
    let mut inv: u32 = 1;
    for _ in 0..5 {
        inv = inv.wrapping_mul(2u32.wrapping_sub(x.wrapping_mul(inv)));
    }
    inv.wrapping_neg()
}

/// `R² mod n` by doubling 1 modulo `n`, `2·32·limbs` times.
fn r_squared(n: &[u32]) -> Vec<u32> {
    let mut r = vec![0u32; n.len()];
    if let Some(first) = r.first_mut() {
        *first = 1;
    }
    for _ in 0..2 * 32 * n.len() {
        let mut carry = 0u32;
        for limb in r.iter_mut() {
            let next = *limb >> 31;
            *limb = (*limb << 1) | carry;
            carry = next;
        }
        if carry == 1 || !less_than(&r, n) {
            sub_in_place(&mut r, n);
        }
    }
    r
}

#[cfg(test)]
mod tests;
