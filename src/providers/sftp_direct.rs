//! Breakdex's own SFTP session, beside OpenDAL's, for the one thing
//! OpenDAL's SFTP writer cannot do: go on writing an upload's temporary
//! file where an earlier attempt stopped (it only writes files from their
//! start). Opened only to resume (`engine/executor.rs`), with the same
//! `ssh`, key and strict host-key checking as the provider's operator.

use std::path::PathBuf;

use openssh_sftp_client::file::TokioCompatFile;
use openssh_sftp_client::{Sftp, SftpOptions, openssh};
use tokio::io::{AsyncSeekExt, AsyncWriteExt};

use super::Failure;
use super::remote::{required, setting};
use crate::store::ProviderRow;

/// What it takes to open the session.
#[derive(Clone, Debug)]
pub struct Direct {
    name: String,
    endpoint: String,
    user: String,
    key: String,
    root: Option<String>,
}

/// A temporary file open to write on, at the end of what is kept of it.
pub struct Resumed {
    name: String,
    /// Writes in flight a few at a time, as OpenDAL's SFTP writer does.
    file: std::pin::Pin<Box<TokioCompatFile>>,
    /// Holds the session the file is open in.
    sftp: Sftp,
}

impl Direct {
    /// From the provider's settings, as `sftp::operator` reads them.
    pub fn of(row: &ProviderRow) -> Result<Direct, Failure> {
        let port = (row.settings.get("port"))
            .and_then(|v| v.as_u64())
            .unwrap_or(22);
        Ok(Direct {
            name: row.name.clone(),
            endpoint: format!("ssh://{}:{port}", required(row, "host")?),
            user: required(row, "user")?.to_string(),
            key: required(row, "key")?.to_string(),
            root: setting(row, "root").map(str::to_string),
        })
    }

    /// Opens the file at `key` (under the provider's root), cut to `keep`
    /// bytes, to write on from there.
    pub async fn write_on(&self, key: &str, keep: u64) -> Result<Resumed, Failure> {
        let failed = |what: &str, e: &dyn std::fmt::Display| {
            tracing::debug!("provider '{}': {what}: {e}", self.name);
            Failure::transient(format!(
                "cannot resume the upload on provider '{}' ({what})",
                self.name
            ))
        };
        let mut session = openssh::SessionBuilder::default();
        session
            .user(self.user.clone())
            .keyfile(&self.key)
            .known_hosts_check(openssh::KnownHosts::Strict);
        let session = (session.connect(&self.endpoint).await)
            .map_err(|e| failed("the SSH connection failed", &e))?;
        let sftp = (Sftp::from_session(session, SftpOptions::default()).await)
            .map_err(|e| failed("the SFTP session failed", &e))?;
        let path = match &self.root {
            Some(root) => PathBuf::from(root).join(key),
            None => PathBuf::from(key),
        };
        let mut file = (sftp.options().write(true).open(&path).await)
            .map_err(|e| failed("the temporary file cannot be opened", &e))?;
        (file.set_len(keep).await).map_err(|e| failed("the temporary file cannot be cut", &e))?;
        (file.seek(std::io::SeekFrom::Start(keep)).await)
            .map_err(|e| failed("the temporary file cannot be written", &e))?;
        Ok(Resumed {
            name: self.name.clone(),
            file: Box::pin(TokioCompatFile::new(file)),
            sftp,
        })
    }
}

impl Resumed {
    pub async fn write(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        (self.file.write_all(bytes).await).map_err(|e| self.failed(&e))
    }

    /// Waits for every write to be answered, then closes the file and the
    /// session (which waits for every file of it to be closed first).
    pub async fn close(mut self) -> Result<(), Failure> {
        (self.file.shutdown().await).map_err(|e| self.failed(&e))?;
        let Resumed { file, sftp, .. } = self;
        drop(file);
        let _ = sftp.close().await;
        Ok(())
    }

    fn failed(&self, e: &dyn std::fmt::Display) -> Failure {
        tracing::debug!("provider '{}': writing a resumed upload: {e}", self.name);
        Failure::transient(format!(
            "writing on provider '{}' failed: the connection was lost",
            self.name
        ))
    }
}
