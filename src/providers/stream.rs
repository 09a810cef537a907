//! A request body that streams a local file to a server (the WebDAV PUT, the
//! S3 single PUT), with flat memory whatever the file's size.
//!
//! The file is read and hashed a few pieces ahead on a blocking thread
//! while the connection sends, the bytes are counted as they go out, and
//! the last piece is held back until the whole file has been read and found
//! to be the content that was added (its size and BLAKE3): a file that
//! changed makes the body fail before the request is complete, so the
//! server never stores it. To a provider that encrypts, the body is the
//! file sealed (age) as it is read, its length foretold from the header
//! (`crypto::sealed_len`); what is held back is then the last chunk, which
//! age needs to open the file.

use std::io::Read;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use super::Failure;
use crate::bandwidth::Lane;
use crate::crypto::{Keys, Sealer};

/// Bytes read from the file per piece of the body.
const PIECE: usize = 1 << 20;

/// What the sender learns while the body goes out.
#[derive(Clone, Default)]
pub struct Watch {
    /// Bytes handed to the connection so far.
    pub sent: Arc<AtomicU64>,
    /// Set when the file turned out not to be the content expected.
    pub changed: Arc<AtomicBool>,
    /// The bandwidth limits the body's pieces wait for.
    pub lane: Lane,
}

/// Pieces the reader may be ahead of the connection.
const AHEAD: usize = 2;

/// The request with the body that sends `file`, which must be `expected`
/// bytes with BLAKE3 `content_hash` (sealed to `keys` if given), and its
/// length.
pub fn with_checked_body(
    request: reqwest::RequestBuilder,
    file: std::fs::File,
    expected: u64,
    content_hash: &str,
    watch: &Watch,
    keys: Option<&Keys>,
) -> Result<reqwest::RequestBuilder, Failure> {
    let (length, pieces) = checked_body(file, expected, content_hash, watch, keys)?;
    Ok(request
        .header(reqwest::header::CONTENT_LENGTH, length)
        .body(reqwest::Body::wrap_stream(pieces)))
}

/// The body's length and pieces: the file, or its age file sealed to `keys`.
fn checked_body(
    file: std::fs::File,
    expected: u64,
    content_hash: &str,
    watch: &Watch,
    keys: Option<&Keys>,
) -> Result<
    (
        u64,
        impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static,
    ),
    Failure,
> {
    let sealing = keys.map(Sealer::new).transpose();
    let mut sealer = sealing.map_err(|e| Failure::permanent(e.to_string()))?;
    let header = sealer.as_mut().map(Sealer::take);
    let length = match &header {
        Some(header) => crate::crypto::sealed_len(header.len() as u64, expected),
        None => expected,
    };
    let seal = sealer.map(|sealer| (sealer, header.unwrap_or_default()));
    let pieces = checked_pieces(file, expected, content_hash.to_string(), watch, seal);
    Ok((length, pieces))
}

/// The pieces of the body of [`with_checked_body`], read and hashed ahead
/// on a blocking thread while the connection sends the ones before.
fn checked_pieces(
    file: std::fs::File,
    expected: u64,
    content_hash: String,
    watch: &Watch,
    seal: Option<(Sealer, Vec<u8>)>,
) -> impl futures::Stream<Item = std::io::Result<Vec<u8>>> + Send + 'static {
    let (tx, rx) = tokio::sync::mpsc::channel(AHEAD);
    let changed = watch.changed.clone();
    // Under a limit, pieces no bigger than its bucket: each goes out at once.
    let piece = watch.lane.piece(PIECE);
    tokio::task::spawn_blocking(move || {
        read_checked(file, expected, &content_hash, piece, &changed, &tx, seal)
    });
    let sent = watch.sent.clone();
    let lane = watch.lane.clone();
    futures::stream::unfold(rx, move |mut rx| {
        let sent = sent.clone();
        let lane = lane.clone();
        async move {
            let piece = rx.recv().await?;
            if let Ok(piece) = &piece {
                lane.take(piece.len() as u64).await;
                sent.fetch_add(piece.len() as u64, Ordering::Relaxed);
            }
            Some((piece, rx))
        }
    })
}

/// Reads `file` piece by piece (`piece` bytes at most; straight into each
/// piece, no buffer between) into `tx`, sealing each with `seal`'s sealer
/// if given (its header, already taken, going first). A piece goes out
/// once the next one has been read; the last (for a sealed file, with the
/// last chunk) once the whole file matched, or an error instead. Stops
/// when the body is dropped.
fn read_checked(
    mut file: std::fs::File,
    expected: u64,
    content_hash: &str,
    piece_len: usize,
    changed: &AtomicBool,
    tx: &tokio::sync::mpsc::Sender<std::io::Result<Vec<u8>>>,
    seal: Option<(Sealer, Vec<u8>)>,
) {
    let mut hasher = blake3::Hasher::new();
    let mut read = 0u64;
    let (mut sealer, mut held) = match seal {
        Some((sealer, header)) => (Some(sealer), Some(header)),
        None => (None, None),
    };
    loop {
        // One byte past the expected size at most, so growth shows.
        let room = (expected + 1).saturating_sub(read).min(piece_len as u64);
        let mut piece = Vec::with_capacity(room as usize);
        if let Err(e) = (&mut file).take(room).read_to_end(&mut piece) {
            let _ = tx.blocking_send(Err(e));
            return;
        }
        hasher.update(&piece);
        read += piece.len() as u64;
        let ended = piece.is_empty();
        let wrong =
            ended && (read != expected || hasher.finalize().to_hex().as_str() != content_hash);
        if read > expected || wrong {
            changed.store(true, Ordering::Relaxed);
            let _ = tx.blocking_send(Err(std::io::Error::other(
                "the file changed while it was sent",
            )));
            return;
        }
        let piece = match (&mut sealer, ended) {
            (Some(sealer), false) => sealer.push(&piece),
            (Some(_), true) => sealer.take().map_or(Ok(Vec::new()), Sealer::finish),
            (None, _) => Ok(piece),
        };
        let piece = match piece {
            Ok(piece) => piece,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        let out = if ended {
            // The last piece read (or chunk sealed), with the file's end.
            let mut last = held.take().unwrap_or_default();
            last.extend(piece);
            Some(last)
        } else {
            held.replace(piece)
        };
        if let Some(out) = out
            && !out.is_empty()
            && tx.blocking_send(Ok(out)).is_err()
        {
            return;
        }
        if ended {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;

    /// Everything the body yields, or the error that ended it.
    async fn drain(data: &[u8], expected: &[u8]) -> (Result<Vec<u8>, String>, Watch) {
        let (got, watch, _) = drain_sealed(data, expected, None).await;
        (got, watch)
    }

    /// [`drain`] sealed to `keys` if given, with the length announced.
    async fn drain_sealed(
        data: &[u8],
        expected: &[u8],
        keys: Option<&Keys>,
    ) -> (Result<Vec<u8>, String>, Watch, u64) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, data).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let watch = Watch::default();
        let hash = blake3::hash(expected).to_hex().to_string();
        let body = checked_body(file, expected.len() as u64, &hash, &watch, keys);
        let (length, stream) = body.unwrap();
        futures::pin_mut!(stream);
        let mut got = Vec::new();
        loop {
            match stream.try_next().await {
                Ok(Some(bytes)) => got.extend_from_slice(&bytes),
                Ok(None) => return (Ok(got), watch, length),
                Err(e) => return (Err(e.to_string()), watch, length),
            }
        }
    }

    #[tokio::test]
    async fn a_sealed_body_is_as_long_as_announced_and_opens_to_the_file() {
        let keys = Keys::generate();
        for len in [0, 1, 65_536, PIECE + 1, 3 * PIECE + 7] {
            let data: Vec<u8> = (0..len).map(|i| (i % 249) as u8).collect();
            let (got, watch, length) = drain_sealed(&data, &data, Some(&keys)).await;
            let got = got.unwrap();
            assert_eq!(got.len() as u64, length, "{len}");
            assert_eq!(watch.sent.load(Ordering::Relaxed), length);
            assert!(
                crate::crypto::open_bytes(&keys, &got).unwrap() == data,
                "{len}"
            );
        }
        // A changed file: the body fails, short of its length.
        let data = vec![7u8; 2 * PIECE];
        let mut other = data.clone();
        other[PIECE] = 8;
        let (got, watch, length) = drain_sealed(&other, &data, Some(&keys)).await;
        assert!(got.is_err() && watch.changed.load(Ordering::Relaxed));
        assert!(watch.sent.load(Ordering::Relaxed) < length);
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
