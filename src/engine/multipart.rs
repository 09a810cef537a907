//! An upload to S3 in parts that resumes. The upload's id and each part the
//! server took (number, size, ETag, and the BLAKE3 of its bytes) are kept
//! in the library as they happen (`store/kept_uploads.rs`, written by the
//! engine thread from [`UploadBook`] notes), so that the op's next attempt,
//! after a crash, a kill, a pause or a lost connection, lists the parts the
//! server has, keeps those that match what was kept, and sends only the
//! rest. The source is read again from its first byte either way: a kept
//! part's bytes must hash as they did when it was sent (a source edited
//! since aborts the upload on the server and fails the op as "source
//! changed"), and the content hash checked before the upload is completed
//! still covers every byte.

use std::collections::HashMap;
use std::path::Path;
use std::sync::mpsc;

use tokio::io::AsyncReadExt;

use super::Msg;
use super::executor::{
    CHUNK, DISCARD_WAIT, Job, OpResult, Progress, fail, source_changed, source_failure,
};
use crate::bandwidth::Direction;
use crate::crypto::resume::Kept;
use crate::crypto::{Keys, Sealer};
use crate::providers::multipart::{ListedPart, Multipart};
use crate::providers::{Failure, FailureKind, s3};
use crate::store::{CopyChange, KeptChange, KeptPart, KeptUpload};

/// S3's most parts in one upload.
const MOST_PARTS: u64 = 10_000;

/// Where an upload's notes of what the server took go: the engine thread,
/// which keeps them in the library. Notes of a job run outside an engine
/// (tests) go nowhere.
#[derive(Clone, Default)]
pub struct UploadBook(Option<mpsc::Sender<Msg>>);

impl UploadBook {
    pub(super) fn to(tx: mpsc::Sender<Msg>) -> UploadBook {
        UploadBook(Some(tx))
    }

    fn note(&self, change: KeptChange) {
        if let Some(tx) = &self.0 {
            let _ = tx.send(Msg::Kept(change));
        }
    }
}

/// The size of every part but the last of a file of `size` bytes:
/// [`s3::PART`], or more (whole MiB) for a file that would otherwise need
/// more parts than S3 takes.
fn part_size(size: u64) -> u64 {
    let least = size.div_ceil(MOST_PARTS).next_multiple_of(1 << 20);
    (s3::PART as u64).max(least)
}

/// Uploads `file` (`expected` bytes of the op's content, at `path`) to the
/// object's key in parts, going on with the upload the op's last attempt
/// kept (`job.kept`) where the server still has it.
pub(super) async fn upload<F: FnMut(i64, i64)>(
    job: &Job,
    signer: &s3::Signer,
    mut file: tokio::fs::File,
    path: &Path,
    expected: u64,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let key = job.provider.content_key(&job.op.content_hash);
    let mp = Multipart::of(&job.provider, signer, &key)
        .await
        .map_err(fail)?;
    let part_bytes = part_size(expected);
    let resumed = resumable(job, &mp, &key, part_bytes, expected)
        .await
        .map_err(fail)?;
    // The upload's leftovers an earlier attempt could not abort go first.
    mp.abort_unfinished(resumed.as_ref().map(|(id, _, _)| id.as_str()))
        .await;
    let (upload_id, kept, sealing) = match resumed {
        Some((upload_id, kept, header)) => {
            // (`resumable` went on only with a header that opens.)
            let sealing = match job.provider.keys() {
                None => None,
                Some(keys) => Some(
                    (header.and_then(|h| Sealing::resumed(keys, h)))
                        .ok_or_else(|| fail(Failure::permanent("the kept age header is lost")))?,
                ),
            };
            (upload_id, kept, sealing)
        }
        None => {
            let sealing = (job.provider.keys().map(Sealing::new).transpose()).map_err(fail)?;
            let upload_id = mp.create().await.map_err(fail)?;
            job.book.note(KeptChange::Began(KeptUpload {
                op_id: job.op.id.clone(),
                provider_id: job.provider.id.clone(),
                remote_key: key.clone(),
                upload_id: upload_id.clone(),
                part_bytes,
                source_bytes: expected,
                parts: Vec::new(),
                sealed_header: sealing.as_ref().map(|s| s.header.clone()),
            }));
            (upload_id, HashMap::new(), sealing)
        }
    };
    let mut parts = Parts {
        job,
        mp: &mp,
        upload_id: &upload_id,
        kept,
        done: Vec::new(),
        sealing,
    };
    let sent_all = parts
        .send_all(&mut file, path, part_bytes, expected, progress, sent)
        .await;
    let completed = match sent_all {
        Ok(done) => mp.complete(&upload_id, &done).await,
        Err(f) => Err(f),
    };
    if let Err(f) = completed {
        // An attempt cut off keeps its upload for the next; after any other
        // failure its parts would only hold (and bill) the bucket's space.
        if !matches!(f.kind, FailureKind::Transient | FailureKind::Offline) {
            let _ = tokio::time::timeout(DISCARD_WAIT, mp.abort(&upload_id)).await;
            job.book.note(KeptChange::Forget {
                op_id: job.op.id.clone(),
            });
        }
        return Err(fail(f));
    }
    job.book.note(KeptChange::Forget {
        op_id: job.op.id.clone(),
    });
    // And again once it is up: the server may have come back between the
    // first clean-up and this upload, so a leftover of an attempt it had
    // cut off could still be there; nothing would upload this key again.
    mp.abort_unfinished(None).await;
    Ok(Some(CopyChange::Stored { remote_key: key }))
}

/// How an encrypted upload's parts are sealed: the age header (and nonce)
/// its first part begins with, kept in the library so that a later attempt
/// seals the parts the server lacks as this one would have, and the sealer
/// of the plaintext from its first byte (it goes through the parts the
/// server has too, their bodies dropped, to be at the next one).
struct Sealing {
    header: Vec<u8>,
    sealer: Option<Sealer>,
}

impl Sealing {
    fn new(keys: &Keys) -> Result<Sealing, Failure> {
        let mut sealer = Sealer::new(keys).map_err(|e| Failure::permanent(e.to_string()))?;
        Ok(Sealing {
            header: sealer.take(),
            sealer: Some(sealer),
        })
    }

    /// With the header a first attempt kept; None if it is not one.
    fn resumed(keys: &Keys, header: Vec<u8>) -> Option<Sealing> {
        let kept = Kept::header(keys, &header)?;
        Some(Sealing {
            header,
            sealer: Some(Sealer::continued(&kept)),
        })
    }

    /// The body of the part of `plain` bytes numbered `number`: the
    /// header before the first, the file's last chunk after the `last`.
    fn part(&mut self, plain: &[u8], number: u32, last: bool) -> Result<Vec<u8>, Failure> {
        let broken = |e: std::io::Error| Failure::permanent(format!("sealing: {e}"));
        let mut body = match number {
            1 => self.header.clone(),
            _ => Vec::new(),
        };
        let Some(sealer) = &mut self.sealer else {
            return Err(Failure::permanent("sealing: the last part was sealed"));
        };
        body.extend(sealer.push(plain).map_err(broken)?);
        if last && let Some(sealer) = self.sealer.take() {
            body.extend(sealer.finish().map_err(broken)?);
        }
        Ok(body)
    }
}

/// The upload the op's last attempt kept, with the parts of it the server
/// still has as they were kept (by number); `None` when there is none to go
/// on with (nothing kept, kept for another size, or gone from the server),
/// after aborting and forgetting what was kept. Fails only when the server
/// could not say.
async fn resumable(
    job: &Job,
    mp: &Multipart,
    key: &str,
    part_bytes: u64,
    expected: u64,
) -> Result<Option<Resumable>, Failure> {
    let Some(kept) = &job.kept else {
        return Ok(None);
    };
    // A sealed upload goes on with the age header it kept (the payload key
    // comes from it and the library's identity).
    let sealable = match job.provider.keys() {
        None => true,
        Some(keys) => {
            (kept.sealed_header.as_deref()).is_some_and(|h| Kept::header(keys, h).is_some())
        }
    };
    let fits = sealable
        && kept.remote_key == key
        && kept.provider_id == job.provider.id
        && kept.part_bytes == part_bytes
        && kept.source_bytes == expected;
    let listed = if fits {
        mp.list_parts(&kept.upload_id).await?
    } else {
        let _ = tokio::time::timeout(DISCARD_WAIT, mp.abort(&kept.upload_id)).await;
        None
    };
    let Some(listed) = listed else {
        job.book.note(KeptChange::Forget {
            op_id: job.op.id.clone(),
        });
        return Ok(None);
    };
    let on_server: HashMap<u32, &ListedPart> = listed.iter().map(|p| (p.part_number, p)).collect();
    let parts: HashMap<u32, KeptPart> = (kept.parts.iter())
        .filter(|p| {
            on_server.get(&p.number).is_some_and(|l| {
                l.size == p.size_bytes && l.etag.trim_matches('"') == p.etag.trim_matches('"')
            })
        })
        .map(|p| (p.number, p.clone()))
        .collect();
    tracing::info!(
        "resuming the upload of {} to provider '{}' with {} of its {} parts there",
        job.op.content_hash,
        job.provider.name,
        parts.len(),
        expected.div_ceil(part_bytes)
    );
    Ok(Some((
        kept.upload_id.clone(),
        parts,
        kept.sealed_header.clone(),
    )))
}

/// An upload to go on with: its id, the parts the server has as they were
/// kept (by number), and an encrypted one's age header.
type Resumable = (String, HashMap<u32, KeptPart>, Option<Vec<u8>>);

/// The parts of one upload as they are sent.
struct Parts<'a> {
    job: &'a Job,
    mp: &'a Multipart,
    upload_id: &'a str,
    /// The parts the server has as kept, by number: checked, not sent.
    kept: HashMap<u32, KeptPart>,
    /// The parts sent by this attempt, `(number, ETag)`.
    done: Vec<(u32, String)>,
    /// For a provider that encrypts.
    sealing: Option<Sealing>,
}

impl Parts<'_> {
    /// Reads the source from its start, cut in parts of `part_bytes`, and
    /// sends those the server does not have, a few at a time (each its own
    /// task, so they move while the next is read; dropping this future, as
    /// a pause does, stops them); the parts to complete the upload with,
    /// `(number, ETag)` in order, once every byte matched the content hash.
    async fn send_all<F: FnMut(i64, i64)>(
        &mut self,
        file: &mut tokio::fs::File,
        path: &Path,
        part_bytes: u64,
        expected: u64,
        progress: &mut Progress<F>,
        sent: &mut u64,
    ) -> Result<Vec<(u32, String)>, Failure> {
        let lane = self.job.lane(&self.job.provider, Direction::Up);
        let most = lane.piece(CHUNK);
        let mut hasher = blake3::Hasher::new();
        let mut flying = tokio::task::JoinSet::new();
        let count = expected.div_ceil(part_bytes) as u32;
        for number in 1..=count {
            let kept = self.kept.get(&number);
            let mut bytes = vec![0; part_bytes.min(expected - *sent) as usize];
            let (mut filled, len) = (0, bytes.len());
            while filled < len {
                let piece = &mut bytes[filled..(filled + most).min(len)];
                if kept.is_none() {
                    lane.take(piece.len() as u64).await;
                }
                let n = file
                    .read(piece)
                    .await
                    .map_err(|e| source_failure(path, &e))?;
                if n == 0 {
                    return Err(source_changed(path));
                }
                filled += n;
                *sent += n as u64;
                progress.update(*sent, expected);
            }
            hasher.update(&bytes);
            let blake3 = blake3::hash(&bytes).to_hex().to_string();
            // (A sealed upload seals every part, those the server has too,
            // to go on from where they end.)
            let body = match &mut self.sealing {
                Some(sealing) => sealing.part(&bytes, number, number == count)?,
                None => bytes,
            };
            match kept {
                // Its plaintext's hash says it is the same (and so is its
                // body: sealing is deterministic once the key is set).
                Some(k) if k.blake3 == blake3 => {}
                Some(_) => return Err(source_changed(path)),
                None => {
                    let bytes = body;
                    while flying.len() >= s3::PARTS_IN_FLIGHT {
                        self.took(flying.join_next().await)?;
                    }
                    let (mp, upload_id) = (self.mp.clone(), self.upload_id.to_string());
                    flying.spawn(async move {
                        let size_bytes = bytes.len() as u64;
                        let etag = mp.upload_part(&upload_id, number, bytes).await?;
                        Ok(KeptPart {
                            number,
                            size_bytes,
                            etag,
                            blake3,
                        })
                    });
                }
            }
        }
        // Nothing more: a source that grew since is not what was added.
        let grew = file
            .read(&mut [0; 1])
            .await
            .map_err(|e| source_failure(path, &e))?;
        if grew > 0 || hasher.finalize().to_hex().as_str() != self.job.op.content_hash {
            return Err(source_changed(path));
        }
        while let Some(part) = flying.join_next().await {
            self.took(Some(part))?;
        }
        let mut all: Vec<(u32, String)> = (self.kept.values())
            .map(|k| (k.number, k.etag.clone()))
            .chain(self.done.drain(..))
            .collect();
        all.sort_by_key(|(n, _)| *n);
        Ok(all)
    }

    /// Takes a part's end: kept in the library once the server took it.
    fn took(
        &mut self,
        sent: Option<Result<Result<KeptPart, Failure>, tokio::task::JoinError>>,
    ) -> Result<(), Failure> {
        let part = match sent {
            None => return Ok(()),
            Some(Ok(part)) => part?,
            Some(Err(e)) => {
                tracing::error!("an upload's part stopped: {e}");
                return Err(Failure::transient(
                    "an upload's part stopped on an internal error",
                ));
            }
        };
        self.done.push((part.number, part.etag.clone()));
        self.job.book.note(KeptChange::Part {
            op_id: self.job.op.id.clone(),
            part,
        });
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts are 8 MiB until a file would need more than S3's 10,000;
    /// then whole MiB, as few as fit.
    #[test]
    fn parts_fit_s3s_count() {
        assert_eq!(part_size(1 << 30), 8 << 20);
        assert_eq!(part_size(10_000 * (8 << 20)), 8 << 20);
        let huge = 100u64 << 30;
        let part = part_size(huge);
        assert_eq!(part % (1 << 20), 0);
        assert!(huge.div_ceil(part) <= MOST_PARTS);
        assert!(
            huge.div_ceil(part - (1 << 20)) > MOST_PARTS,
            "no bigger than it must"
        );
    }
}
