//! Reading an HTTP answer's body with a bound, for every outbound call
//! (Claude's token endpoint, the Admin API, the issuer's own discovery and
//! JWKS): a `content-length` over the bound is refused before reading, and
//! reading stops as soon as the bound is passed.

/// Why a bounded body could not be read.
#[derive(Debug)]
pub enum BodyError {
    /// Larger than the bound (announced or seen).
    TooLarge,
    /// The connection failed while reading.
    Read(reqwest::Error),
}

/// The whole body of `response`, at most `max` bytes.
pub async fn read_bounded(
    mut response: reqwest::Response,
    max: usize,
) -> Result<Vec<u8>, BodyError> {
    if response
        .content_length()
        .is_some_and(|len| len > max as u64)
    {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > max {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}
