//! Runs one claimed op against its provider: upload, download, verify or
//! delete_remote. Every op is idempotent and reports what really happened.
//!
//! Uploads hash the local bytes while streaming them and land atomically
//! (temporary name, then rename, where the provider can rename). Downloads
//! are checked before they become visible and never leave the library folder.

use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::multipart::UploadBook;
use super::temp_writer::{TempWriter, after_failure, discard};
use crate::bandwidth::{Bandwidth, Direction, Lane};
use crate::crypto::CryptoError;
use crate::crypto::resume::{self, SealWriter};
use crate::providers::stream::Watch;
use crate::providers::{Failure, Provider, object_key, s3, temp_key};
use crate::store::{
    ClaimedOp, CopyChange, KeptUpload, ManifestEntry, OpType, RestoreTarget, VerifyStatus,
};

/// Bytes moved per read or write.
pub const CHUNK: usize = 4 << 20;
/// Bytes read at a time by an upload to a local provider: small enough that
/// they are still in the core's L2 cache when hashed and written (4 MiB reads
/// took about 1.5x the CPU time on large files).
pub(super) const LOCAL_READ: usize = 128 << 10;
/// How often a running op reports its progress.
const PROGRESS_EVERY: Duration = Duration::from_millis(200);

/// Everything one op needs to run.
pub struct Job {
    pub op: ClaimedOp,
    /// The asset's manifest row, if the library knows it.
    pub asset: Option<ManifestEntry>,
    pub provider: Provider,
    /// Where downloads go.
    pub library_dir: PathBuf,
    /// For a delete: why it must not happen (it would remove the last good copy).
    pub refuse_delete: Option<String>,
    /// For a download: the files a restore is to make of it (none: the
    /// download goes into the library folder).
    pub targets: Vec<RestoreTarget>,
    /// For a repair or a policy copy whose local bytes are gone: another
    /// provider holding a verified copy, to upload from instead.
    pub source: Option<Provider>,
    /// The bandwidth limits its bytes are under.
    pub bandwidth: Bandwidth,
    /// For an upload to S3 in parts: the upload its last attempt kept, to
    /// go on with (see [`super::multipart`]).
    pub kept: Option<KeptUpload>,
    /// Where that upload's progress is kept.
    pub book: UploadBook,
}

impl Job {
    /// The limits of this job's transfer with `provider` in `direction`.
    pub(super) fn lane(&self, provider: &Provider, direction: Direction) -> Lane {
        self.bandwidth.lane(&provider.id, direction)
    }

    /// What a streamed upload's body reports, under this job's upload limits.
    fn upload_watch(&self) -> Watch {
        Watch {
            lane: self.lane(&self.provider, Direction::Up),
            ..Watch::default()
        }
    }
}

/// How an op ended.
pub struct Outcome {
    pub bytes: i64,
    pub change: Option<CopyChange>,
    pub failure: Option<Failure>,
}

/// Receives progress reports, throttled to a few per second.
pub struct Progress<F: FnMut(i64, i64)> {
    report: F,
    last: Option<Instant>,
}

impl<F: FnMut(i64, i64)> Progress<F> {
    pub fn new(report: F) -> Self {
        Progress { report, last: None }
    }

    pub(super) fn update(&mut self, bytes: u64, total: u64) {
        if self.last.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
            self.last = Some(Instant::now());
            (self.report)(bytes as i64, total as i64);
        }
    }
}

/// Runs the job to its end; never panics on bad input.
pub async fn run<F: FnMut(i64, i64)>(job: Job, progress: &mut Progress<F>) -> Outcome {
    let mut bytes = 0u64;
    let result = match job.op.operation_type {
        OpType::Upload if job.source.is_some() => {
            upload_from_copy(&job, progress, &mut bytes).await
        }
        OpType::Upload => upload(&job, progress, &mut bytes).await,
        OpType::Download if !job.targets.is_empty() => {
            super::restore::download(&job, progress, &mut bytes).await
        }
        OpType::Download => download(&job, progress, &mut bytes).await,
        OpType::Verify => verify(&job, progress, &mut bytes).await,
        OpType::DeleteRemote => delete_remote(&job).await,
    };
    outcome(result, bytes)
}

/// Whether the job is an upload to a local folder, which the engine runs
/// start to end on one blocking thread with [`run_blocking`]: plain file
/// calls, and no hops between threads (a small file is stat'ed, opened,
/// copied, hashed, synced and renamed without a single one).
pub fn runs_blocking(job: &Job) -> bool {
    job.source.is_none()
        && runs_blocking_op(
            job.op.operation_type,
            !job.targets.is_empty(),
            &job.provider,
        )
}

/// Whether an op of this kind (a download with restore targets if
/// `restores`) on this provider runs on a blocking thread: an upload to a
/// local folder, or a restore from one.
pub fn runs_blocking_op(kind: OpType, restores: bool, provider: &Provider) -> bool {
    provider.local_root().is_some()
        && (kind == OpType::Upload || (kind == OpType::Download && restores))
}

/// Runs a job that [`runs_blocking`] on the calling thread. Once `cancelled`
/// is set it stops before its next chunk and never lands the copy.
pub fn run_blocking<F: FnMut(i64, i64)>(
    job: Job,
    cancelled: Arc<AtomicBool>,
    progress: &mut Progress<F>,
) -> Outcome {
    let mut moved = 0u64;
    let result = match job.op.operation_type {
        OpType::Upload => local_upload(&job, cancelled, progress, &mut moved),
        _ => super::restore::download_blocking(&job, &cancelled, progress, &mut moved),
    };
    outcome(result, moved)
}

fn outcome(result: OpResult, bytes: u64) -> Outcome {
    let (change, failure) = match result {
        Ok(change) => (change, None),
        Err((change, failure)) => (change, Some(failure)),
    };
    Outcome {
        bytes: bytes as i64,
        change,
        failure,
    }
}

/// A failure, and what it still changes about the copy (a verify that finds
/// a bad copy fails the op and records the finding).
pub(super) type OpResult = Result<Option<CopyChange>, (Option<CopyChange>, Failure)>;

pub(super) fn fail(f: Failure) -> (Option<CopyChange>, Failure) {
    (None, f)
}

fn asset_of(job: &Job) -> Result<&ManifestEntry, Failure> {
    job.asset.as_ref().ok_or_else(|| {
        Failure::permanent(format!(
            "asset {} is not in the library manifest",
            short(&job.op.content_hash)
        ))
    })
}

/// The first 12 digits of a hash, for messages.
pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The local file an upload sends, and its size as recorded.
fn upload_source(job: &Job) -> Result<(PathBuf, u64), (Option<CopyChange>, Failure)> {
    let asset = asset_of(job).map_err(fail)?;
    match asset.local_path.as_deref() {
        Some(path) => Ok((PathBuf::from(path), asset.size_bytes as u64)),
        None => Err(fail(Failure::permanent(format!(
            "source missing: the library has no local file for {}",
            asset.original_name
        )))),
    }
}

async fn upload<F: FnMut(i64, i64)>(
    job: &Job,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let (path, expected) = upload_source(job)?;
    upload_file(job, &path, expected, progress, sent).await
}

/// An upload from another provider's verified copy (`job.source`): it is
/// downloaded into the library folder's temporary folder, its hash checked,
/// uploaded, and removed whatever happens.
async fn upload_from_copy<F: FnMut(i64, i64)>(
    job: &Job,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let Some(source) = &job.source else {
        return upload(job, progress, sent).await;
    };
    let tmp_dir = job.library_dir.join(".breakdex-tmp");
    let library_failure = |e: std::io::Error| {
        fail(Failure::transient(format!(
            "cannot write into the library folder {}: {e}",
            job.library_dir.display()
        )))
    };
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(library_failure)?;
    let tmp = tmp_dir.join(format!("{}.source", job.op.id));
    let fetched = async {
        let file = tokio::fs::File::create(&tmp)
            .await
            .map_err(library_failure)?;
        let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
        let mut got = 0;
        let read = read_remote_from(source, job, progress, &mut got, &mut writer).await;
        match read {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(fail(Failure::permanent(format!(
                "the copy on provider '{}' to copy from is missing or corrupt too",
                source.name
            )))),
            Err(f) => Err(fail(f)),
        }
    };
    let result = match fetched.await {
        Ok(()) => {
            let size = job.op.total_bytes.max(0) as u64;
            upload_file(job, &tmp, size, progress, sent).await
        }
        Err(e) => Err(e),
    };
    let _ = tokio::fs::remove_file(&tmp).await;
    result
}

/// Uploads the file at `path`, which must hold `expected` bytes of the
/// op's content.
async fn upload_file<F: FnMut(i64, i64)>(
    job: &Job,
    path: &Path,
    expected: u64,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let path = path.to_path_buf();
    // Looked at before opening: opening a named pipe would block.
    let meta = tokio::fs::metadata(&path)
        .await
        .map_err(|e| fail(source_failure(&path, &e)))?;
    if !meta.is_file() {
        return Err(fail(Failure::permanent(format!(
            "source changed: {} is no longer a regular file",
            path.display()
        ))));
    }
    let mut file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| fail(source_failure(&path, &e)))?;
    job.provider.check_online().map_err(fail)?;
    let op = job.provider.operator();
    let key = job.provider.content_key(&job.op.content_hash);
    let can_rename = op.info().capability().rename;
    let write_to = if can_rename {
        temp_key(&job.op.id)
    } else {
        key.clone()
    };
    if let Some(dav) = job.provider.webdav() {
        return webdav_upload(job, dav, file, &path, expected, progress, sent).await;
    }
    if let Some(signer) = job.provider.s3_signer() {
        return if expected <= s3::SINGLE_PUT_MAX {
            s3_put(job, signer, file, &path, expected, progress, sent).await
        } else {
            super::multipart::upload(job, signer, file, &path, expected, progress, sent).await
        };
    }
    // Elsewhere (SFTP, a local folder an upload from another copy writes
    // to), under a limit, each piece goes out as it is let through.
    let lane = job.lane(&job.provider, Direction::Up);
    let most = lane.piece(CHUNK);
    let mut hasher = blake3::Hasher::new();
    let mut writer = TempWriter::open(
        job,
        &write_to,
        &mut file,
        &path,
        expected,
        &mut hasher,
        sent,
    )
    .await
    .map_err(fail)?;
    progress.update(*sent, expected);
    loop {
        let chunk = match read_chunk(&mut file, expected.saturating_sub(*sent), most).await {
            Ok(chunk) => chunk,
            Err(e) => {
                let failure = source_failure(&path, &e);
                return Err(writer.give_up(job, &write_to, can_rename, failure).await);
            }
        };
        if chunk.is_empty() {
            break;
        }
        hasher.update(&chunk);
        *sent += chunk.len() as u64;
        if *sent > expected {
            break;
        }
        lane.take(chunk.len() as u64).await;
        if let Err(f) = writer.write(job, chunk).await {
            return Err(writer.give_up(job, &write_to, can_rename, f).await);
        }
        progress.update(*sent, expected);
    }
    if *sent != expected || hasher.finalize().to_hex().as_str() != job.op.content_hash {
        let failure = source_changed(&path);
        return Err(writer.give_up(job, &write_to, can_rename, failure).await);
    }
    if let Err(f) = writer.close(job).await {
        after_failure(job, &write_to, can_rename, &f).await;
        return Err(fail(f));
    }
    if can_rename && let Err(e) = op.rename(&write_to, &key).await {
        discard(job, &write_to, can_rename).await;
        return Err(fail(job.provider.failure("renaming the upload", &e)));
    }
    Ok(Some(CopyChange::Stored { remote_key: key }))
}

/// Longest a failed upload waits for its temporary object's removal.
pub(super) const DISCARD_WAIT: Duration = Duration::from_secs(5);

/// The folder a key is in.
fn parent_key(key: &str) -> &str {
    key.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// The source of an upload is no longer the content that was added.
pub(super) fn source_changed(path: &Path) -> Failure {
    Failure::permanent(format!(
        "source changed: {} no longer matches what was added to the library",
        path.display()
    ))
}

/// An upload to a WebDAV provider: one streamed PUT to the temporary name,
/// then a MOVE into place.
async fn webdav_upload<F: FnMut(i64, i64)>(
    job: &Job,
    dav: &crate::providers::webdav::Direct,
    file: tokio::fs::File,
    path: &Path,
    expected: u64,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let tmp = temp_key(&job.op.id);
    let key = job.provider.content_key(&job.op.content_hash);
    dav.make_dir(parent_key(&tmp)).await.map_err(fail)?;
    let watch = job.upload_watch();
    let file = file.into_std().await;
    let put = dav.put_file(
        &tmp,
        file,
        expected,
        &job.op.content_hash,
        &watch,
        job.provider.keys(),
    );
    if let Err(e) = streamed(put, &watch, path, expected, progress, sent).await {
        // A PUT does not resume: whatever the server kept of it goes.
        discard(job, &tmp, true).await;
        return Err(e);
    }
    dav.make_dir(parent_key(&key)).await.map_err(fail)?;
    dav.move_to(&tmp, &key).await.map_err(fail)?;
    Ok(Some(CopyChange::Stored { remote_key: key }))
}

/// An upload to S3 of a file that fits one request: a streamed PUT straight
/// to the object's key (S3 cannot rename; the request fails before it is
/// complete if the source changed, so no object is stored).
async fn s3_put<F: FnMut(i64, i64)>(
    job: &Job,
    signer: &s3::Signer,
    file: tokio::fs::File,
    path: &Path,
    expected: u64,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let key = job.provider.content_key(&job.op.content_hash);
    let watch = job.upload_watch();
    let file = file.into_std().await;
    let put = s3::put_file(
        &job.provider,
        signer,
        &key,
        file,
        expected,
        &job.op.content_hash,
        &watch,
    );
    streamed(put, &watch, path, expected, progress, sent).await?;
    Ok(Some(CopyChange::Stored { remote_key: key }))
}

/// Drives a streamed PUT to its end, reporting its progress; a source that
/// changed on the way is said so.
async fn streamed<F: FnMut(i64, i64)>(
    put: impl std::future::Future<Output = Result<(), Failure>>,
    watch: &Watch,
    path: &Path,
    expected: u64,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> Result<(), (Option<CopyChange>, Failure)> {
    tokio::pin!(put);
    let mut tick = tokio::time::interval(PROGRESS_EVERY);
    let result = loop {
        tokio::select! {
            r = &mut put => break r,
            _ = tick.tick() => progress.update(watch.sent.load(Ordering::Relaxed), expected),
        }
    };
    *sent = watch.sent.load(Ordering::Relaxed);
    if watch.changed.load(Ordering::Relaxed) {
        return Err(fail(source_changed(path)));
    }
    result.map_err(fail)
}

/// An upload to a local provider's folder, done with plain file calls on a
/// blocking thread (see [`run_blocking`]). Same steps, order, layout and
/// messages as the OpenDAL path in [`upload`] (whose fs service writes
/// `root/<key>` with tokio::fs, a dozen blocking-pool hops per file).
struct LocalUpload {
    provider: crate::providers::Provider,
    source: PathBuf,
    /// `root/.breakdex-tmp/<op id>.part`, then `root/objects/ab/cd/<name>`.
    tmp: PathBuf,
    dest: PathBuf,
    content_hash: String,
    /// The object's name: the content hash, or its keyed name on a
    /// provider that encrypts.
    name: String,
    expected: u64,
    /// Open once the source was found regular and the temporary file made.
    files: Option<(std::fs::File, LocalOut)>,
    hasher: blake3::Hasher,
    buf: Vec<u8>,
    sent: u64,
    /// Set when the engine gives the op up: the upload stops before its
    /// next chunk and never renames into place.
    cancelled: Arc<AtomicBool>,
    /// The bandwidth limits it writes under, the read size they allow, and
    /// the bytes of a step (between progress reports): under a limit, about
    /// a second's worth.
    lane: Lane,
    read_size: usize,
    step: usize,
}

/// Where a local upload writes: its temporary file, or an age writer
/// sealing into it for a provider that encrypts (from its start, or on
/// what an earlier attempt kept).
enum LocalOut {
    Plain(std::fs::File),
    Sealed(SealWriter<std::fs::File>),
}

impl LocalOut {
    fn write_all(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            LocalOut::Plain(file) => file.write_all(bytes),
            LocalOut::Sealed(sealed) => sealed.write_all(bytes),
        }
    }

    /// The temporary file, all written (a sealed one's last chunk too).
    fn finish(self) -> std::io::Result<std::fs::File> {
        match self {
            LocalOut::Plain(file) => Ok(file),
            LocalOut::Sealed(sealed) => sealed.finish(),
        }
    }
}

/// Runs a local upload chunk by chunk, reporting progress between chunks.
fn local_upload<F: FnMut(i64, i64)>(
    job: &Job,
    cancelled: Arc<AtomicBool>,
    progress: &mut Progress<F>,
    sent: &mut u64,
) -> OpResult {
    let (source, expected) = upload_source(job)?;
    let Some(root) = job.provider.local_root() else {
        return Err(fail(Failure::permanent("not a local provider")));
    };
    let mut upload = LocalUpload::new(job, root, source, expected, cancelled);
    loop {
        let done = upload.step();
        *sent = upload.sent;
        if let Some(result) = done {
            // An upload stopped by its engine (a pause, a window closing)
            // keeps its temporary file, to resume from; after any other
            // failure it would only hold the space (a full disk stays full).
            // Gone already if it was never made or was renamed.
            if result.is_err() && !upload.cancelled.load(Ordering::Relaxed) {
                drop(upload.files.take());
                let _ = std::fs::remove_file(&upload.tmp);
            }
            return result;
        }
        progress.update(upload.sent, upload.expected);
    }
}

impl LocalUpload {
    fn new(
        job: &Job,
        root: &Path,
        source: PathBuf,
        expected: u64,
        cancelled: Arc<AtomicBool>,
    ) -> LocalUpload {
        let lane = job.lane(&job.provider, Direction::Up);
        LocalUpload {
            provider: job.provider.clone(),
            source,
            tmp: root.join(temp_key(&job.op.id)),
            dest: root.join(job.provider.content_key(&job.op.content_hash)),
            content_hash: job.op.content_hash.clone(),
            name: (job.provider.keys()).map_or_else(
                || job.op.content_hash.clone(),
                |k| k.object_name(&job.op.content_hash),
            ),
            expected,
            files: None,
            hasher: blake3::Hasher::new(),
            buf: Vec::new(),
            sent: 0,
            cancelled,
            read_size: lane.piece(LOCAL_READ),
            step: lane.piece(CHUNK / 10) * 10,
            lane,
        }
    }

    /// Does up to one chunk of work; `Some` once the upload ended.
    fn step(&mut self) -> Option<OpResult> {
        if self.files.is_none()
            && let Err(e) = self.open()
        {
            return Some(Err(e));
        }
        let Some((file, out)) = self.files.as_mut() else {
            return Some(Err(fail(Failure::transient("upload stopped"))));
        };
        let mut moved = 0;
        loop {
            if self.cancelled.load(Ordering::Relaxed) {
                return Some(Err(fail(Failure::transient("upload stopped"))));
            }
            // As `read_chunk`: one byte more than expected, so growth shows.
            let most = self.read_size;
            let want = (self.expected.saturating_sub(self.sent) as usize).clamp(1, most);
            let want = if want < most { want + 1 } else { want };
            if self.buf.len() < want {
                self.buf.resize(want, 0);
            }
            let n = match read_full(file, &mut self.buf[..want]) {
                Ok(n) => n,
                Err(e) => return Some(Err(fail(source_failure(&self.source, &e)))),
            };
            if n == 0 {
                break;
            }
            self.hasher.update(&self.buf[..n]);
            self.sent += n as u64;
            moved += n;
            if self.sent > self.expected {
                break;
            }
            self.lane.take_blocking(n as u64);
            if let Err(e) = out.write_all(&self.buf[..n]) {
                return Some(Err(fail(self.provider.io_failure("writing", &e))));
            }
            if n < want {
                // `read_full` stopped short: the file ended.
                break;
            }
            if moved >= self.step {
                return None;
            }
        }
        Some(self.finish())
    }

    /// Opens the source, looks at what it is, and makes the temporary file,
    /// or resumes the one an earlier attempt left (see [`LocalUpload::resume`]).
    fn open(&mut self) -> Result<(), (Option<CopyChange>, Failure)> {
        let path = self.source.clone();
        let path = &path;
        let mut file = open_regular_file(path).map_err(|e| fail(source_failure(path, &e)))?;
        if !file.metadata().is_ok_and(|m| m.is_file()) {
            return Err(fail(Failure::permanent(format!(
                "source changed: {} is no longer a regular file",
                path.display()
            ))));
        }
        // Opened as it is if it is there (no truncation): an earlier
        // attempt's bytes are resumed from, below. One call either way.
        let mut options = std::fs::OpenOptions::new();
        options.create(true).read(true).write(true);
        // The folder is almost always there already; when the first try
        // fails, the provider's folder is looked at (a missing one is an
        // unplugged drive: nothing is made in its place), then the steps
        // OpenDAL takes (make the folder, open) say why.
        let mut out = match options.open(&self.tmp) {
            Ok(out) => out,
            Err(_) => {
                self.provider.check_online().map_err(fail)?;
                in_folder(&self.tmp, || options.open(&self.tmp))
                    .map_err(|e| fail(self.provider.io_failure("writing", &e)))?
            }
        };
        if self.provider.keys().is_some() {
            let sealed = self.resume_sealed(&mut file, out).map_err(|e| {
                fail(
                    self.provider
                        .io_failure("writing", &std::io::Error::other(e)),
                )
            })?;
            self.files = Some((file, LocalOut::Sealed(sealed)));
            return Ok(());
        }
        if out.metadata().is_ok_and(|m| m.len() > 0)
            && let Err(e) = self.resume(&mut file, &mut out)
        {
            tracing::info!(
                "cannot resume {} ({e}): starting it over",
                self.tmp.display()
            );
            self.hasher.reset();
            self.sent = 0;
            file.rewind().map_err(|e| fail(source_failure(path, &e)))?;
            (out.set_len(0).and_then(|()| out.rewind()))
                .map_err(|e| fail(self.provider.io_failure("writing", &e)))?;
        }
        self.files = Some((file, LocalOut::Plain(out)));
        Ok(())
    }

    /// Keeps what an earlier attempt wrote to the temporary file `out` as
    /// far as it matches the source, read again from the start (so the
    /// final hash still covers every byte, and a source edited since is
    /// caught where it differs), and cuts the rest; both files are left at
    /// the end of what is kept, and `sent` says how far that is.
    fn resume(&mut self, file: &mut std::fs::File, out: &mut std::fs::File) -> std::io::Result<()> {
        let have = out.metadata()?.len().min(self.expected);
        let (mut ours, mut theirs) = (vec![0; LOCAL_READ], vec![0; LOCAL_READ]);
        let mut kept = 0u64;
        while kept < have {
            let want = (have - kept).min(LOCAL_READ as u64) as usize;
            let n = read_full(file, &mut ours[..want])?;
            let m = read_full(out, &mut theirs[..want])?;
            let same = (ours[..n.min(m)].iter().zip(&theirs[..n.min(m)]))
                .take_while(|(a, b)| a == b)
                .count();
            self.hasher.update(&ours[..same]);
            kept += same as u64;
            if same < want {
                break;
            }
        }
        out.set_len(kept)?;
        out.seek(std::io::SeekFrom::Start(kept))?;
        file.seek(std::io::SeekFrom::Start(kept))?;
        self.sent = kept;
        if kept > 0 {
            tracing::info!(
                "resuming the upload of {} at {kept} of {} bytes",
                self.source.display(),
                self.expected
            );
        }
        Ok(())
    }

    /// [`LocalUpload::resume`] for a provider that encrypts: keeps the whole
    /// age chunks an earlier attempt wrote to `out` whose plaintext matches
    /// the source, read again from the start (see `crypto::resume`), and
    /// goes on sealing after them; or, with nothing to keep, starts the
    /// file over.
    fn resume_sealed(
        &mut self,
        file: &mut std::fs::File,
        mut out: std::fs::File,
    ) -> Result<SealWriter<std::fs::File>, CryptoError> {
        let unsealed = || CryptoError::Io(std::io::Error::other("the provider does not encrypt"));
        if out.metadata()?.len() == 0 {
            let keys = self.provider.keys().ok_or_else(unsealed)?;
            return Ok(SealWriter::Fresh(crate::crypto::seal(keys, out)?));
        }
        // (Its own handle on the keys, beside `self` written to.)
        let provider = self.provider.clone();
        let keys = provider.keys().ok_or_else(unsealed)?;
        let most = self.expected.saturating_sub(1) / resume::CHUNK as u64;
        let mut ours = vec![0; resume::CHUNK];
        let hasher = &mut self.hasher;
        let kept = resume::keep(keys, &mut out, most, |theirs| {
            let same =
                read_full(file, &mut ours).is_ok_and(|n| n == theirs.len()) && ours[..] == *theirs;
            if same {
                hasher.update(theirs);
            }
            same
        });
        let kept = kept.unwrap_or_else(|e| {
            tracing::info!("cannot resume {} ({e})", self.tmp.display());
            None
        });
        let Some(kept) = kept else {
            self.hasher.reset();
            self.sent = 0;
            file.rewind()?;
            out.set_len(0)?;
            out.rewind()?;
            return Ok(SealWriter::Fresh(crate::crypto::seal(keys, out)?));
        };
        out.set_len(kept.sealed_len)?;
        out.seek(std::io::SeekFrom::Start(kept.sealed_len))?;
        file.seek(std::io::SeekFrom::Start(kept.plain_len()))?;
        self.sent = kept.plain_len();
        tracing::info!(
            "resuming the encrypted upload of {} at {} of {} bytes",
            self.source.display(),
            self.sent,
            self.expected
        );
        Ok(SealWriter::Continued(kept.writer(out)))
    }

    /// Checks what was read against the content hash, then lands the copy.
    fn finish(&mut self) -> OpResult {
        let Some((_, out)) = self.files.take() else {
            return Err(fail(Failure::transient("upload stopped")));
        };
        if self.sent != self.expected
            || self.hasher.finalize().to_hex().as_str() != self.content_hash
        {
            return Err(fail(source_changed(&self.source)));
        }
        // Closed before the rename.
        (out.finish().and_then(|file| file.sync_all()))
            .map_err(|e| fail(self.provider.io_failure("writing", &e)))?;
        if self.cancelled.load(Ordering::Relaxed) {
            return Err(fail(Failure::transient("upload stopped")));
        }
        let folders = self.provider.object_folders();
        let renamed = if folders.known(&self.name) {
            std::fs::rename(&self.tmp, &self.dest)
                .or_else(|_| in_folder(&self.dest, || std::fs::rename(&self.tmp, &self.dest)))
        } else {
            in_folder(&self.dest, || std::fs::rename(&self.tmp, &self.dest))
        };
        renamed.map_err(|e| fail(self.provider.io_failure("renaming the upload", &e)))?;
        folders.remember(&self.name);
        Ok(Some(CopyChange::Stored {
            remote_key: object_key(&self.name),
        }))
    }
}

/// Opens a file to read without blocking if it is a named pipe (which the
/// caller then refuses, having looked at the open file): one path lookup
/// instead of two for the look and the open.
fn open_regular_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(&mut options, libc::O_NONBLOCK);
    options.open(path)
}

/// Makes the folder `path` goes in (as OpenDAL's fs service does before each
/// write or rename), then runs `then`.
fn in_folder<T>(path: &Path, then: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    then()
}

/// Reads until `buf` is full or the file ends; returns how many bytes came.
pub(super) fn read_full(file: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Reads up to `most` bytes (at least one more than `expect_more` allows, so
/// a file that grew is noticed); empty at the end of the file.
async fn read_chunk(
    file: &mut tokio::fs::File,
    expect_more: u64,
    most: usize,
) -> std::io::Result<Vec<u8>> {
    let want = (expect_more as usize).clamp(1, most);
    let want = if want < most { want + 1 } else { want };
    let mut buf = Vec::with_capacity(want);
    (&mut *file).take(want as u64).read_to_end(&mut buf).await?;
    Ok(buf)
}

/// Why a local source file cannot be read.
pub(super) fn source_failure(path: &Path, e: &std::io::Error) -> Failure {
    match e.kind() {
        std::io::ErrorKind::NotFound => {
            Failure::permanent(format!("source missing: {} is gone", path.display()))
        }
        std::io::ErrorKind::PermissionDenied => {
            Failure::permanent(format!("cannot read {}: permission denied", path.display()))
        }
        _ => Failure::transient(format!("cannot read {}: {e}", path.display())),
    }
}

/// Reads the op's copy on its provider into `sink`, checking it is the
/// content (decrypting it on a provider that encrypts); a copy missing or
/// corrupt is reported as the op's bad copy ([`bad_copy`]).
pub(super) async fn read_remote<F: FnMut(i64, i64)>(
    job: &Job,
    progress: &mut Progress<F>,
    got: &mut u64,
    sink: impl AsyncWriteExt + Unpin,
) -> Result<(), (Option<CopyChange>, Failure)> {
    match read_remote_from(&job.provider, job, progress, got, sink).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(bad)) => Err(bad_copy(job, bad)),
        Err(f) => Err(fail(f)),
    }
}

/// What reading a copy found when it is not the content, and why.
pub(super) struct BadCopy {
    status: VerifyStatus,
    why: String,
}

impl BadCopy {
    pub(super) fn missing() -> BadCopy {
        BadCopy {
            status: VerifyStatus::Missing,
            why: "missing".into(),
        }
    }

    /// Its bytes read, but they are not the content.
    pub(super) fn mismatch() -> BadCopy {
        BadCopy::corrupt("its bytes do not match the content hash")
    }

    pub(super) fn corrupt(why: impl std::fmt::Display) -> BadCopy {
        BadCopy {
            status: VerifyStatus::Corrupt,
            why: format!("corrupt ({why})"),
        }
    }
}

/// [`read_remote`] from the copy on `provider`: the content's bytes into
/// `sink`, checked against its hash.
async fn read_remote_from<F: FnMut(i64, i64)>(
    provider: &Provider,
    job: &Job,
    progress: &mut Progress<F>,
    got: &mut u64,
    mut sink: impl AsyncWriteExt + Unpin,
) -> Result<Result<(), BadCopy>, Failure> {
    provider.check_online()?;
    let op = provider.operator();
    let key = provider.content_key(&job.op.content_hash);
    let total = job.op.total_bytes.max(0) as u64;
    let lane = job.lane(provider, Direction::Down);
    // Most kinds say a missing object when it is first read, not opened.
    let unread = |e: opendal::Error| match e.kind() {
        opendal::ErrorKind::NotFound => Ok(Err(BadCopy::missing())),
        _ => Err(provider.failure("reading", &e)),
    };
    let reader = match op.reader_with(&key).chunk(lane.piece(CHUNK)).await {
        Ok(r) => r,
        Err(e) => return unread(e),
    };
    let mut hasher = blake3::Hasher::new();
    let mut take = async |bytes: &[u8]| {
        lane.take(bytes.len() as u64).await;
        hasher.update(bytes);
        sink.write_all(bytes).await.map_err(|e| {
            Failure::transient(format!("cannot write into the library folder: {e}"))
        })?;
        *got += bytes.len() as u64;
        progress.update(*got, total);
        Ok::<(), Failure>(())
    };
    if let Some(keys) = provider.keys() {
        let input = match reader.into_futures_async_read(..).await {
            Ok(input) => input,
            Err(e) => return unread(e),
        };
        let mut plain =
            match crate::crypto::open_async(keys, futures::io::BufReader::new(input)).await {
                Ok(plain) => plain,
                Err(e) => return sealed_failure(provider, e),
            };
        let mut buf = vec![0; CHUNK];
        loop {
            match futures::AsyncReadExt::read(&mut plain, &mut buf).await {
                Ok(0) => break,
                Ok(n) => take(&buf[..n]).await?,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return sealed_failure(provider, CryptoError::of_read(e)),
            }
        }
    } else {
        let mut stream = match reader.into_stream(..).await {
            Ok(stream) => stream,
            Err(e) => return unread(e),
        };
        loop {
            match stream.try_next().await {
                Ok(Some(buffer)) => {
                    for bytes in buffer {
                        take(&bytes).await?;
                    }
                }
                Ok(None) => break,
                Err(e) => return unread(e),
            }
        }
    }
    sink.flush()
        .await
        .map_err(|e| Failure::transient(format!("cannot write into the library folder: {e}")))?;
    if hasher.finalize().to_hex().as_str() != job.op.content_hash {
        return Ok(Err(BadCopy::mismatch()));
    }
    Ok(Ok(()))
}

/// What an age object that does not open means: a corrupt copy, or a
/// read that failed on the way.
fn sealed_failure(provider: &Provider, e: CryptoError) -> Result<Result<(), BadCopy>, Failure> {
    match e {
        CryptoError::Io(e) if e.kind() == std::io::ErrorKind::NotFound => {
            Ok(Err(BadCopy::missing()))
        }
        CryptoError::Io(e) => Err(provider.io_failure("reading", &e)),
        e => Ok(Err(BadCopy::corrupt(e))),
    }
}

/// What a bad copy found by reading it means for the op.
pub(super) fn bad_copy(job: &Job, bad: BadCopy) -> (Option<CopyChange>, Failure) {
    (
        Some(CopyChange::Checked {
            remote_key: job.provider.content_key(&job.op.content_hash),
            status: bad.status,
        }),
        Failure::permanent(format!(
            "the copy of {} on provider '{}' is {}",
            job.asset
                .as_ref()
                .map(|a| a.original_name.as_str())
                .unwrap_or(short(&job.op.content_hash)),
            job.provider.name,
            bad.why
        )),
    )
}

async fn verify<F: FnMut(i64, i64)>(
    job: &Job,
    progress: &mut Progress<F>,
    got: &mut u64,
) -> OpResult {
    read_remote(job, progress, got, tokio::io::sink()).await?;
    Ok(Some(CopyChange::Checked {
        remote_key: job.provider.content_key(&job.op.content_hash),
        status: VerifyStatus::Ok,
    }))
}

async fn download<F: FnMut(i64, i64)>(
    job: &Job,
    progress: &mut Progress<F>,
    got: &mut u64,
) -> OpResult {
    let asset = asset_of(job).map_err(fail)?;
    let hash = &job.op.content_hash;
    // Already here with the right bytes: nothing to do.
    if let Some(local) = asset.local_path.as_deref().map(Path::new)
        && hash_file(local).await.is_ok_and(|h| &h == hash)
    {
        return Ok(None);
    }
    let dir = &job.library_dir;
    let tmp_dir = dir.join(".breakdex-tmp");
    let library_failure = |e: std::io::Error| {
        Failure::permanent(format!(
            "cannot write into the library folder {}: {e}",
            dir.display()
        ))
    };
    tokio::fs::create_dir_all(&tmp_dir)
        .await
        .map_err(|e| fail(library_failure(e)))?;
    let tmp = tmp_dir.join(format!("{}.part", job.op.id));
    let file = tokio::fs::File::create(&tmp)
        .await
        .map_err(|e| fail(library_failure(e)))?;
    let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let outcome = read_remote(job, progress, got, &mut writer).await;
    let file = writer.into_inner();
    if let Err(e) = outcome {
        drop(file);
        let _ = tokio::fs::remove_file(&tmp).await;
        return Err(e);
    }
    file.sync_all()
        .await
        .map_err(|e| fail(library_failure(e)))?;
    drop(file);
    let (name, wanted) = (asset.original_name.clone(), hash.clone());
    let (dir2, tmp2) = (dir.clone(), tmp.clone());
    let dest = tokio::task::spawn_blocking(move || place(&tmp2, &dir2, &name, &wanted))
        .await
        .map_err(std::io::Error::other)
        .and_then(|r| r)
        .map_err(|e| fail(library_failure(e)))?;
    Ok(Some(CopyChange::Downloaded {
        local_path: dest.to_string_lossy().into_owned(),
    }))
}

/// A file name that is safe to create inside the library folder: only the last
/// component of the remote name, never `..`, never empty.
pub fn safe_file_name(name: &str, hash: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let clean: String = last.chars().filter(|c| !c.is_control()).collect();
    if clean.is_empty() || clean == "." || clean == ".." || clean.starts_with(".breakdex-tmp") {
        hash.to_string()
    } else {
        clean
    }
}

/// Moves a checked download from `tmp` into `dir` under the asset's name,
/// never over another file: if the name is taken by other bytes it becomes
/// `name (hash12).ext`, then `name (hash12 2).ext`... A name that already
/// holds these very bytes is reused. Linking (which fails if the name exists)
/// makes this safe against downloads running at the same time.
pub(super) fn place(tmp: &Path, dir: &Path, name: &str, hash: &str) -> std::io::Result<PathBuf> {
    let name = safe_file_name(name, hash);
    let p = Path::new(&name);
    let stem = p
        .file_stem()
        .map(|s| s.to_string_lossy())
        .unwrap_or_default();
    let ext = p
        .extension()
        .map(|e| format!(".{}", e.to_string_lossy()))
        .unwrap_or_default();
    for n in 0..1000 {
        let candidate = match n {
            0 => dir.join(&name),
            1 => dir.join(format!("{stem} ({}){ext}", short(hash))),
            _ => dir.join(format!("{stem} ({} {n}){ext}", short(hash))),
        };
        match std::fs::hard_link(tmp, &candidate) {
            Ok(()) => {
                std::fs::remove_file(tmp)?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if crate::library::hash_path(&candidate).is_ok_and(|(h, _)| h == hash) {
                    std::fs::remove_file(tmp)?;
                    return Ok(candidate);
                }
            }
            // A file system without hard links (FAT, some network shares):
            // rename when the name is free.
            Err(_) if std::fs::symlink_metadata(&candidate).is_err() => {
                std::fs::rename(tmp, &candidate)?;
                return Ok(candidate);
            }
            Err(_) => {}
        }
    }
    Err(std::io::Error::other(format!("no free name for {name}")))
}

/// BLAKE3 of a local file, as lowercase hex.
pub async fn hash_file(path: &Path) -> std::io::Result<String> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || crate::library::hash_path(&path).map(|(h, _)| h))
        .await
        .map_err(std::io::Error::other)?
}

async fn delete_remote(job: &Job) -> OpResult {
    if let Some(reason) = &job.refuse_delete {
        return Err(fail(Failure::permanent(reason.clone())));
    }
    job.provider.check_online().map_err(fail)?;
    let key = job.provider.content_key(&job.op.content_hash);
    match job.provider.operator().delete(&key).await {
        Ok(()) => Ok(Some(CopyChange::Removed)),
        Err(e) if e.kind() == opendal::ErrorKind::NotFound => Ok(Some(CopyChange::Removed)),
        Err(e) => Err(fail(job.provider.failure("deleting", &e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::Provider;
    use crate::store::{ProviderKind, ProviderRow};

    fn job(root: &Path, source: &Path, size: u64, hash: &str) -> Job {
        let row = ProviderRow {
            id: "p".into(),
            name: "local".into(),
            kind: ProviderKind::Local,
            settings: serde_json::json!({ "root": root }),
            enabled: true,
            concurrency: 4,
            created_at: String::new(),
        };
        Job {
            op: ClaimedOp {
                id: "op1".into(),
                content_hash: hash.into(),
                provider_id: "p".into(),
                operation_type: OpType::Upload,
                priority: 0,
                total_bytes: size as i64,
                retry_count: 0,
                reason: None,
            },
            asset: Some(ManifestEntry {
                content_hash: hash.into(),
                size_bytes: size as i64,
                original_name: "f".into(),
                local_path: Some(source.to_string_lossy().into_owned()),
                media_type: "application/octet-stream".into(),
                added_at: String::new(),
            }),
            provider: Provider::open(&row).unwrap(),
            library_dir: root.to_owned(),
            refuse_delete: None,
            targets: Vec::new(),
            source: None,
            bandwidth: Bandwidth::default(),
            kept: None,
            book: UploadBook::default(),
        }
    }

    fn upload_now(job: Job) -> Outcome {
        assert!(runs_blocking(&job));
        let cancelled = Arc::new(AtomicBool::new(false));
        run_blocking(job, cancelled, &mut Progress::new(|_, _| {}))
    }

    fn bytes(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 + i / 4093) as u8).collect()
    }

    #[test]
    fn local_uploads_land_exact_copies_at_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("remote");
        std::fs::create_dir(&root).unwrap();
        for size in [
            0,
            1,
            4096,
            LOCAL_READ - 1,
            LOCAL_READ,
            LOCAL_READ + 1,
            CHUNK - 1,
            CHUNK,
            CHUNK + 1,
            2 * CHUNK + LOCAL_READ,
        ] {
            let data = bytes(size);
            let source = dir.path().join(format!("src-{size}"));
            std::fs::write(&source, &data).unwrap();
            let hash = blake3::hash(&data).to_hex().to_string();
            let outcome = upload_now(job(&root, &source, size as u64, &hash));
            assert!(outcome.failure.is_none(), "{size}: {:?}", outcome.failure);
            assert_eq!(outcome.bytes, size as i64);
            let key = object_key(&hash);
            assert_eq!(
                outcome.change,
                Some(CopyChange::Stored {
                    remote_key: key.clone()
                })
            );
            assert!(std::fs::read(root.join(&key)).unwrap() == data, "{size}");
            assert!(!root.join(temp_key("op1")).exists());
        }
    }

    /// An upload stopped by its engine keeps its temporary file; the next
    /// attempt keeps what matches the source, rewrites from the first byte
    /// that does not, and lands an exact copy. Any other failure removes it.
    #[test]
    fn local_uploads_resume_what_matches_and_leave_nothing_when_they_fail() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("remote");
        std::fs::create_dir(&root).unwrap();
        let size = 3 * CHUNK + 5;
        let data = bytes(size);
        let source = dir.path().join("src");
        std::fs::write(&source, &data).unwrap();
        let hash = blake3::hash(&data).to_hex().to_string();
        let part = root.join(temp_key("op1"));
        // Stopped once it has sent a chunk: the part stays.
        let cancelled = Arc::new(AtomicBool::new(false));
        let stop = cancelled.clone();
        let mut progress = Progress::new(move |sent, _| stop.store(sent > 0, Ordering::Relaxed));
        let job1 = job(&root, &source, size as u64, &hash);
        let stopped = run_blocking(job1, cancelled, &mut progress);
        assert!(stopped.failure.is_some());
        let kept = std::fs::metadata(&part).unwrap().len() as usize;
        assert!(kept > 0 && kept < size, "{kept}");
        assert_eq!(std::fs::read(&part).unwrap(), data[..kept]);

        // As an earlier attempt left it, but a byte of what it wrote is not
        // the source's: what comes before it is kept, the rest written again
        // (from the start, the first report would be a step of one chunk).
        let mut written = data[..2 * CHUNK].to_vec();
        let bad = CHUNK + CHUNK / 2;
        written[bad] ^= 0xff;
        std::fs::write(&part, &written).unwrap();
        let mut first = None;
        let mut progress = Progress::new(|sent, _| {
            first.get_or_insert(sent);
        });
        let cancelled = Arc::new(AtomicBool::new(false));
        let resumed = run_blocking(
            job(&root, &source, size as u64, &hash),
            cancelled,
            &mut progress,
        );
        assert!(resumed.failure.is_none(), "{:?}", resumed.failure);
        assert_eq!(std::fs::read(root.join(object_key(&hash))).unwrap(), data);
        assert!(!part.exists());
        let first = first.expect("progress was reported") as usize;
        assert!(
            first > bad,
            "resumed: first report at {first}, not from the start"
        );

        // A source changed since: the part is cut where it differs, and the
        // upload fails as "source changed" leaving nothing behind.
        std::fs::write(&part, &data[..CHUNK]).unwrap();
        let mut edited = data.clone();
        edited[10] ^= 1;
        std::fs::write(&source, &edited).unwrap();
        let outcome = upload_now(job(&root, &source, size as u64, &hash));
        let failure = outcome.failure.expect("the source changed");
        assert!(
            failure.message.starts_with("source changed:"),
            "{failure:?}"
        );
        assert!(!part.exists());
    }

    #[test]
    fn local_uploads_land_whether_their_folder_is_new_there_or_gone_since() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("remote");
        std::fs::create_dir(&root).unwrap();
        let data = bytes(5000);
        let source = dir.path().join("src");
        std::fs::write(&source, &data).unwrap();
        let hash = blake3::hash(&data).to_hex().to_string();
        let key = root.join(object_key(&hash));
        let folder = key.parent().unwrap().to_owned();
        let job = job(&root, &source, data.len() as u64, &hash);
        let provider = job.provider.clone();
        assert!(!provider.object_folders().known(&hash));
        // New: the folder is made, and remembered by every clone.
        assert!(upload_now(job).failure.is_none());
        assert_eq!(std::fs::read(&key).unwrap(), data);
        assert!(provider.object_folders().known(&hash));
        // Known but removed behind our back: made again.
        std::fs::remove_dir_all(root.join("objects")).unwrap();
        let mut again = self::job(&root, &source, data.len() as u64, &hash);
        again.provider = provider.clone();
        assert!(upload_now(again).failure.is_none());
        assert_eq!(std::fs::read(&key).unwrap(), data);
        // There already but not known (another process made it).
        std::fs::remove_file(&key).unwrap();
        let mut fresh = self::job(&root, &source, data.len() as u64, &hash);
        assert!(!fresh.provider.object_folders().known(&hash));
        assert!(folder.is_dir());
        fresh.op.id = "op2".into();
        assert!(upload_now(fresh).failure.is_none());
        assert_eq!(std::fs::read(&key).unwrap(), data);
    }

    #[test]
    fn local_uploads_refuse_sources_that_grew_or_shrank() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("remote");
        std::fs::create_dir(&root).unwrap();
        for (size, now) in [
            (4096, 4097),
            (4096, 4095),
            (LOCAL_READ, LOCAL_READ + 1),
            (CHUNK, CHUNK + 1),
            (CHUNK + 5, CHUNK),
        ] {
            let data = bytes(size);
            let hash = blake3::hash(&data).to_hex().to_string();
            let source = dir.path().join("src");
            std::fs::write(&source, bytes(now)).unwrap();
            let outcome = upload_now(job(&root, &source, size as u64, &hash));
            let failure = outcome.failure.expect("refused");
            assert!(
                failure.message.starts_with("source changed:"),
                "{}",
                failure.message
            );
            assert!(!root.join(object_key(&hash)).exists());
            assert!(!root.join(temp_key("op1")).exists());
        }
    }

    /// A source that became a named pipe or a folder since it was recorded is
    /// refused at once, without blocking on the pipe.
    #[test]
    fn local_uploads_refuse_sources_that_are_no_longer_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("remote");
        std::fs::create_dir(&root).unwrap();
        let pipe = dir.path().join("pipe");
        let c = std::ffi::CString::new(pipe.to_str().unwrap()).unwrap();
        // SAFETY: a valid, NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0);
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder).unwrap();
        let hash = blake3::hash(b"was a file").to_hex().to_string();
        for source in [pipe, folder] {
            let job = job(&root, &source, 10, &hash);
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || tx.send(upload_now(job)));
            // Only a guard against hanging: the refusal takes microseconds.
            let outcome = rx
                .recv_timeout(std::time::Duration::from_secs(30))
                .expect("the upload blocked");
            let failure = outcome.failure.expect("refused");
            assert_eq!(failure.kind, crate::providers::FailureKind::Permanent);
            assert_eq!(
                failure.message,
                format!(
                    "source changed: {} is no longer a regular file",
                    source.display()
                )
            );
            assert!(!root.join(temp_key("op1")).exists());
        }
    }

    #[test]
    fn a_dropped_local_upload_never_lands() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("remote");
        std::fs::create_dir(&root).unwrap();
        let data = bytes(3 * CHUNK);
        let source = dir.path().join("src");
        std::fs::write(&source, &data).unwrap();
        let hash = blake3::hash(&data).to_hex().to_string();
        let job = job(&root, &source, data.len() as u64, &hash);
        let cancelled = Arc::new(AtomicBool::new(false));
        let mut upload =
            LocalUpload::new(&job, &root, source, data.len() as u64, cancelled.clone());
        assert!(upload.step().is_none(), "one chunk per step");
        // What the engine does when it gives the op up.
        cancelled.store(true, Ordering::Relaxed);
        let ended = upload.step().expect("stopped");
        assert!(ended.is_err());
        assert!(!root.join(object_key(&hash)).exists());
    }
}
