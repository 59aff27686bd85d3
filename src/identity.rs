//! Client workload identity: where it comes from and how it is read.
//!
//! `peer_uri_san` and `jwt` sources slot in here as new variants.

use crate::config::static_identity;
use crate::host::Host;

/// Where the client workload identity of a request comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentitySource {
    /// One fixed identity: the proxy's own workload (sidecar).
    Static(String),
    /// A request header set by a trusted front proxy; removed before upstream.
    Header(String),
}

impl IdentitySource {
    /// The `source` name used in the configuration.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Static(_) => "static",
            Self::Header(_) => "header",
        }
    }
}

/// Why a request has no usable identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdentityError {
    /// The header is absent or empty.
    Missing { header: String },
    /// The header is repeated, not UTF-8, too long or has control characters.
    Invalid { header: String, reason: String },
    /// The header could not be removed, so the request must not go upstream.
    NotRemoved { header: String },
}

/// Reads the identity of the current request. A header source's header is
/// removed from the request whatever the outcome.
pub fn resolve<H: Host>(source: &IdentitySource, host: &mut H) -> Result<String, IdentityError> {
    match source {
        IdentitySource::Static(value) => Ok(value.clone()),
        IdentitySource::Header(name) => {
            let values = host.request_header_values(name);
            if host.remove_request_header(name).is_err() {
                return Err(IdentityError::NotRemoved {
                    header: name.clone(),
                });
            }
            from_header(name, values)
        }
    }
}

fn from_header(name: &str, mut values: Vec<Vec<u8>>) -> Result<String, IdentityError> {
    let invalid = |reason: &str| IdentityError::Invalid {
        header: name.to_owned(),
        reason: reason.to_owned(),
    };
    if values.len() > 1 {
        return Err(invalid("the header is repeated"));
    }
    let Some(value) = values.pop().filter(|v| !v.is_empty()) else {
        return Err(IdentityError::Missing {
            header: name.to_owned(),
        });
    };
    let value = String::from_utf8(value).map_err(|_| invalid("the value is not UTF-8"))?;
    static_identity(&value).map_err(|reason| invalid(&format!("the value {reason}")))?;
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::fake_host::FakeHost;

    const HEADER: &str = "x-client-workload";

    fn header_source() -> IdentitySource {
        IdentitySource::Header(HEADER.to_owned())
    }

    #[test]
    fn static_source_returns_its_value_and_touches_no_header() {
        let mut host = FakeHost::new().with_request_header(HEADER, "spoofed");
        let source = IdentitySource::Static("spiffe://a/b".into());
        assert_eq!(resolve(&source, &mut host).unwrap(), "spiffe://a/b");
        assert_eq!(host.request_header(HEADER).as_deref(), Some("spoofed"));
    }

    #[test]
    fn header_source_reads_and_removes_the_header() {
        let mut host =
            FakeHost::new().with_request_header(HEADER, "spiffe://cluster.local/ns/x/sa/y");
        let identity = resolve(&header_source(), &mut host).unwrap();
        assert_eq!(identity, "spiffe://cluster.local/ns/x/sa/y");
        assert_eq!(host.request_header(HEADER), None);
    }

    #[test]
    fn missing_or_empty_header_is_missing() {
        let mut host = FakeHost::new();
        let missing = IdentityError::Missing {
            header: HEADER.into(),
        };
        assert_eq!(resolve(&header_source(), &mut host), Err(missing.clone()));
        let mut host = FakeHost::new().with_request_header(HEADER, "");
        assert_eq!(resolve(&header_source(), &mut host), Err(missing));
        assert_eq!(host.request_header(HEADER), None);
    }

    #[test]
    fn repeated_header_is_refused_and_removed() {
        let mut host = FakeHost::new()
            .with_request_header(HEADER, "a")
            .with_request_header(HEADER, "b");
        assert!(matches!(
            resolve(&header_source(), &mut host),
            Err(IdentityError::Invalid { .. })
        ));
        assert_eq!(host.request_header(HEADER), None);
    }

    #[test]
    fn control_characters_and_non_utf8_are_refused() {
        let mut host = FakeHost::new().with_request_header(HEADER, "a\tb");
        assert!(matches!(
            resolve(&header_source(), &mut host),
            Err(IdentityError::Invalid { .. })
        ));
        let mut host = FakeHost::new().with_request_header_bytes(HEADER, vec![0xff, 0x41]);
        assert!(matches!(
            resolve(&header_source(), &mut host),
            Err(IdentityError::Invalid { .. })
        ));
    }

    #[test]
    fn failed_removal_fails_closed() {
        let mut host = FakeHost::new().with_request_header(HEADER, "a");
        host.fail_header_edits = true;
        assert_eq!(
            resolve(&header_source(), &mut host),
            Err(IdentityError::NotRemoved {
                header: HEADER.into()
            })
        );
    }
}
