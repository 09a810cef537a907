//! SFTP: host, port, user, private key file, root folder. OpenDAL runs the
//! system `ssh` with strict host-key checking against the user's
//! `~/.ssh/known_hosts` (the file `ssh` itself reads: the home folder of the
//! account, not `$HOME`). Breakdex checks that file before it adds a
//! provider, says plainly when the host is unknown, and trusts a new host
//! only when asked to (`--trust-new-host`), by appending its scanned keys.

use std::io::Write;
use std::path::PathBuf;
use std::process::Command;

use opendal::Operator;

use super::Failure;
use super::remote::{required, setting};
use crate::store::ProviderRow;

/// The SFTP operator a provider row describes.
pub fn operator(row: &ProviderRow) -> Result<Operator, Failure> {
    let host = required(row, "host")?;
    let port = row
        .settings
        .get("port")
        .and_then(|v| v.as_u64())
        .unwrap_or(22);
    let mut builder = opendal::services::Sftp::default()
        .endpoint(&format!("ssh://{host}:{port}"))
        .user(required(row, "user")?)
        .key(required(row, "key")?)
        .known_hosts_strategy("strict");
    if let Some(root) = setting(row, "root") {
        builder = builder.root(root);
    }
    Operator::new(builder)
        .map_err(|e| Failure::permanent(format!("provider '{}': {}", row.name, e.kind())))
}

/// The known_hosts file `ssh` reads for this account.
pub fn known_hosts_path() -> PathBuf {
    // SAFETY: getpwuid returns a pointer into static storage or null; the
    // home folder is copied out at once.
    let home = unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() || (*pw).pw_dir.is_null() {
            None
        } else {
            Some(PathBuf::from(
                std::ffi::CStr::from_ptr((*pw).pw_dir)
                    .to_string_lossy()
                    .into_owned(),
            ))
        }
    };
    home.or_else(std::env::home_dir)
        .unwrap_or_else(|| PathBuf::from("/"))
        .join(".ssh")
        .join("known_hosts")
}

/// How `ssh` names a host in known_hosts.
fn host_pattern(host: &str, port: u16) -> String {
    if port == 22 {
        host.to_string()
    } else {
        format!("[{host}]:{port}")
    }
}

/// Whether known_hosts holds a key for the host.
pub fn is_known(host: &str, port: u16) -> Result<bool, String> {
    let path = known_hosts_path();
    if !path.exists() {
        return Ok(false);
    }
    let out = Command::new("ssh-keygen")
        .arg("-F")
        .arg(host_pattern(host, port))
        .arg("-f")
        .arg(&path)
        .output()
        .map_err(|e| format!("cannot run ssh-keygen (is OpenSSH installed?): {e}"))?;
    Ok(out.status.success() && !out.stdout.is_empty())
}

/// The host's public keys as known_hosts lines, and their fingerprints.
pub fn scan(host: &str, port: u16) -> Result<(String, String), String> {
    let out = Command::new("ssh-keyscan")
        .args(["-T", "5", "-p", &port.to_string(), host])
        .output()
        .map_err(|e| format!("cannot run ssh-keyscan (is OpenSSH installed?): {e}"))?;
    let lines = String::from_utf8_lossy(&out.stdout).into_owned();
    if lines.trim().is_empty() {
        return Err(format!(
            "could not reach {host}:{port} to read its host key"
        ));
    }
    let mut keygen = Command::new("ssh-keygen")
        .args(["-l", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run ssh-keygen: {e}"))?;
    if let Some(mut stdin) = keygen.stdin.take() {
        let _ = stdin.write_all(lines.as_bytes());
    }
    let fingerprints = keygen
        .wait_with_output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    Ok((lines, fingerprints))
}

/// Checks the host is known; with `trust_new`, adds an unknown host's keys.
/// Returns the fingerprints added, if any.
pub fn check_host(host: &str, port: u16, trust_new: bool) -> Result<Option<String>, String> {
    if is_known(host, port)? {
        return Ok(None);
    }
    let (lines, fingerprints) = scan(host, port)?;
    let path = known_hosts_path();
    if !trust_new {
        return Err(format!(
            "the host {} is not in {}; its keys are:\n{}check them with the server's owner, \
             then trust the host on purpose (--trust-new-host on the command line, \
             \"Trust this host's key\" in the window)",
            host_pattern(host, port),
            path.display(),
            fingerprints
        ));
    }
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir);
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    file.write_all(lines.as_bytes())
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(Some(fingerprints))
}
