//! Adding a provider, changing one and removing one: the one path the
//! command line (`provider add`, `provider remove`) and the window's
//! providers panel both take.
//!
//! A [`NewProvider`] says what a person asked for, kind by kind. [`register`]
//! checks it (an endpoint is an http(s) URL without a user or password in it;
//! an SFTP key file is readable and the host's key is known, or trusted on
//! request; a local folder is usable, and made if missing), builds the
//! settings the database keeps (never the secret: only which store holds
//! it, the OS keychain or a file), adds the row, stores the secret there and
//! opens the provider once; when a step fails, what the earlier steps did is
//! undone. [`update`] does the same for an existing provider, where no secret
//! means "keep the stored one".

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use super::{Provider, check_local_root, sftp};
use crate::crypto::Passphrase;
use crate::secrets::{Secret, SecretStore, provider_label};
use crate::store::{ProviderKind, ProviderRow, Store};

/// A provider as a person describes it: name, ops at once, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NewProvider {
    pub name: String,
    /// Most ops running at once on it (1 to 64).
    pub concurrency: i64,
    pub target: Target,
}

/// Where a provider keeps its copies, with the non-secret settings of its
/// kind.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A folder (made if missing, when the folder above it is usable).
    Local { root: PathBuf },
    /// S3-compatible storage; the secret is the secret access key.
    S3 {
        endpoint: String,
        bucket: String,
        region: String,
        /// A folder inside the bucket.
        prefix: Option<String>,
        /// Address the bucket in the path instead of the host name.
        path_style: bool,
        access_key_id: String,
    },
    /// WebDAV; the secret is the password.
    Webdav {
        endpoint: String,
        /// A folder on the server.
        root: Option<String>,
        user: String,
    },
    /// SFTP with a private key file (no secret in the store).
    Sftp {
        host: String,
        port: u16,
        user: String,
        key: PathBuf,
        /// A folder on the server.
        root: Option<String>,
        /// Trust a host that is not in known_hosts yet, adding its keys.
        trust_new_host: bool,
    },
}

impl Target {
    pub fn kind(&self) -> ProviderKind {
        match self {
            Target::Local { .. } => ProviderKind::Local,
            Target::S3 { .. } => ProviderKind::S3,
            Target::Webdav { .. } => ProviderKind::Webdav,
            Target::Sftp { .. } => ProviderKind::Sftp,
        }
    }

    /// What the secret of this kind is called, if it has one.
    pub fn secret_name(&self) -> Option<&'static str> {
        match self {
            Target::S3 { .. } => Some("secret access key"),
            Target::Webdav { .. } => Some("password"),
            Target::Local { .. } | Target::Sftp { .. } => None,
        }
    }
}

impl NewProvider {
    /// What a stored provider's settings say, to be changed and saved with
    /// [`update`]. Missing settings read as empty.
    pub fn from_row(row: &ProviderRow) -> NewProvider {
        let text = |key: &str| {
            row.settings
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let optional = |key: &str| Some(text(key)).filter(|s| !s.is_empty());
        let target = match row.kind {
            ProviderKind::Local => Target::Local {
                root: text("root").into(),
            },
            ProviderKind::S3 => Target::S3 {
                endpoint: text("endpoint"),
                bucket: text("bucket"),
                region: text("region"),
                prefix: optional("prefix"),
                path_style: row
                    .settings
                    .get("path_style")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false),
                access_key_id: text("access_key_id"),
            },
            ProviderKind::Webdav => Target::Webdav {
                endpoint: text("endpoint"),
                root: optional("root"),
                user: text("user"),
            },
            ProviderKind::Sftp => Target::Sftp {
                host: text("host"),
                port: row
                    .settings
                    .get("port")
                    .and_then(|v| v.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(22),
                user: text("user"),
                key: text("key").into(),
                root: optional("root"),
                trust_new_host: false,
            },
        };
        NewProvider {
            name: row.name.clone(),
            concurrency: row.concurrency,
            target,
        }
    }

    /// The checks that need neither disk nor network: the command line runs
    /// them before it reads a secret from standard input.
    pub fn check(&self) -> anyhow::Result<()> {
        if !(1..=64).contains(&self.concurrency) {
            bail!("the concurrency must be from 1 to 64");
        }
        match &self.target {
            Target::S3 { endpoint, .. } | Target::Webdav { endpoint, .. } => check_url(endpoint),
            Target::Local { .. } | Target::Sftp { .. } => Ok(()),
        }
    }
}

fn check_url(endpoint: &str) -> anyhow::Result<()> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        bail!("the endpoint must be an http:// or https:// URL");
    }
    if endpoint.contains('@') {
        bail!("the endpoint must not hold a user name or password; give the secret on its own");
    }
    Ok(())
}

/// A provider just added or saved.
#[derive(Debug)]
pub struct Registered {
    pub row: ProviderRow,
    /// When an SFTP host's keys were trusted on the way: which, and where
    /// they were added (several lines, one per key).
    pub trusted_host: Option<String>,
    /// Why the provider, saved, cannot be used yet (nothing answers at its
    /// address): its ops wait until it answers.
    pub offline: Option<String>,
    /// For a provider that encrypts: which key it got, in words.
    pub encrypted: Option<String>,
}

/// Where a provider's secret is kept, in words, if it has one.
pub fn secret_store(row: &ProviderRow) -> Option<String> {
    SecretStore::of(&row.settings).map(|s| s.to_string())
}

/// The settings to store, once checked, and the note on a trusted host.
struct Prepared {
    settings: serde_json::Value,
    trusted_host: Option<String>,
}

/// Checks `spec` against disk and network (the local folder, the SFTP key
/// and host; [`NewProvider::check`] has passed) and builds its settings; a
/// secret, if the kind has one, is named as kept in `secrets`.
fn prepare(spec: &NewProvider, secrets: Option<&SecretStore>) -> anyhow::Result<Prepared> {
    let mut trusted_host = None;
    let settings = match &spec.target {
        Target::Local { root } => {
            let name = &spec.name;
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                check_local_root(name, parent)
                    .map_err(|f| anyhow!("{f}"))
                    .context("the folder that should hold the root is not usable")?;
            }
            if !root.exists() {
                std::fs::create_dir(root)
                    .with_context(|| format!("cannot create {}", root.display()))?;
            }
            check_local_root(name, root).map_err(|f| anyhow!("{f}"))?;
            let root = std::path::absolute(root)?;
            serde_json::json!({ "root": root })
        }
        Target::S3 {
            endpoint,
            bucket,
            region,
            prefix,
            path_style,
            access_key_id,
        } => serde_json::json!({
            "endpoint": endpoint,
            "bucket": bucket,
            "region": region,
            "prefix": prefix,
            "path_style": path_style,
            "access_key_id": access_key_id,
        }),
        Target::Webdav {
            endpoint,
            root,
            user,
        } => serde_json::json!({
            "endpoint": endpoint,
            "root": root,
            "user": user,
        }),
        Target::Sftp {
            host,
            port,
            user,
            key,
            root,
            trust_new_host,
        } => {
            let key = std::path::absolute(key)?;
            std::fs::File::open(&key)
                .with_context(|| format!("cannot read the key file {}", key.display()))?;
            if let Some(fingerprints) =
                sftp::check_host(host, *port, *trust_new_host).map_err(anyhow::Error::msg)?
            {
                trusted_host = Some(format!(
                    "trusted the host key of {host}:{port}, added to {}:\n{}",
                    sftp::known_hosts_path().display(),
                    fingerprints.trim_end()
                ));
            }
            serde_json::json!({
                "host": host,
                "port": port,
                "user": user,
                "key": key,
                "root": root,
            })
        }
    };
    let mut settings = settings;
    if let Some(secrets) = secrets {
        let (key, value) = secrets.setting();
        settings[key] = value;
    }
    Ok(Prepared {
        settings,
        trusted_host,
    })
}

/// The secret to store: required (and not empty) when adding a kind that
/// has one, refused for a kind that has none.
fn check_secret(target: &Target, secret: Option<&Secret>, adding: bool) -> anyhow::Result<()> {
    match (target.secret_name(), secret) {
        (Some(what), None) if adding => bail!("a {} provider needs its {what}", kind_words(target)),
        (Some(what), Some(s)) if s.expose().is_empty() => bail!("the {what} is empty"),
        (None, Some(_)) => bail!("a {} provider takes no secret", kind_words(target)),
        _ => Ok(()),
    }
}

/// Where the secret of a provider of this kind goes: the store it already
/// has, or the one a new provider of the library at `db` gets; none for a
/// kind without a secret.
fn secret_store_for(
    target: &Target,
    current: Option<SecretStore>,
    db: &Path,
) -> anyhow::Result<Option<SecretStore>> {
    if target.secret_name().is_none() {
        return Ok(None);
    }
    match current {
        Some(store) => Ok(Some(store)),
        None => SecretStore::for_new_provider(db)
            .map(Some)
            .map_err(|e| anyhow!("{e}")),
    }
}

fn kind_words(target: &Target) -> &'static str {
    match target {
        Target::Local { .. } => "local-folder",
        Target::S3 { .. } => "S3",
        Target::Webdav { .. } => "WebDAV",
        Target::Sftp { .. } => "SFTP",
    }
}

/// Stores the secret (if given) and opens the provider once, as a last check
/// of its settings.
fn finish(row: &ProviderRow, secret: Option<&Secret>) -> anyhow::Result<()> {
    if let Some(secret) = secret {
        let store = SecretStore::of(&row.settings).context("the settings name no secret store")?;
        store
            .store(&row.id, &provider_label(&row.name), secret)
            .map_err(|e| anyhow!("cannot save the secret in {store}: {e}"))?;
    }
    Provider::open(row).map_err(|f| anyhow!("{f}"))?;
    Ok(())
}

/// Makes the provider just added (`row`) encrypt: enrolled with
/// `passphrase` (see `crypto::enroll`), its settings name the key, and it
/// opens with it. Returns its row as it now is, and what was done.
fn encrypting(
    store: &mut Store,
    db: &Path,
    row: &ProviderRow,
    passphrase: &Passphrase,
) -> anyhow::Result<(ProviderRow, String)> {
    let provider = Provider::open(row).map_err(|f| anyhow!("{f}"))?;
    let enrolled = crate::crypto::enroll::enroll(store, db, &provider, passphrase)?;
    let mut settings = row.settings.clone();
    settings["encryption"] = enrolled.entry;
    store.update_provider(&row.id, &row.name, &settings, row.concurrency)?;
    let row = store.provider(&row.id)?;
    Provider::open(&row).map_err(|f| anyhow!("{f}"))?;
    Ok((row, enrolled.note))
}

/// A failure after an SFTP host was trusted says so: its keys stay in
/// known_hosts.
fn with_trust_note(e: anyhow::Error, trusted_host: &Option<String>) -> anyhow::Error {
    match trusted_host {
        Some(note) => anyhow!("{e:#}\n(before that, {note})"),
        None => e,
    }
}

/// Removes a provider from the library (its ops and its record of copies;
/// the files on the provider stay) and forgets its secret. Returns the ops
/// removed.
pub fn remove(store: &mut Store, id: &str) -> Result<usize, crate::store::StoreError> {
    let secrets = SecretStore::of(&store.provider(id)?.settings);
    let removed = store.remove_provider(id)?;
    if let Some(secrets) = secrets
        && let Err(e) = secrets.remove(id)
    {
        tracing::warn!("cannot forget the secret in {secrets}: {e}");
    }
    Ok(removed)
}

/// Adds a provider to the library at `db`: checks it, builds its settings,
/// adds its row, stores its secret (S3 and WebDAV need one) in the OS
/// keychain or the secrets file beside `db`, and opens it once. On failure nothing stays behind
/// (but a host key trusted on request, which the error then mentions).
pub fn register(
    store: &mut Store,
    db: &Path,
    spec: NewProvider,
    secret: Option<Secret>,
    encrypt: Option<&Passphrase>,
) -> anyhow::Result<Registered> {
    spec.check()?;
    check_secret(&spec.target, secret.as_ref(), true)?;
    let secrets = secret_store_for(&spec.target, None, db)?;
    let Prepared {
        settings,
        trusted_host,
    } = prepare(&spec, secrets.as_ref())?;
    let row = store
        .add_provider(&spec.name, spec.target.kind(), &settings, spec.concurrency)
        .map_err(|e| with_trust_note(e.into(), &trusted_host))?;
    let done = finish(&row, secret.as_ref()).and_then(|()| match encrypt {
        Some(passphrase) => encrypting(store, db, &row, passphrase).map(Some),
        None => Ok(None),
    });
    let (row, encrypted) = match done {
        Ok(Some((row, note))) => (row, Some(note)),
        Ok(None) => (row, None),
        Err(e) => {
            let _ = remove(store, &row.id);
            return Err(with_trust_note(e, &trusted_host));
        }
    };
    let offline = super::reachable(&row).err().map(|f| f.message);
    Ok(Registered {
        row,
        trusted_host,
        offline,
        encrypted,
    })
}

/// Whether a provider being saved encrypts.
#[derive(Clone, Debug)]
pub enum Encryption {
    /// As it does now.
    Keep,
    /// From now on, with the key locked with this passphrase on it.
    Start(Passphrase),
    /// No longer.
    Stop,
}

/// Refuses a change of encryption on a provider that holds copies (they
/// were written the way it is now), with the reason.
fn check_encryption_change(
    store: &Store,
    old: &ProviderRow,
    change: &Encryption,
) -> anyhow::Result<()> {
    let encrypts = old.settings.get("encryption").is_some();
    let what = match change {
        Encryption::Start(_) if !encrypts => "start encrypting",
        Encryption::Stop if encrypts => "stop encrypting",
        _ => return Ok(()),
    };
    let held = store.copy_count_on(&old.id)?;
    if held > 0 {
        bail!(
            "provider '{}' holds {held} {}: it cannot {what} now (encryption is chosen while a \
             provider holds none; add another provider instead)",
            old.name,
            if held == 1 { "copy" } else { "copies" },
        );
    }
    Ok(())
}

/// Changes the provider `id` (of the library at `db`) to what `spec` says:
/// the same checks as [`register`]; its kind stays. With a secret, that
/// replaces the stored one; without, the stored one is kept. Its
/// encryption changes as `encryption` says, only while it holds no
/// copies. On failure the provider is left as it was.
pub fn update(
    store: &mut Store,
    db: &Path,
    id: &str,
    spec: NewProvider,
    secret: Option<Secret>,
    encryption: Encryption,
) -> anyhow::Result<Registered> {
    let old = store.provider(id)?;
    if spec.target.kind() != old.kind {
        bail!(
            "provider '{}' is {}: its kind cannot change",
            old.name,
            old.kind.as_str()
        );
    }
    check_encryption_change(store, &old, &encryption)?;
    spec.check()?;
    check_secret(&spec.target, secret.as_ref(), false)?;
    let secrets = secret_store_for(&spec.target, SecretStore::of(&old.settings), db)?;
    let Prepared {
        mut settings,
        trusted_host,
    } = prepare(&spec, secrets.as_ref())?;
    // It keeps encrypting unless told to stop (a start is enrolled below,
    // once the rest is saved).
    if let Some(entry) = old.settings.get("encryption")
        && !matches!(encryption, Encryption::Stop)
    {
        settings["encryption"] = entry.clone();
    }
    store
        .update_provider(id, &spec.name, &settings, spec.concurrency)
        .map_err(|e| with_trust_note(e.into(), &trusted_host))?;
    let old_secret = match &secret {
        Some(_) => secrets.as_ref().and_then(|s| s.load(id).ok().flatten()),
        None => None,
    };
    let row = store.provider(id);
    let done = row
        .map_err(anyhow::Error::from)
        .and_then(|row| finish(&row, secret.as_ref()).map(|()| row))
        .and_then(|row| match &encryption {
            Encryption::Start(passphrase) if old.settings.get("encryption").is_none() => {
                encrypting(store, db, &row, passphrase).map(|(row, note)| (row, Some(note)))
            }
            _ => Ok((row, None)),
        });
    match done {
        Ok((row, encrypted)) => {
            let offline = super::reachable(&row).err().map(|f| f.message);
            Ok(Registered {
                row,
                trusted_host,
                offline,
                encrypted,
            })
        }
        Err(e) => {
            let _ = store.update_provider(id, &old.name, &old.settings, old.concurrency);
            if let (Some(_), Some(secrets)) = (&secret, &secrets) {
                let _ = match &old_secret {
                    Some(s) => secrets.store(id, &provider_label(&old.name), s),
                    None => secrets.remove(id),
                };
            }
            Err(with_trust_note(e, &trusted_host))
        }
    }
}
