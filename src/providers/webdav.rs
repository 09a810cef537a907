//! WebDAV (Nextcloud, ownCloud, most NAS boxes): endpoint, root folder, user;
//! the password lives in the secret store.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use opendal::Operator;

use super::Failure;
use super::remote::{request_failure, required, secret, setting, status_failure};
use super::stream::{Watch, with_checked_body};
use crate::crypto::Keys;
use crate::secrets::Secret;
use crate::store::{ProviderKind, ProviderRow};

/// The WebDAV operator a provider row describes.
pub fn operator(row: &ProviderRow) -> Result<Operator, Failure> {
    super::remote::http_ready();
    let mut builder = opendal::services::Webdav::default()
        .endpoint(required(row, "endpoint")?)
        .username(required(row, "user")?)
        .password(secret(row)?.expose());
    if let Some(root) = setting(row, "root") {
        builder = builder.root(root);
    }
    Operator::new(builder)
        .map(super::remote::with_timeouts)
        .map_err(|e| Failure::permanent(format!("provider '{}': {}", row.name, e.kind())))
}

/// A direct line to the WebDAV server, for uploads: a PUT that streams the
/// file (OpenDAL's WebDAV writer takes the whole object at once, so its
/// memory grows with the file and it shows no progress), then a MOVE into
/// place. Folders are made once per process, with a MKCOL per missing
/// level, instead of OpenDAL's look (PROPFIND) at every level before each
/// write and rename; a folder that another upload is making at the same
/// moment (423 Locked) is waited for, not failed.
#[derive(Clone)]
pub struct Direct {
    name: String,
    client: reqwest::Client,
    /// The endpoint, without a trailing slash.
    endpoint: String,
    /// The root folder on the server, without slashes around it.
    root: String,
    user: String,
    password: Secret,
    /// Folders (paths from the endpoint) known to exist.
    folders: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("endpoint", &self.endpoint)
            .field("root", &self.root)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The direct line a provider row describes.
pub fn direct(row: &ProviderRow) -> Result<Direct, Failure> {
    let client = super::remote::http_client().ok_or_else(|| {
        Failure::permanent(format!(
            "provider '{}': cannot make an HTTP client",
            row.name
        ))
    })?;
    Ok(Direct {
        name: row.name.clone(),
        client,
        endpoint: required(row, "endpoint")?.trim_end_matches('/').to_string(),
        root: setting(row, "root")
            .unwrap_or("")
            .trim_matches('/')
            .to_string(),
        user: required(row, "user")?.to_string(),
        password: secret(row)?,
        folders: Arc::default(),
    })
}

/// How many times a request meeting a locked folder (423) is tried.
const LOCKED_TRIES: u32 = 20;

/// The folder a path is in ("" for the endpoint itself).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(dir, _)| dir)
}

/// What a MKCOL found.
enum Mkcol {
    /// Made, or there already.
    Done,
    /// The folder above it is missing.
    ParentMissing,
}

/// Percent-encodes each segment of a path, keeping the slashes.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Direct {
    /// The path from the endpoint of `key` (relative to the root).
    fn path(&self, key: &str) -> String {
        match (self.root.is_empty(), key.is_empty()) {
            (true, _) => key.to_string(),
            (false, true) => self.root.clone(),
            (false, false) => format!("{}/{key}", self.root),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}/{}", self.endpoint, encode_path(path))
    }

    /// A request of method `method` (an HTTP or WebDAV method name) for
    /// `path`, with the provider's credentials.
    fn request(&self, method: &'static [u8], path: &str) -> reqwest::RequestBuilder {
        let method = reqwest::Method::from_bytes(method).expect("a method name is valid");
        self.client
            .request(method, self.url(path))
            .basic_auth(&self.user, Some(self.password.expose()))
    }

    /// Sends a request made by `build`, again while the server answers
    /// 423 Locked (another request is working on the same path).
    async fn send_unlocked(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Failure> {
        let mut tries = 0;
        loop {
            let response = build()
                .send()
                .await
                .map_err(|e| request_failure(ProviderKind::Webdav, &self.name, &e))?;
            tries += 1;
            if response.status().as_u16() != 423 || tries >= LOCKED_TRIES {
                return Ok(response);
            }
            tokio::time::sleep(std::time::Duration::from_millis(10 * u64::from(tries))).await;
        }
    }

    /// Makes the folder `dir` (relative to the root) and the ones above it
    /// that are missing, the root included.
    pub async fn make_dir(&self, dir: &str) -> Result<(), Failure> {
        let dir = self.path(dir);
        if dir.is_empty() || self.folders.lock().expect("folders").contains(&dir) {
            return Ok(());
        }
        let stuck = || status_failure(ProviderKind::Webdav, &self.name, "making a folder", 409, "");
        let mut missing = Vec::new();
        let mut at = dir.as_str();
        loop {
            match self.mkcol(at).await? {
                Mkcol::Done => break,
                Mkcol::ParentMissing if !parent(at).is_empty() => {
                    missing.push(at);
                    at = parent(at);
                }
                Mkcol::ParentMissing => return Err(stuck()),
            }
        }
        for at in missing.into_iter().rev() {
            if let Mkcol::ParentMissing = self.mkcol(at).await? {
                return Err(stuck());
            }
        }
        self.folders.lock().expect("folders").insert(dir);
        Ok(())
    }

    async fn mkcol(&self, path: &str) -> Result<Mkcol, Failure> {
        let folder = format!("{path}/");
        let response = self
            .send_unlocked(|| self.request(b"MKCOL", &folder))
            .await?;
        match response.status().as_u16() {
            // Made; or there already (405: MKCOL only works where nothing is).
            201 | 405 => Ok(Mkcol::Done),
            409 => Ok(Mkcol::ParentMissing),
            s => Err(status_failure(
                ProviderKind::Webdav,
                &self.name,
                "making a folder",
                s,
                "",
            )),
        }
    }

    /// Moves `from` to `to` (both relative to the root), replacing what is
    /// there. The folder of `to` must exist.
    pub async fn move_to(&self, from: &str, to: &str) -> Result<(), Failure> {
        let destination = self.url(&self.path(to));
        let from = self.path(from);
        let response = self
            .send_unlocked(|| {
                self.request(b"MOVE", &from)
                    .header("Destination", &destination)
                    .header("Overwrite", "T")
            })
            .await?;
        self.check(response.status(), "renaming the upload")
    }

    /// An answer other than success as a failure. A 409 (Conflict) means a
    /// folder was removed behind our back: none is taken as known any more,
    /// so the retry makes them again.
    fn check(&self, status: reqwest::StatusCode, what: &str) -> Result<(), Failure> {
        if status.is_success() {
            return Ok(());
        }
        if status.as_u16() == 409 {
            self.folders.lock().expect("folders").clear();
        }
        Err(status_failure(
            ProviderKind::Webdav,
            &self.name,
            what,
            status.as_u16(),
            "",
        ))
    }

    /// Streams `file` to `key` (relative to the root) in one PUT, counting
    /// the bytes as they go out; a file that is not `expected` bytes of
    /// `content_hash` fails the request before it is complete (see
    /// [`stream`](super::stream)), sealed to `keys` if given. The folder
    /// `key` is in must exist.
    pub async fn put_file(
        &self,
        key: &str,
        file: std::fs::File,
        expected: u64,
        content_hash: &str,
        watch: &Watch,
        keys: Option<&Keys>,
    ) -> Result<(), Failure> {
        let put = self.request(b"PUT", &self.path(key));
        let response = with_checked_body(put, file, expected, content_hash, watch, keys)?
            .send()
            .await
            .map_err(|e| request_failure(ProviderKind::Webdav, &self.name, &e))?;
        self.check(response.status(), "writing")
    }
}
