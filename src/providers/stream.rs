//! A request body that streams a local file to a server (the WebDAV PUT, the
//! S3 single PUT), with flat memory whatever the file's size.
//!
//! The bytes are hashed and counted as they go out, and the last piece is
//! held back until the whole file has been read and found to be the content
//! that was added (its size and BLAKE3): a file that changed makes the body
//! fail before the request is complete, so the server never stores it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use std::io::Read;

/// Bytes read from the file per piece of the body.
const PIECE: usize = 1 << 20;

/// What the sender learns while the body goes out.
#[derive(Clone, Default)]
pub struct Watch {
    /// Bytes handed to the connection so far.
    pub sent: Arc<AtomicU64>,
    /// Set when the file turned out not to be the content expected.
    pub changed: Arc<AtomicBool>,
}

/// Reading state of the body.
struct Reader {
    /// The file and the hash of what was read from it, away while a piece
    /// is read on a blocking thread.
    source: Option<(std::fs::File, blake3::Hasher)>,
    read: u64,
    held: Option<Vec<u8>>,
    done: bool,
}

/// Reads (and hashes) the next piece of at most `room` bytes, on a blocking
/// thread: straight from the file into the piece, with no buffer between
/// and no zeroing first.
async fn next_piece(
    source: (std::fs::File, blake3::Hasher),
    room: usize,
) -> std::io::Result<((std::fs::File, blake3::Hasher), Vec<u8>)> {
    tokio::task::spawn_blocking(move || {
        let (mut file, mut hasher) = source;
        let mut piece = Vec::with_capacity(room);
        (&mut file).take(room as u64).read_to_end(&mut piece)?;
        hasher.update(&piece);
        Ok(((file, hasher), piece))
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The request with the body that sends `file`, which must be `expected`
/// bytes with BLAKE3 `content_hash`, and its length.
pub fn with_checked_body(
    request: reqwest::RequestBuilder,
    file: std::fs::File,
    expected: u64,
    content_hash: &str,
    watch: &Watch,
) -> reqwest::RequestBuilder {
    let pieces = checked_pieces(file, expected, content_hash.to_string(), watch);
    request
        .header(reqwest::header::CONTENT_LENGTH, expected)
        .body(reqwest::Body::wrap_stream(pieces))
}

/// The pieces of the body of [`with_checked_body`].
fn checked_pieces(
    file: std::fs::File,
    expected: u64,
    content_hash: String,
    watch: &Watch,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    let watch = watch.clone();
    let reader = Reader {
        source: Some((file, blake3::Hasher::new())),
        read: 0,
        held: None,
        done: false,
    };
    futures::stream::try_unfold(reader, move |mut r| {
        let watch = watch.clone();
        let content_hash = content_hash.clone();
        async move {
            loop {
                if r.done {
                    return Ok(None);
                }
                // One byte past the expected size at most, so growth shows.
                let room = (expected + 1).saturating_sub(r.read).min(PIECE as u64) as usize;
                let source = r
                    .source
                    .take()
                    .ok_or_else(|| std::io::Error::other("no file"))?;
                let ((file, hasher), piece) = next_piece(source, room).await?;
                let n = piece.len();
                r.read += n as u64;
                let ended = n == 0;
                let grew = r.read > expected;
                let wrong = ended
                    && (r.read != expected || hasher.finalize().to_hex().as_str() != content_hash);
                r.source = Some((file, hasher));
                if grew || wrong {
                    watch.changed.store(true, Ordering::Relaxed);
                    return Err(std::io::Error::other("the file changed while it was sent"));
                }
                r.done = ended;
                let out = if ended {
                    r.held.take()
                } else {
                    r.held.replace(piece)
                };
                if let Some(out) = out {
                    watch.sent.fetch_add(out.len() as u64, Ordering::Relaxed);
                    return Ok(Some((out, r)));
                }
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    /// Everything the body yields, or the error that ended it.
    async fn drain(data: &[u8], expected: &[u8]) -> (Result<Vec<u8>, String>, Watch) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let watch = Watch::default();
        let hash = blake3::hash(expected).to_hex().to_string();
        let stream = checked_pieces(file, expected.len() as u64, hash, &watch);
        futures::pin_mut!(stream);
        let mut got = Vec::new();
        loop {
            match stream.try_next().await {
                Ok(Some(bytes)) => got.extend_from_slice(&bytes),
                Ok(None) => return (Ok(got), watch),
                Err(e) => return (Err(e.to_string()), watch),
            }
        }
    }

    #[tokio::test]
    async fn sends_the_file_whole_and_counts_it() {
        for len in [0, 1, PIECE - 1, PIECE, PIECE + 1, 3 * PIECE + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 251) as u8).collect();
            let (got, watch) = drain(&data, &data).await;
            assert_eq!(got.unwrap(), data, "{len}");
            assert_eq!(watch.sent.load(Ordering::Relaxed), len as u64);
            assert!(!watch.changed.load(Ordering::Relaxed));
        }
    }

    #[tokio::test]
    async fn a_changed_file_never_completes_the_body() {
        let data: Vec<u8> = (0..2 * PIECE + 5).map(|i| (i % 253) as u8).collect();
        let mut other = data.clone();
        other[PIECE + 3] ^= 1;
        let shorter = &data[..data.len() - 1];
        let longer = [&data[..], b"x"].concat();
        for (on_disk, what) in [
            (&other[..], "same size"),
            (shorter, "shorter"),
            (&longer[..], "longer"),
        ] {
            let (got, watch) = drain(on_disk, &data).await;
            assert!(got.is_err(), "{what}: the body must fail");
            assert!(watch.changed.load(Ordering::Relaxed), "{what}");
            assert!(
                watch.sent.load(Ordering::Relaxed) < data.len() as u64,
                "{what}: the last piece was held back"
            );
        }
    }
}
