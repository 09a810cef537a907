//! The temporary file of an upload that OpenDAL writes (to SFTP, and to a
//! local folder when the upload comes from another provider's copy). On
//! SFTP an earlier attempt's temporary file is resumed: read back and
//! compared with the source from its first byte, it is kept as far as it
//! matches (those bytes hashed as if sent, so the final hash still covers
//! every byte) and written on from there through Breakdex's own SFTP
//! session (`providers/sftp_direct.rs`), since OpenDAL's writer only starts
//! files over. An attempt cut off (a lost connection, a server gone, a
//! pause) keeps the file for the next; any other failure removes it. On a
//! provider that encrypts, the bytes are sealed (age) as they go; on SFTP
//! such a file is resumed too: read back through age, its whole chunks
//! kept as far as their plaintext matches the source, and sealed on from
//! there (`crypto::resume`).

use std::path::Path;

use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::executor::{DISCARD_WAIT, Job, source_failure};
use crate::bandwidth::Direction;
use crate::crypto::Sealer;
use crate::crypto::resume::{self, Kept, Reading};
use crate::providers::sftp_direct::Resumed;
use crate::providers::{Failure, FailureKind};
use crate::store::CopyChange;

/// Where an upload's bytes go.
pub(super) enum TempWriter {
    Dal(opendal::Writer),
    Resumed(Resumed),
    Sealed(opendal::Writer, Sealer),
    /// An encrypted upload written on after what an earlier one kept.
    SealedResumed(Resumed, Sealer),
}

impl TempWriter {
    /// Opens the temporary file at `key` for the upload of `source` (at
    /// `path`, `expected` bytes), resuming what an earlier attempt left of
    /// it on SFTP: `sent` and `hasher` then count the bytes kept, and
    /// `source` is read on from there.
    pub(super) async fn open(
        job: &Job,
        key: &str,
        source: &mut tokio::fs::File,
        path: &Path,
        expected: u64,
        hasher: &mut blake3::Hasher,
        sent: &mut u64,
    ) -> Result<TempWriter, Failure> {
        let most = job
            .lane(&job.provider, Direction::Up)
            .piece(super::executor::CHUNK);
        if let Some(keys) = job.provider.keys() {
            if let Some(direct) = job.provider.sftp()
                && let Some(kept) = kept_sealed(job, key, source, path, expected, hasher).await?
            {
                match direct.write_on(key, kept.sealed_len).await {
                    Ok(resumed) => {
                        tracing::info!(
                            "resuming the encrypted upload of {} to provider '{}' at {} of \
                             {expected} bytes",
                            path.display(),
                            job.provider.name,
                            kept.plain_len()
                        );
                        *sent = kept.plain_len();
                        return Ok(TempWriter::SealedResumed(resumed, Sealer::continued(&kept)));
                    }
                    Err(f) => {
                        tracing::info!("{}: starting it over", f.message);
                        hasher.reset();
                        (source.rewind().await).map_err(|e| source_failure(path, &e))?;
                    }
                }
            }
            let writer = (job.provider.operator().writer_with(key).chunk(most).await)
                .map_err(|e| job.provider.failure("writing", &e))?;
            let sealer = Sealer::new(keys).map_err(|e| Failure::permanent(e.to_string()))?;
            return Ok(TempWriter::Sealed(writer, sealer));
        }
        if let Some(direct) = job.provider.sftp() {
            let kept = kept_prefix(job, key, source, path, expected, hasher).await?;
            if kept > 0 {
                match direct.write_on(key, kept).await {
                    Ok(resumed) => {
                        tracing::info!(
                            "resuming the upload of {} to provider '{}' at {kept} of {expected} bytes",
                            path.display(),
                            job.provider.name
                        );
                        *sent = kept;
                        return Ok(TempWriter::Resumed(resumed));
                    }
                    Err(f) => {
                        tracing::info!("{}: starting it over", f.message);
                        hasher.reset();
                        (source.rewind().await).map_err(|e| source_failure(path, &e))?;
                    }
                }
            }
        }
        let writer = (job.provider.operator().writer_with(key).chunk(most).await)
            .map_err(|e| job.provider.failure("writing", &e))?;
        Ok(TempWriter::Dal(writer))
    }

    pub(super) async fn write(&mut self, job: &Job, chunk: Vec<u8>) -> Result<(), Failure> {
        match self {
            TempWriter::Dal(w) => {
                (w.write(chunk).await).map_err(|e| job.provider.failure("writing", &e))
            }
            TempWriter::Resumed(r) => r.write(&chunk).await,
            TempWriter::Sealed(w, sealer) => {
                let sealed =
                    (sealer.push(&chunk)).map_err(|e| Failure::permanent(e.to_string()))?;
                if sealed.is_empty() {
                    return Ok(());
                }
                (w.write(sealed).await).map_err(|e| job.provider.failure("writing", &e))
            }
            TempWriter::SealedResumed(r, sealer) => {
                let sealed =
                    (sealer.push(&chunk)).map_err(|e| Failure::permanent(e.to_string()))?;
                r.write(&sealed).await
            }
        }
    }

    /// Waits until every byte written is on the provider.
    pub(super) async fn close(self, job: &Job) -> Result<(), Failure> {
        match self {
            TempWriter::Dal(mut w) => (w.close().await)
                .map(drop)
                .map_err(|e| job.provider.failure("writing", &e)),
            TempWriter::Resumed(r) => r.close().await,
            TempWriter::Sealed(mut w, sealer) => {
                let last = sealer
                    .finish()
                    .map_err(|e| Failure::permanent(e.to_string()))?;
                (w.write(last).await).map_err(|e| job.provider.failure("writing", &e))?;
                (w.close().await)
                    .map(drop)
                    .map_err(|e| job.provider.failure("writing", &e))
            }
            TempWriter::SealedResumed(mut r, sealer) => {
                let last = sealer
                    .finish()
                    .map_err(|e| Failure::permanent(e.to_string()))?;
                r.write(&last).await?;
                r.close().await
            }
        }
    }

    /// Ends an upload that failed with `failure` (see [`after_failure`]).
    pub(super) async fn give_up(
        self,
        job: &Job,
        key: &str,
        renames: bool,
        failure: Failure,
    ) -> (Option<CopyChange>, Failure) {
        if let TempWriter::Dal(mut w) | TempWriter::Sealed(mut w, _) = self {
            let _ = w.abort().await;
        }
        after_failure(job, key, renames, &failure).await;
        (None, failure)
    }
}

/// After an upload failed with `failure`: its temporary file is kept for
/// the next attempt when this one was cut off on SFTP, removed otherwise.
pub(super) async fn after_failure(job: &Job, key: &str, renames: bool, failure: &Failure) {
    let cut_off = matches!(failure.kind, FailureKind::Transient | FailureKind::Offline);
    if !(cut_off && job.provider.sftp().is_some()) {
        discard(job, key, renames).await;
    }
}

/// Removes the temporary object of an upload that failed (where uploads
/// land under a temporary name): it is not resumed, and would hold the
/// provider's space (a full disk stays full).
pub(super) async fn discard(job: &Job, temp: &str, renames: bool) {
    if renames {
        // A server that stopped answering does not hold up the failure's
        // report: an engine's start removes what is left (`sweep_temps`).
        let delete = job.provider.operator().delete(temp);
        let _ = tokio::time::timeout(DISCARD_WAIT, delete).await;
    }
}

/// How many bytes of the temporary file at `key` are the source's first
/// ones, read back and compared (fed to `hasher`); `source` is left there.
/// None when the file is not there or cannot be read.
async fn kept_prefix(
    job: &Job,
    key: &str,
    source: &mut tokio::fs::File,
    path: &Path,
    expected: u64,
    hasher: &mut blake3::Hasher,
) -> Result<u64, Failure> {
    let op = job.provider.operator();
    let Ok(meta) = op.stat(key).await else {
        return Ok(0);
    };
    let have = meta.content_length().min(expected);
    if have == 0 {
        return Ok(0);
    }
    let lane = job.lane(&job.provider, Direction::Down);
    let most = lane.piece(super::executor::CHUNK) as u64;
    let Ok(reader) = op.reader(key).await else {
        return Ok(0);
    };
    let mut ours = vec![0; most as usize];
    let mut kept = 0;
    while kept < have {
        let want = (have - kept).min(most);
        lane.take(want).await;
        let Ok(theirs) = reader.read(kept..kept + want).await else {
            break;
        };
        let theirs = theirs.to_bytes();
        let ours = &mut ours[..want as usize];
        match source.read_exact(ours).await {
            Ok(_) => {}
            // Shorter than what was written: the final check says so.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(source_failure(path, &e)),
        }
        let same = (ours.iter().zip(theirs.iter()))
            .take_while(|(a, b)| a == b)
            .count();
        hasher.update(&ours[..same]);
        kept += same as u64;
        if same < want as usize {
            break;
        }
    }
    (source.seek(std::io::SeekFrom::Start(kept)).await).map_err(|e| source_failure(path, &e))?;
    Ok(kept)
}

/// What of the sealed temporary file at `key` can be written on (see
/// `crypto::resume`): its whole age chunks, read back and opened, as far as
/// their plaintext is the source's first bytes (fed to `hasher`); `source`
/// is left after them. None (the source and `hasher` as they were) when
/// nothing can be kept.
async fn kept_sealed(
    job: &Job,
    key: &str,
    source: &mut tokio::fs::File,
    path: &Path,
    expected: u64,
    hasher: &mut blake3::Hasher,
) -> Result<Option<Kept>, Failure> {
    let Some(keys) = job.provider.keys() else {
        return Ok(None);
    };
    let op = job.provider.operator();
    let Ok(meta) = op.stat(key).await else {
        return Ok(None);
    };
    let have = meta.content_length();
    let Ok(reader) = op.reader(key).await else {
        return Ok(None);
    };
    let head_len = have.min(resume::HEADER_MOST as u64);
    let (Ok(head), Ok(input)) = (
        reader.read(0..head_len).await,
        reader.clone().into_futures_async_read(0..have).await,
    ) else {
        return Ok(None);
    };
    let lane = job.lane(&job.provider, Direction::Down);
    let most = expected.saturating_sub(1) / resume::CHUNK as u64;
    let input = futures::io::BufReader::new(input);
    let Some(mut reading) = Reading::open(keys, &head.to_bytes(), input).await else {
        return Ok(None);
    };
    let mut ours = vec![0; resume::CHUNK];
    let mut chunks = 0;
    while chunks < most {
        let Some(theirs) = reading.next_chunk().await else {
            break;
        };
        lane.take(theirs.len() as u64).await;
        match source.read_exact(&mut ours).await {
            Ok(_) if ours[..] == *theirs => hasher.update(theirs),
            Ok(_) => break,
            // Shorter than what was written: the final check says so.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(source_failure(path, &e)),
        };
        chunks += 1;
    }
    let kept = reading.kept(chunks);
    let at = match &kept {
        Some(kept) => kept.plain_len(),
        None => {
            hasher.reset();
            0
        }
    };
    (source.seek(std::io::SeekFrom::Start(at)).await).map_err(|e| source_failure(path, &e))?;
    Ok(kept)
}
