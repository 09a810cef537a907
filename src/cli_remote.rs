//! The command line for providers: `provider add local|s3|webdav|sftp`
//! and `provider test`. Secrets come from standard input only
//! (`--secret-stdin`) and go to the secret store, never to the database.
//! The checks and the adding itself are `providers::register`'s, shared
//! with the window.

use std::path::Path;
use std::process::ExitCode;

use crate::cli::ProviderAdd;
use crate::providers::register::{NewProvider, Target, register};
use crate::providers::{FailureKind, test_round_trip};
use crate::secrets::{self, Secret};
use crate::store::{ProviderRow, Store};

pub use crate::providers::register::secret_store;

/// What `provider add` was given, as the shared add path takes it.
fn new_provider(add: ProviderAdd) -> NewProvider {
    let (name, concurrency, target) = match add {
        ProviderAdd::Local {
            name,
            root,
            concurrency,
            ..
        } => (name, concurrency, Target::Local { root }),
        ProviderAdd::S3 {
            name,
            endpoint,
            bucket,
            region,
            prefix,
            path_style,
            access_key_id,
            concurrency,
            ..
        } => (
            name,
            concurrency,
            Target::S3 {
                endpoint,
                bucket,
                region,
                prefix,
                path_style,
                access_key_id,
            },
        ),
        ProviderAdd::Webdav {
            name,
            endpoint,
            root,
            user,
            concurrency,
            ..
        } => (
            name,
            concurrency,
            Target::Webdav {
                endpoint,
                root,
                user,
            },
        ),
        ProviderAdd::Sftp {
            name,
            host,
            port,
            user,
            key,
            root,
            trust_new_host,
            concurrency,
            ..
        } => (
            name,
            concurrency,
            Target::Sftp {
                host,
                port,
                user,
                key,
                root,
                trust_new_host,
            },
        ),
    };
    NewProvider {
        name,
        concurrency,
        target,
    }
}

/// Adds a provider; its secret (if any) is read from standard input and
/// goes to the secret store. Returns its row.
pub fn add(store: &mut Store, db: &Path, add: ProviderAdd) -> anyhow::Result<ProviderRow> {
    let crypt = add.crypt().clone();
    let spec = new_provider(add);
    // A bad endpoint is reported before anything waits on standard input.
    spec.check()?;
    let secret = match spec.target.secret_name() {
        Some(_) => Some(read_secret()?),
        None => None,
    };
    let passphrase = match crypt.encrypt {
        true => Some(crate::cli_identity::passphrase(
            crypt.passphrase_file.as_deref(),
        )?),
        false => None,
    };
    let added = register(store, db, spec, secret, passphrase.as_ref())?;
    if let Some(trusted) = &added.trusted_host {
        println!("{trusted}");
    }
    if let Some(offline) = &added.offline {
        eprintln!("breakdex: {offline}; it is added, and its operations wait until it answers");
    }
    println!(
        "added provider '{}' ({}{}{})",
        added.row.name,
        added.row.kind.as_str(),
        secret_store(&added.row)
            .map(|s| format!(", secret in {s}"))
            .unwrap_or_default(),
        if added.encrypted.is_some() {
            ", encrypted"
        } else {
            ""
        }
    );
    if let Some(note) = &added.encrypted {
        println!("{note}");
        println!("{}", crate::crypto::KEEP_IT_SAFE);
    }
    Ok(added.row)
}

fn read_secret() -> anyhow::Result<Secret> {
    secrets::read_stdin().map_err(|e| anyhow::anyhow!("cannot read the secret: {e}"))
}

/// `provider test NAME`: a real round trip, with a verdict. Exits 1 when it
/// failed, 3 when the provider is offline.
pub fn test(store: &Store, name: &str) -> anyhow::Result<ExitCode> {
    let row = store.require_provider(name)?;
    match test_round_trip(&row) {
        Ok(took) => {
            println!(
                "provider '{}' works: wrote, read back and deleted a probe in {} ms",
                row.name,
                took.as_millis()
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(f) => {
            eprintln!("breakdex: provider '{}' failed the test: {f}", row.name);
            Ok(ExitCode::from(if f.kind == FailureKind::Offline {
                3
            } else {
                1
            }))
        }
    }
}
