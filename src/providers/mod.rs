//! Storage providers: turns a `sync_providers` row into an OpenDAL operator,
//! fixes the layout of keys on the remote, and says what an error means
//! (worth a retry, hopeless, or the provider is simply not there).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use opendal::{ErrorKind, Operator};

use crate::crypto::Keys;
use crate::store::{ProviderKind, ProviderRow};

pub mod multipart;
mod remote;
pub use remote::reachable;
pub mod register;
pub mod s3;
pub mod sftp;
pub mod sftp_direct;
pub mod stream;
pub mod webdav;

/// What kind of trouble a failure is, which decides what the queue does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailureKind {
    /// Might work later (timeouts, refused connections, 5xx, 429, I/O hiccups).
    Transient,
    /// Retrying cannot fix it (bad settings or credentials, missing source...).
    Permanent,
    /// The provider cannot be reached at all (drive unplugged, host down):
    /// wait for it without spending retries.
    Offline,
    /// The provider has no room left (a full disk, a quota, WebDAV's 507):
    /// its uploads wait, without spending retries, until room comes back.
    Full,
}

/// Why an op did not get done, in words a person understands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Failure {
    pub kind: FailureKind,
    pub message: String,
}

impl Failure {
    pub fn permanent(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Permanent,
            message: message.into(),
        }
    }

    pub fn transient(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Transient,
            message: message.into(),
        }
    }

    pub fn offline(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Offline,
            message: message.into(),
        }
    }

    pub fn full(message: impl Into<String>) -> Failure {
        Failure {
            kind: FailureKind::Full,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

/// The key under which content lives on every provider: `objects/ab/cd/<hash>`.
pub fn object_key(content_hash: &str) -> String {
    format!(
        "objects/{}/{}/{content_hash}",
        &content_hash[..2],
        &content_hash[2..4]
    )
}

/// The `objects/ab/cd` folders of a local provider that this process has
/// made or seen, one bit per folder: an upload into a folder not known yet
/// makes it before renaming into it, instead of a rename that fails first
/// (on a new drive nearly every small file goes to a folder of its own).
#[derive(Debug)]
pub struct ObjectFolders(Box<[AtomicU64]>);

impl Default for ObjectFolders {
    fn default() -> ObjectFolders {
        ObjectFolders((0..1 << 10).map(|_| AtomicU64::new(0)).collect())
    }
}

impl ObjectFolders {
    /// The folder's number: its two levels of two hex digits, read as one
    /// 16-bit number.
    fn slot(content_hash: &str) -> Option<usize> {
        content_hash
            .get(..4)
            .and_then(|digits| usize::from_str_radix(digits, 16).ok())
    }

    /// Whether the folder of this content is known to exist.
    pub fn known(&self, content_hash: &str) -> bool {
        Self::slot(content_hash)
            .is_some_and(|n| self.0[n >> 6].load(Ordering::Relaxed) & (1 << (n & 63)) != 0)
    }

    /// Remembers that the folder of this content exists.
    pub fn remember(&self, content_hash: &str) {
        if let Some(n) = Self::slot(content_hash) {
            self.0[n >> 6].fetch_or(1 << (n & 63), Ordering::Relaxed);
        }
    }
}

/// Where an upload is written before it is renamed into place. One name per
/// op, so a rerun after a crash overwrites its own leftovers.
pub fn temp_key(op_id: &str) -> String {
    format!(".breakdex-tmp/{op_id}.part")
}

/// One provider, ready to use.
#[derive(Clone, Debug)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub kind: ProviderKind,
    op: Operator,
    /// The folder of a local provider, checked before each use: a missing
    /// folder means the drive is not there.
    local_root: Option<PathBuf>,
    /// For a local provider: its object folders known to exist.
    folders: Arc<ObjectFolders>,
    /// What Breakdex's own requests (streamed uploads) need.
    direct: Direct,
    /// For a provider that encrypts: the library's keys (every object an
    /// age file, named by a keyed hash; see `crypto`).
    keys: Option<Arc<Keys>>,
}

/// What a provider needs for the requests Breakdex sends itself, beside
/// OpenDAL's.
#[derive(Clone, Debug)]
enum Direct {
    None,
    /// The signer of streamed S3 PUTs.
    S3(s3::Signer),
    /// The line for WebDAV's streamed PUT, folders and MOVE.
    Webdav(webdav::Direct),
    /// The session that resumes SFTP uploads.
    Sftp(sftp_direct::Direct),
}

impl Provider {
    /// Builds the provider described by a row, checking its settings.
    pub fn open(row: &ProviderRow) -> Result<Provider, Failure> {
        let mut provider = Provider::open_plain(row)?;
        provider.keys = crate::crypto::library::keys_of(&row.settings)
            .map_err(|e| Failure::permanent(format!("provider '{}': {e}", row.name)))?;
        Ok(provider)
    }

    fn open_plain(row: &ProviderRow) -> Result<Provider, Failure> {
        match row.kind {
            ProviderKind::Local => {
                let root = row
                    .settings
                    .get("root")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| {
                        Failure::permanent(format!(
                            "provider '{}' has no root folder in its settings",
                            row.name
                        ))
                    })?;
                let root = PathBuf::from(root);
                check_local_root(&row.name, &root)?;
                let builder = opendal::services::Fs::default().root(&root.to_string_lossy());
                let op = Operator::new(builder).map_err(|e| {
                    Failure::permanent(format!("provider '{}': {}", row.name, e.kind()))
                })?;
                Ok(Provider {
                    id: row.id.clone(),
                    name: row.name.clone(),
                    kind: row.kind,
                    op,
                    local_root: Some(root),
                    folders: Arc::default(),
                    direct: Direct::None,
                    keys: None,
                })
            }
            ProviderKind::S3 | ProviderKind::Webdav | ProviderKind::Sftp => {
                let (op, direct) = match row.kind {
                    ProviderKind::S3 => {
                        let (op, signer) = s3::open(row)?;
                        (op, Direct::S3(signer))
                    }
                    ProviderKind::Webdav => {
                        (webdav::operator(row)?, Direct::Webdav(webdav::direct(row)?))
                    }
                    _ => (
                        sftp::operator(row)?,
                        Direct::Sftp(sftp_direct::Direct::of(row)?),
                    ),
                };
                Ok(Provider {
                    id: row.id.clone(),
                    name: row.name.clone(),
                    kind: row.kind,
                    op,
                    local_root: None,
                    folders: Arc::default(),
                    direct,
                    keys: None,
                })
            }
        }
    }

    /// For WebDAV: the line that streams uploads in one PUT.
    pub fn webdav(&self) -> Option<&webdav::Direct> {
        match &self.direct {
            Direct::Webdav(dav) => Some(dav),
            _ => None,
        }
    }

    /// For SFTP: the session that resumes uploads.
    pub fn sftp(&self) -> Option<&sftp_direct::Direct> {
        match &self.direct {
            Direct::Sftp(sftp) => Some(sftp),
            _ => None,
        }
    }

    /// For S3: the signer of streamed PUTs.
    pub fn s3_signer(&self) -> Option<&s3::Signer> {
        match &self.direct {
            Direct::S3(signer) => Some(signer),
            _ => None,
        }
    }

    /// The keys of a provider that encrypts.
    pub fn keys(&self) -> Option<&Keys> {
        self.keys.as_deref()
    }

    /// The key of the object holding the content `content_hash` here:
    /// [`object_key`] of the hash, or of its keyed name on a provider that
    /// encrypts.
    pub fn content_key(&self, content_hash: &str) -> String {
        match &self.keys {
            Some(keys) => object_key(&keys.object_name(content_hash)),
            None => object_key(content_hash),
        }
    }

    /// The OpenDAL operator behind this provider.
    pub fn operator(&self) -> &Operator {
        &self.op
    }

    /// Checks that the provider is there at all (for a local one: its folder).
    pub fn check_online(&self) -> Result<(), Failure> {
        match &self.local_root {
            Some(root) => check_local_root(&self.name, root),
            None => Ok(()),
        }
    }

    /// The folder of a local provider: uploads to it are written with plain
    /// file calls (see `engine::executor`), in the same layout OpenDAL uses.
    pub fn local_root(&self) -> Option<&Path> {
        self.local_root.as_deref()
    }

    /// The object folders of a local provider known to exist (shared by
    /// every clone of this provider).
    pub fn object_folders(&self) -> &ObjectFolders {
        &self.folders
    }

    /// Explains an OpenDAL error met while doing `what` on this provider.
    pub fn failure(&self, what: &str, err: &opendal::Error) -> Failure {
        if self.kind != ProviderKind::Local {
            return remote::explain(self.kind, &self.name, what, err);
        }
        if let Err(offline) = self.check_online() {
            return offline;
        }
        let reason = io_reason(err).unwrap_or_else(|| err.kind().to_string());
        let permanent = matches!(
            err.kind(),
            ErrorKind::PermissionDenied | ErrorKind::ConfigInvalid | ErrorKind::Unsupported
        );
        self.classify(what, reason, permanent)
    }

    /// Explains an I/O error met while doing `what` directly in a local
    /// provider's folder: the same words and kind as [`Provider::failure`]
    /// gives for the OpenDAL error its fs service makes of that I/O error.
    pub fn io_failure(&self, what: &str, err: &std::io::Error) -> Failure {
        if let Err(offline) = self.check_online() {
            return offline;
        }
        let permanent = matches!(
            err.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::Unsupported
        );
        self.classify(what, err.to_string(), permanent)
    }

    fn classify(&self, what: &str, reason: String, permanent: bool) -> Failure {
        let message = format!("{what} on provider '{}' failed: {reason}", self.name);
        if says_no_space(&reason) {
            Failure::full(message)
        } else if permanent || reason.contains("Read-only file system") {
            Failure::permanent(message)
        } else {
            Failure::transient(message)
        }
    }

    /// The bytes a local provider's file system has free for it, if it is
    /// a local provider and its folder can be looked at.
    pub fn free_bytes(&self) -> Option<u64> {
        free_bytes_at(self.local_root()?)
    }
}

/// Whether an error's words say the storage has no room left: a full file
/// system (ENOSPC) or a quota (EDQUOT) as the OS says them, SFTP's "no space
/// on file system" and "quota exceeded" statuses.
pub(crate) fn says_no_space(reason: &str) -> bool {
    let reason = reason.to_ascii_lowercase();
    ["no space left", "quota exceeded", "no space on file system"]
        .iter()
        .any(|w| reason.contains(w))
}

/// The bytes free to an unprivileged writer on the file system holding `path`.
pub fn free_bytes_at(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let c_path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let mut stat = std::mem::MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: `c_path` is a NUL-terminated path and `stat` is written by
    // statvfs before it is read (only on success).
    if unsafe { libc::statvfs(c_path.as_ptr(), stat.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: statvfs returned 0, so it filled `stat`.
    let stat = unsafe { stat.assume_init() };
    Some(stat.f_bavail.saturating_mul(stat.f_frsize))
}

/// The underlying operating-system error, if there is one, as its own words.
fn io_reason(err: &opendal::Error) -> Option<String> {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io.to_string());
        }
        source = s.source();
    }
    None
}

/// A local provider's folder must exist and be a folder. Missing means
/// offline (an unplugged drive); anything else is a settings problem.
pub fn check_local_root(name: &str, root: &Path) -> Result<(), Failure> {
    match std::fs::metadata(root) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => Err(Failure::permanent(format!(
            "provider '{name}': its root {} is a file, not a folder",
            root.display()
        ))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(Failure::offline(format!(
            "provider '{name}' is offline: its folder {} is not there (is the drive connected?)",
            root.display()
        ))),
        Err(e) => Err(Failure::permanent(format!(
            "provider '{name}': cannot use its folder {}: {e}",
            root.display()
        ))),
    }
}

/// Runs `work` to its end on a runtime of its own: async provider calls
/// made from a blocking caller (the command line, the window's model
/// thread). `what` names the work if the runtime cannot start.
pub fn block_on<T>(
    what: &str,
    work: impl std::future::Future<Output = Result<T, Failure>>,
) -> Result<T, Failure> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::transient(format!("cannot {what}: {e}")))?;
    runtime.block_on(work)
}

/// A real round trip on a provider: writes a small probe object, reads it
/// back, compares, deletes it. Returns how long it took.
pub fn test_round_trip(row: &ProviderRow) -> Result<Duration, Failure> {
    let provider = Provider::open(row)?;
    provider.check_online()?;
    // Nothing answering is said plainly, as `status` says it (the probe's
    // own error would only say the request failed).
    reachable(row)?;
    let started = Instant::now();
    block_on("start the test", async {
        let op = provider.operator();
        let key = format!(".breakdex-probe/{}", crate::store::new_id());
        let body: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
        op.write(&key, body.clone())
            .await
            .map_err(|e| provider.failure("writing a probe", &e))?;
        let back = op
            .read(&key)
            .await
            .map_err(|e| provider.failure("reading the probe back", &e));
        let deleted = op
            .delete(&key)
            .await
            .map_err(|e| provider.failure("deleting the probe", &e));
        if back?.to_vec() != body {
            return Err(Failure::permanent(format!(
                "provider '{}' returned other bytes than were written",
                provider.name
            )));
        }
        deleted
    })?;
    Ok(started.elapsed())
}
