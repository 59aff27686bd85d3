//! A verified JWT's claims: read as one strict JSON object, then checked
//! against the source (`iss`, `aud`, time claims with the host clock, the
//! identity claim).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::JwtSource;
use claude_wif_api::check_identity;

/// Why claims that are not one JSON object are refused.
pub(super) const NOT_AN_OBJECT: &str = "the JWT's claims are not a JSON object";

/// The identity in the configured claim of `json` (the decoded claims),
/// once every check passes.
pub(super) fn check(source: &JwtSource, json: &[u8], now_s: u64) -> Result<String, String> {
    let claims = Claims::parse(json, &source.claim).ok_or_else(|| NOT_AN_OBJECT.to_owned())?;
    check_claims(source, &claims, now_s)
}

/// A claim's value, as far as the checks here care.
#[derive(Debug, PartialEq, Eq)]
enum Claim {
    Text(String),
    /// A non-negative integer.
    Number(u64),
    /// An array: its string elements (others are dropped).
    Texts(Vec<String>),
    /// Anything else.
    Other,
}

/// The claims read here, by name: `iss`, `aud`, `exp`, `nbf`, `iat` and
/// the configured identity claim. Every other member is skipped unread.
struct Claims<'a> {
    names: [&'a str; 6],
    values: [Option<Claim>; 6],
}

impl<'a> Claims<'a> {
    const FIXED: [&'static str; 5] = ["iss", "aud", "exp", "nbf", "iat"];

    /// `None` unless `json` is one JSON object in which no claim read here
    /// appears twice (another reader could take the other one).
    fn parse(json: &[u8], claim: &'a str) -> Option<Self> {
        let [iss, aud, exp, nbf, iat] = Self::FIXED;
        let mut claims = Claims {
            names: [iss, aud, exp, nbf, iat, claim],
            values: Default::default(),
        };
        let mut deserializer = serde_json::Deserializer::from_slice(json);
        deserializer.deserialize_map(&mut claims).ok()?;
        deserializer.end().ok()?;
        Some(claims)
    }

    fn get(&self, name: &str) -> Option<&Claim> {
        let at = self.names.iter().position(|n| *n == name)?;
        self.values.get(at)?.as_ref()
    }

    fn text(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some(Claim::Text(text)) => Some(text),
            _ => None,
        }
    }
}

impl<'de> Visitor<'de> for &mut Claims<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(at) = map.next_key_seed(ClaimName(&self.names))? {
            let Some(slot) = at.and_then(|at| self.values.get_mut(at)) else {
                map.next_value::<IgnoredAny>()?;
                continue;
            };
            if slot.is_some() {
                return Err(de::Error::custom("a claim appears twice"));
            }
            *slot = Some(map.next_value()?);
        }
        Ok(())
    }
}

/// Reads a member name as the index of the claim it names, if any, without
/// allocating.
struct ClaimName<'a>(&'a [&'a str]);

impl<'de> DeserializeSeed<'de> for ClaimName<'_> {
    type Value = Option<usize>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ClaimName<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a member name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        Ok(self.0.iter().position(|n| *n == name))
    }
}

impl<'de> Deserialize<'de> for Claim {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ClaimVisitor { element: false })
    }
}

/// Reads a claim, or (`element`) an element of an array claim, where only
/// a string counts and anything nested is skipped unread.
struct ClaimVisitor {
    element: bool,
}

impl<'de> DeserializeSeed<'de> for ClaimVisitor {
    type Value = Claim;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Claim, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ClaimVisitor {
    type Value = Claim;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Claim, E> {
        Ok(Claim::Other)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Claim, E> {
        Ok(u64::try_from(v).map_or(Claim::Other, Claim::Number))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Claim, E> {
        Ok(Claim::Number(v))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Claim, E> {
        Ok(Claim::Other)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Claim, E> {
        Ok(Claim::Text(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Claim, E> {
        Ok(Claim::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Claim, A::Error> {
        if self.element {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Claim::Other);
        }
        let mut texts = Vec::new();
        while let Some(item) = seq.next_element_seed(ClaimVisitor { element: true })? {
            if let Claim::Text(text) = item {
                texts.push(text);
            }
        }
        Ok(Claim::Texts(texts))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Claim, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Claim::Other)
    }
}

fn check_claims(source: &JwtSource, claims: &Claims<'_>, now_s: u64) -> Result<String, String> {
    if claims.text("iss") != Some(source.issuer.as_str()) {
        return Err("iss does not match".into());
    }
    let audience_ok = match claims.get("aud") {
        Some(Claim::Text(a)) => source.audiences.contains(a),
        Some(Claim::Texts(list)) => list.iter().any(|a| source.audiences.contains(a)),
        _ => false,
    };
    if !audience_ok {
        return Err("aud does not match".into());
    }
    check_times(source, claims, now_s)?;
    let identity = claims
        .text(&source.claim)
        .ok_or_else(|| format!("claim {} is missing or not a string", source.claim))?;
    check_identity(identity).map_err(|reason| format!("claim {} {reason}", source.claim))?;
    Ok(identity.to_owned())
}

/// `exp` (required, not past, at most `max_lifetime_s` ahead of the clock
/// and of `iat`), `nbf` and `iat` (if present, not in the future); each
/// with the leeway.
fn check_times(source: &JwtSource, claims: &Claims<'_>, now_s: u64) -> Result<(), String> {
    let Some(Claim::Number(exp)) = claims.get("exp") else {
        return Err("exp is missing or not a number".into());
    };
    let exp = *exp;
    if exp.saturating_add(source.leeway_s) <= now_s {
        return Err("the JWT has expired".into());
    }
    let future = now_s.saturating_add(source.leeway_s);
    if exp > future.saturating_add(source.max_lifetime_s) {
        return Err(format!(
            "exp is more than max_lifetime_s ({}s) ahead",
            source.max_lifetime_s
        ));
    }
    if let Some(nbf) = time_claim(claims, "nbf")?
        && nbf > future
    {
        return Err("the JWT is not valid yet".into());
    }
    if let Some(iat) = time_claim(claims, "iat")? {
        if iat > future {
            return Err("iat is in the future".into());
        }
        if exp.saturating_sub(iat) > source.max_lifetime_s {
            return Err(format!(
                "the JWT's lifetime (exp - iat) is longer than max_lifetime_s ({}s)",
                source.max_lifetime_s
            ));
        }
    }
    Ok(())
}

/// An optional NumericDate claim (whole seconds, as `exp` is read).
fn time_claim(claims: &Claims<'_>, name: &str) -> Result<Option<u64>, String> {
    match claims.get(name) {
        None => Ok(None),
        Some(Claim::Number(n)) => Ok(Some(*n)),
        Some(_) => Err(format!("{name} is not a number")),
    }
}
