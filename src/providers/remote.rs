//! What the remote kinds (S3, WebDAV, SFTP) share: reading their settings
//! and secret, and saying in plain words what an OpenDAL error from them
//! means. Secrets are handed to the storage client and nowhere else: no
//! message built here contains one.

use opendal::ErrorKind;

use super::{Failure, FailureKind};
use crate::secrets::{Secret, SecretStore};
use crate::store::{ProviderKind, ProviderRow};

/// A text setting, if set and not empty.
pub(super) fn setting<'a>(row: &'a ProviderRow, key: &str) -> Option<&'a str> {
    row.settings
        .get(key)
        .and_then(|v| v.as_str())
        .filter(|s| !s.is_empty())
}

/// A text setting that must be there.
pub(super) fn required<'a>(row: &'a ProviderRow, key: &str) -> Result<&'a str, Failure> {
    setting(row, key).ok_or_else(|| {
        Failure::permanent(format!(
            "provider '{}' has no {key} in its settings",
            row.name
        ))
    })
}

/// The provider's secret, from the store its settings name. A keychain that
/// cannot be reached (locked, not running) makes the provider wait as
/// offline; a missing secret is permanent.
pub(super) fn secret(row: &ProviderRow) -> Result<Secret, Failure> {
    let store = SecretStore::of(&row.settings).ok_or_else(|| {
        Failure::permanent(format!(
            "provider '{}' names no secret store in its settings",
            row.name
        ))
    })?;
    match store.load(&row.id) {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(Failure::permanent(format!(
            "provider '{}' has no secret in {store}; add the provider again with --secret-stdin",
            row.name
        ))),
        Err(e) if e.unavailable => Err(Failure::offline(format!(
            "provider '{}' is offline: its secret cannot be read from {store}: {e}",
            row.name
        ))),
        Err(e) => Err(Failure::permanent(format!(
            "cannot read the secret of provider '{}' from {store}: {e}",
            row.name
        ))),
    }
}

/// What a person calls the service.
fn service(kind: ProviderKind) -> &'static str {
    match kind {
        ProviderKind::S3 => "S3",
        ProviderKind::Webdav => "the WebDAV server",
        ProviderKind::Sftp => "the SFTP server",
        ProviderKind::Local => "the folder",
    }
}

/// The first I/O error under an OpenDAL error, if any.
fn io_error(err: &opendal::Error) -> Option<&std::io::Error> {
    let mut source = std::error::Error::source(err);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

/// True when the chain of errors under `err` mentions `needle`.
fn chain_mentions(err: &opendal::Error, needle: &str) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        if s.to_string().contains(needle) {
            return true;
        }
        source = s.source();
    }
    false
}

/// Explains an error of a remote provider while doing `what`.
pub(super) fn explain(kind: ProviderKind, name: &str, what: &str, err: &opendal::Error) -> Failure {
    tracing::debug!("{what} on provider '{name}': {err}");
    let service = service(kind);
    let io = io_error(err);
    let io_kind = io.map(|e| e.kind());
    // Not reachable at all: wait for it, as for an unplugged drive.
    if matches!(
        io_kind,
        Some(
            std::io::ErrorKind::ConnectionRefused
                | std::io::ErrorKind::HostUnreachable
                | std::io::ErrorKind::NetworkUnreachable
        )
    ) || (kind != ProviderKind::Sftp && chain_mentions(err, "Connection refused"))
    {
        return Failure {
            kind: FailureKind::Offline,
            message: format!("provider '{name}' is offline: {service} refused the connection"),
        };
    }
    let text = err.to_string();
    let status = |code: &str| text.contains(&format!("status: {code}"));
    if status("507") {
        return Failure::full(format!(
            "{what} on provider '{name}' failed: {service} is full (507 Insufficient Storage)"
        ));
    }
    if let Some(why) = no_room(err) {
        return Failure::full(format!("{what} on provider '{name}' failed: {why}"));
    }
    if kind == ProviderKind::Sftp {
        if chain_mentions(err, "Host key verification failed")
            || chain_mentions(err, "HOST IDENTIFICATION HAS CHANGED")
        {
            return Failure::permanent(format!(
                "the host key of provider '{name}' is not in known_hosts or has changed; \
                 check it, then add the provider again with --trust-new-host"
            ));
        }
        if io_kind == Some(std::io::ErrorKind::PermissionDenied) {
            return Failure::permanent(format!(
                "the SFTP server rejected the key for provider '{name}'"
            ));
        }
    }
    match err.kind() {
        ErrorKind::PermissionDenied if kind == ProviderKind::S3 => {
            return Failure::permanent(format!(
                "S3 rejected the access key for provider '{name}' ({what})"
            ));
        }
        ErrorKind::PermissionDenied => {
            return Failure::permanent(format!(
                "{service} refused access for provider '{name}' ({what})"
            ));
        }
        ErrorKind::ConfigInvalid if text.contains("NoSuchBucket") => {
            return Failure::permanent(format!("the bucket of provider '{name}' does not exist"));
        }
        ErrorKind::ConfigInvalid | ErrorKind::Unsupported => {
            return Failure::permanent(format!(
                "{what} on provider '{name}' failed: its settings are not valid ({})",
                err.kind()
            ));
        }
        _ => {}
    }
    if status("401") {
        return Failure::permanent(match kind {
            ProviderKind::S3 => {
                format!("S3 rejected the access key for provider '{name}' ({what})")
            }
            _ => format!("{service} rejected the user name or password for provider '{name}'"),
        });
    }
    let reason = if status("429") || err.kind() == ErrorKind::RateLimited {
        "the server asks to slow down (429)".to_string()
    } else if let Some(code) = ["500", "502", "503", "504"].into_iter().find(|c| status(c)) {
        format!("server error {code}")
    } else if let Some(io) = io {
        match io.kind() {
            std::io::ErrorKind::TimedOut => "timed out".to_string(),
            k => k.to_string(),
        }
    } else if chain_mentions(err, "timed out") || chain_mentions(err, "timeout") {
        "timed out".to_string()
    } else {
        err.kind().to_string()
    };
    Failure::transient(format!("{what} on provider '{name}' failed: {reason}"))
}

/// Why the chain of errors under `err` says the provider has no room (an
/// S3 code, the OS's ENOSPC or EDQUOT over SFTP, SFTP's own status), if it does.
fn no_room(err: &opendal::Error) -> Option<String> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(s) = source {
        let text = s.to_string();
        if let Some(code) = no_room_code(&text) {
            return Some(format!("no room ({code})"));
        }
        if super::says_no_space(&text) || text.contains("NoSpaceOnFilesystem") {
            return Some("no space left".to_string());
        }
        source = s.source();
    }
    None
}

/// The error code in an S3 answer (or OpenDAL's text of one) that says the
/// bucket or account has no room: the object is over the size or quota the
/// service allows, or the server's disks are full.
fn no_room_code(text: &str) -> Option<&'static str> {
    [
        "EntityTooLarge",
        "QuotaExceeded",
        "XMinioStorageFull",
        "StorageFull",
    ]
    .into_iter()
    .find(|code| text.contains(code))
}

/// Explains a request of our own (a streamed PUT) that got no answer.
/// Never prints the error itself: its text holds the URL, which for S3 is
/// presigned (a key to write for a while).
pub(super) fn request_failure(kind: ProviderKind, name: &str, e: &reqwest::Error) -> Failure {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<std::io::Error>()
            && io.kind() == std::io::ErrorKind::ConnectionRefused
        {
            return Failure::offline(format!(
                "provider '{name}' is offline: {} refused the connection",
                service(kind)
            ));
        }
        source = s.source();
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
    Failure::transient(format!("writing on provider '{name}' failed: {reason}"))
}

/// Explains an HTTP status other than success that a remote provider gave
/// a request of our own (`what`: what it was doing); `body` is the start of
/// the answer (S3 names its error there).
pub(super) fn status_failure(
    kind: ProviderKind,
    name: &str,
    what: &str,
    status: u16,
    body: &str,
) -> Failure {
    let service = service(kind);
    match status {
        401 | 403 if kind == ProviderKind::S3 => Failure::permanent(format!(
            "S3 rejected the access key for provider '{name}' ({what})"
        )),
        401 => Failure::permanent(format!(
            "{service} rejected the user name or password for provider '{name}'"
        )),
        403 => Failure::permanent(format!(
            "{service} refused access for provider '{name}' ({what})"
        )),
        404 if body.contains("NoSuchBucket") => {
            Failure::permanent(format!("the bucket of provider '{name}' does not exist"))
        }
        507 => Failure::full(format!(
            "{what} on provider '{name}' failed: {service} is full (507 Insufficient Storage)"
        )),
        _ if let Some(code) = no_room_code(body) => Failure::full(format!(
            "{what} on provider '{name}' failed: {service} has no room ({code})"
        )),
        429 => Failure::transient(format!(
            "{what} on provider '{name}' failed: the server asks to slow down (429)"
        )),
        500..=599 => Failure::transient(format!(
            "{what} on provider '{name}' failed: server error {status}"
        )),
        s => Failure::transient(format!(
            "{what} on provider '{name}' failed: server answered {s}"
        )),
    }
}

/// Installs OpenDAL's HTTP transport (reqwest with rustls) once per process:
/// without the `auto-register-services` feature nothing does it before main.
pub(super) fn http_ready() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(opendal::install_default);
}

/// How long connecting, and then waiting for the next bytes, may take
/// before a request fails as timed out (transient).
/// `BREAKDEX_NET_TIMEOUT_SECS` sets the read timeout (for tests).
pub(super) fn timeouts() -> (std::time::Duration, std::time::Duration) {
    let read = std::env::var("BREAKDEX_NET_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(120);
    (
        std::time::Duration::from_secs(30.min(read)),
        std::time::Duration::from_secs(read),
    )
}

/// The HTTP client every HTTP provider shares: timeouts on connecting and
/// on each read, so a server that stops answering fails the op (to be
/// retried) instead of holding it forever.
pub(super) fn http_client() -> Option<reqwest::Client> {
    static CLIENT: std::sync::OnceLock<Option<reqwest::Client>> = std::sync::OnceLock::new();
    CLIENT
        .get_or_init(|| {
            let (connect, read) = timeouts();
            reqwest::Client::builder()
                .connect_timeout(connect)
                .read_timeout(read)
                .build()
                .ok()
        })
        .clone()
}

/// The operator, talking HTTP through [`http_client`].
pub(super) fn with_timeouts(op: opendal::Operator) -> opendal::Operator {
    http_ready();
    match http_client() {
        Some(client) => {
            let transport = opendal::HttpTransporter::new(
                opendal_http_transport_reqwest::ReqwestTransport::new(client),
            );
            op.with_context(opendal::OperationContext::new().with_http_transport(transport))
        }
        None => op,
    }
}

/// Whether a remote provider's server accepts connections at all (a TCP
/// connection to its host and port, within a few seconds): what `status`
/// shows as online or offline. Local providers are always reachable here.
pub fn reachable(row: &ProviderRow) -> Result<(), Failure> {
    let (host, port) = match row.kind {
        ProviderKind::Local => return Ok(()),
        ProviderKind::Sftp => (
            required(row, "host")?.to_string(),
            row.settings
                .get("port")
                .and_then(|v| v.as_u64())
                .unwrap_or(22) as u16,
        ),
        ProviderKind::S3 | ProviderKind::Webdav => {
            let url = reqwest::Url::parse(required(row, "endpoint")?).map_err(|_| {
                Failure::permanent(format!("provider '{}' has an invalid endpoint", row.name))
            })?;
            let host = url.host_str().unwrap_or_default().to_string();
            let port = url.port_or_known_default().unwrap_or(443);
            (host, port)
        }
    };
    let offline =
        |why: &str| Failure::offline(format!("provider '{}' is offline: {}", row.name, why));
    let addrs = std::net::ToSocketAddrs::to_socket_addrs(&(host.as_str(), port))
        .map_err(|_| offline(&format!("cannot find the host {host}")))?;
    for addr in addrs {
        if std::net::TcpStream::connect_timeout(&addr, std::time::Duration::from_secs(3)).is_ok() {
            return Ok(());
        }
    }
    Err(offline(&format!("nothing answers at {host}:{port}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// "No room" is its own kind, whatever the service says it with; other
    /// refusals keep theirs.
    #[test]
    fn no_room_is_told_apart_from_other_refusals() {
        let full = |f: Failure| (f.kind, f.message);
        let (kind, message) = full(status_failure(
            ProviderKind::Webdav,
            "dav",
            "writing",
            507,
            "",
        ));
        assert_eq!(kind, FailureKind::Full);
        assert!(message.contains("507 Insufficient Storage"), "{message}");
        let body = "<Error><Code>EntityTooLarge</Code></Error>";
        let (kind, message) = full(status_failure(ProviderKind::S3, "s3", "writing", 400, body));
        assert_eq!(kind, FailureKind::Full);
        assert!(message.contains("EntityTooLarge"), "{message}");
        let body = "<Error><Code>InvalidArgument</Code></Error>";
        let f = status_failure(ProviderKind::S3, "s3", "writing", 400, body);
        assert_eq!(f.kind, FailureKind::Transient);
        assert_eq!(
            status_failure(ProviderKind::S3, "s3", "writing", 403, "").kind,
            FailureKind::Permanent
        );

        let io = std::io::Error::from_raw_os_error(libc::ENOSPC);
        let err =
            opendal::Error::new(opendal::ErrorKind::Unexpected, "write failed").set_source(io);
        let f = explain(ProviderKind::Sftp, "box", "writing", &err);
        assert_eq!(f.kind, FailureKind::Full, "{}", f.message);
        let io = std::io::Error::from_raw_os_error(libc::EDQUOT);
        assert!(super::super::says_no_space(&io.to_string()), "{io}");
        let err = opendal::Error::new(opendal::ErrorKind::Unexpected, "status: 507, body: full");
        assert_eq!(
            explain(ProviderKind::Webdav, "dav", "writing", &err).kind,
            FailureKind::Full
        );
        let err = opendal::Error::new(opendal::ErrorKind::Unexpected, "status: 500");
        assert_eq!(
            explain(ProviderKind::Webdav, "dav", "writing", &err).kind,
            FailureKind::Transient
        );
    }
}
