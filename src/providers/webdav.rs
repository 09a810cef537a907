//! WebDAV (Nextcloud, ownCloud, most NAS boxes): endpoint, root folder, user;
//! the password lives in the secret store.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use opendal::Operator;
use tokio::io::AsyncReadExt;

use super::Failure;
use super::remote::{required, secret, setting};
use crate::secrets::Secret;
use crate::store::ProviderRow;

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

/// A direct line to the WebDAV server, for uploads that stream the file in
/// a single PUT (OpenDAL's WebDAV writer takes the whole object at once, so
/// its memory grows with the file and it shows no progress).
#[derive(Clone)]
pub struct Direct {
    name: String,
    client: reqwest::Client,
    /// The endpoint and root folder, without a trailing slash.
    base: String,
    user: String,
    password: Secret,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Direct")
            .field("base", &self.base)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The direct line a provider row describes.
pub fn direct(row: &ProviderRow) -> Result<Direct, Failure> {
    let endpoint = required(row, "endpoint")?.trim_end_matches('/');
    let root = setting(row, "root").unwrap_or("").trim_matches('/');
    let base = if root.is_empty() {
        endpoint.to_string()
    } else {
        format!("{endpoint}/{}", encode_path(root))
    };
    let client = super::remote::http_client().ok_or_else(|| {
        Failure::permanent(format!(
            "provider '{}': cannot make an HTTP client",
            row.name
        ))
    })?;
    Ok(Direct {
        name: row.name.clone(),
        client,
        base,
        user: required(row, "user")?.to_string(),
        password: secret(row)?,
    })
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
    /// Streams `file` to `key` (relative to the root) in one PUT, hashing
    /// and counting the bytes as they go out (`sent`). The folder `key` is
    /// in must exist. Returns the BLAKE3 of what was sent and its length.
    pub async fn put_file(
        &self,
        key: &str,
        file: tokio::fs::File,
        sent: Arc<AtomicU64>,
    ) -> Result<(String, u64), Failure> {
        let hasher = Arc::new(Mutex::new(blake3::Hasher::new()));
        let h = hasher.clone();
        let counter = sent.clone();
        let body = futures::stream::try_unfold(file, move |mut file| {
            let h = h.clone();
            let counter = counter.clone();
            async move {
                let mut buf = vec![0u8; PIECE];
                let n = file.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>(None);
                }
                buf.truncate(n);
                h.lock().expect("hasher").update(&buf);
                counter.fetch_add(n as u64, Ordering::Relaxed);
                Ok(Some((buf, file)))
            }
        });
        let url = format!("{}/{}", self.base, encode_path(key));
        let response = self
            .client
            .put(&url)
            .basic_auth(&self.user, Some(self.password.expose()))
            .body(reqwest::Body::wrap_stream(body))
            .send()
            .await
            .map_err(|e| self.request_failure(&e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(self.status_failure(status.as_u16()));
        }
        let hash = hasher
            .lock()
            .expect("hasher")
            .finalize()
            .to_hex()
            .to_string();
        Ok((hash, sent.load(Ordering::Relaxed)))
    }

    fn request_failure(&self, e: &reqwest::Error) -> Failure {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
        let mut refused = false;
        while let Some(s) = source {
            if let Some(io) = s.downcast_ref::<std::io::Error>()
                && io.kind() == std::io::ErrorKind::ConnectionRefused
            {
                refused = true;
            }
            source = s.source();
        }
        if refused {
            return Failure::offline(format!(
                "provider '{}' is offline: the WebDAV server refused the connection",
                self.name
            ));
        }
        let reason = if e.is_timeout() {
            "timed out"
        } else if e.is_connect() {
            "cannot connect"
        } else if e.is_body() {
            "the upload stopped part way"
        } else {
            "the request failed"
        };
        Failure::transient(format!(
            "writing on provider '{}' failed: {reason}",
            self.name
        ))
    }

    fn status_failure(&self, status: u16) -> Failure {
        let name = &self.name;
        match status {
            401 => Failure::permanent(format!(
                "the WebDAV server rejected the user name or password for provider '{name}'"
            )),
            403 => Failure::permanent(format!(
                "the WebDAV server refused access for provider '{name}' (writing)"
            )),
            507 => Failure::permanent(format!(
                "the WebDAV server of provider '{name}' is full (507)"
            )),
            429 => Failure::transient(format!(
                "writing on provider '{name}' failed: the server asks to slow down (429)"
            )),
            s => Failure::transient(format!(
                "writing on provider '{name}' failed: server answered {s}"
            )),
        }
    }
}

/// Bytes read from the file per piece of the request body.
const PIECE: usize = 1 << 20;
