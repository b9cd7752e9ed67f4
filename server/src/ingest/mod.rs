//! Readers for what CI systems send: JUnit XML test reports, Cobertura and LCOV coverage, and
//! GitHub webhook payloads; and the glue that streams a spooled upload through a reader into
//! the store with bounded memory.

pub mod coverage;
pub mod github;
pub mod junit;

use app::store::runs::{self, CoverageStored, Feed, Ingested, CASE_BATCH};
use app::store::{Db, StoreError};
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

/// Why an upload was not stored.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// The file is not a report we can read (HTTP 422), with where and why.
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Opens a spooled upload, decompressing gzip when the client said so.
pub fn open_upload(path: &Path, gzip: bool) -> std::io::Result<Box<dyn BufRead + Send>> {
    let file = std::fs::File::open(path)?;
    Ok(if gzip {
        Box::new(BufReader::with_capacity(
            64 * 1024,
            flate2::read::MultiGzDecoder::new(file),
        ))
    } else {
        Box::new(BufReader::with_capacity(64 * 1024, file))
    })
}

/// The SHA-256 of a file's bytes, hex (for callers that did not hash while spooling).
pub fn file_digest(path: &Path) -> std::io::Result<String> {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Cases travel to the store in batches of this many.
const FEED_BATCH: usize = CASE_BATCH * 4;

/// Reads a spooled JUnit report on a blocking thread and stores it as it is read, in one
/// transaction; `digest` identifies the upload (a repeat is not read again).
pub async fn junit_file(
    db: &Db,
    run_id: i64,
    path: PathBuf,
    gzip: bool,
    digest: &str,
) -> Result<Ingested, IngestError> {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    let reader = tokio::task::spawn_blocking(move || {
        let input = match open_upload(&path, gzip) {
            Ok(input) => input,
            Err(e) => {
                let _ = tx.blocking_send(Feed::Refused(format!("cannot read the upload: {e}")));
                return;
            }
        };
        let mut cases = junit::JunitReader::new(input);
        let mut batch = Vec::with_capacity(FEED_BATCH);
        loop {
            match cases.next_case() {
                Ok(Some(case)) => {
                    batch.push(case);
                    if batch.len() == FEED_BATCH
                        && tx
                            .blocking_send(Feed::Cases(std::mem::take(&mut batch)))
                            .is_err()
                    {
                        return; // the store gave up; its error is reported
                    }
                }
                Ok(None) => {
                    if !batch.is_empty() && tx.blocking_send(Feed::Cases(batch)).is_err() {
                        return;
                    }
                    let _ = tx.blocking_send(Feed::Done(*cases.totals()));
                    return;
                }
                Err(e) => {
                    let message = match open_upload(&path, gzip) {
                        Ok(again) => e.locate(again).to_string(),
                        Err(_) => e.message,
                    };
                    let _ = tx.blocking_send(Feed::Refused(message));
                    return;
                }
            }
        }
    });
    let stored = runs::ingest_junit(db, run_id, digest, rx).await;
    let _ = reader.await;
    stored.map_err(|e| match e {
        StoreError::Invalid(message) => IngestError::Refused(message),
        other => IngestError::Store(other),
    })
}

/// Reads a spooled Cobertura or LCOV report and stores it.
pub async fn coverage_file(
    db: &Db,
    run_id: i64,
    path: PathBuf,
    gzip: bool,
    digest: &str,
) -> Result<CoverageStored, IngestError> {
    let report = tokio::task::spawn_blocking(move || {
        let input = open_upload(&path, gzip)
            .map_err(|e| IngestError::Refused(format!("cannot read the upload: {e}")))?;
        coverage::read(input).map_err(|e| {
            let located = match open_upload(&path, gzip) {
                Ok(again) => e.locate(again),
                Err(_) => e,
            };
            IngestError::Refused(located.to_string())
        })
    })
    .await
    .map_err(|e| IngestError::Store(StoreError::Other(format!("coverage reader failed: {e}"))))??;
    Ok(runs::store_coverage(db, run_id, digest, &report).await?)
}
