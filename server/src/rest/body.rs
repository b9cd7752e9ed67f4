//! Reading request bodies: JSON with errors that name the field, and uploads spooled to a
//! temporary file while they are hashed, so any size is received in bounded memory.

use super::error::ApiError;
use axum::body::Body;
use axum::http::HeaderMap;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;

/// JSON bodies (runs, updates) are small; reports go through [`spool`].
pub const JSON_LIMIT: usize = 2 * 1024 * 1024;

/// Parses a JSON body; a bad one is a 422 naming the field and the position.
pub async fn json<T: DeserializeOwned>(headers: &HeaderMap, body: Body) -> Result<T, ApiError> {
    if let Some(ct) = headers.get(axum::http::header::CONTENT_TYPE) {
        let ct = ct.to_str().unwrap_or_default();
        if !ct.starts_with("application/json") && !ct.contains("+json") {
            return Err(ApiError::UnsupportedMedia(format!(
                "send JSON with `Content-Type: application/json` (got `{ct}`)"
            )));
        }
    }
    let bytes = axum::body::to_bytes(body, JSON_LIMIT).await.map_err(|_| {
        ApiError::TooLarge(format!(
            "the JSON body is over {} MB",
            JSON_LIMIT / 1024 / 1024
        ))
    })?;
    decode(&bytes)
}

/// Parses a JSON document already read; a bad one is a 422 naming the field and the position.
pub fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::Unprocessable(
            "the request body is empty: send a JSON object".into(),
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        if path == "." || path.is_empty() {
            ApiError::Unprocessable(format!("invalid JSON body: {inner}"))
        } else {
            ApiError::Unprocessable(format!("invalid JSON body at `{path}`: {inner}"))
        }
    })
}

/// An upload on disk (deleted when dropped).
pub struct Spooled {
    pub path: tempfile::TempPath,
    /// SHA-256 of the bytes as sent.
    pub digest: String,
    pub bytes: u64,
    /// Gzip, by `Content-Encoding` or by its magic bytes.
    pub gzip: bool,
}

/// Writes the body to a temporary file, hashing it; refuses bodies over `limit` bytes.
pub async fn spool(headers: &HeaderMap, body: Body, limit: u64) -> Result<Spooled, ApiError> {
    let encoding = headers
        .get(axum::http::header::CONTENT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("identity")
        .trim()
        .to_ascii_lowercase();
    let declared_gzip = match encoding.as_str() {
        "gzip" | "x-gzip" => true,
        "identity" | "" => false,
        other => {
            return Err(ApiError::UnsupportedMedia(format!(
                "Content-Encoding `{other}` is not supported: send the report plain or gzip"
            )))
        }
    };
    if let Some(len) = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
    {
        if len > limit {
            return Err(too_large(limit));
        }
    }
    let temp = tempfile::NamedTempFile::new()
        .map_err(|e| ApiError::Internal(format!("cannot create a spool file: {e}")))?;
    let (file, path) = temp.into_parts();
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, tokio::fs::File::from_std(file));
    let mut hasher = Sha256::new();
    let mut bytes = 0u64;
    let mut head = [0u8; 2];
    let mut body = body;
    while let Some(frame) = body.frame().await {
        let frame =
            frame.map_err(|e| ApiError::BadRequest(format!("the upload was cut off: {e}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        for (i, b) in data.iter().take(2).enumerate() {
            if (bytes as usize) + i < 2 {
                head[bytes as usize + i] = *b;
            }
        }
        bytes += data.len() as u64;
        if bytes > limit {
            return Err(too_large(limit));
        }
        hasher.update(&data);
        out.write_all(&data)
            .await
            .map_err(|e| ApiError::Unavailable(format!("cannot spool the upload: {e}")))?;
    }
    out.flush()
        .await
        .map_err(|e| ApiError::Unavailable(format!("cannot spool the upload: {e}")))?;
    if bytes == 0 {
        return Err(ApiError::Unprocessable("the upload is empty".into()));
    }
    Ok(Spooled {
        path,
        digest: hex::encode(hasher.finalize()),
        bytes,
        gzip: declared_gzip || head == [0x1f, 0x8b],
    })
}

fn too_large(limit: u64) -> ApiError {
    ApiError::TooLarge(format!(
        "the upload is over the limit of {} MB (GATEHOUSE_MAX_UPLOAD_MB)",
        limit / 1024 / 1024
    ))
}
