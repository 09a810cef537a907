//! The command line for providers: `provider add local|s3|webdav|sftp`
//! and `provider test`. Secrets come from standard input only
//! (`--secret-stdin`) and go to the secret store, never to the database.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use crate::cli::ProviderAdd;
use crate::providers::{FailureKind, Provider, check_local_root, sftp, test_round_trip};
use crate::secrets::{self, Secret};
use crate::store::{ProviderKind, ProviderRow, Store};

/// Where a provider's secret is kept, in words, if it has one.
pub fn secret_store(row: &ProviderRow) -> Option<String> {
    row.settings
        .get("secret_file")
        .and_then(|v| v.as_str())
        .map(|p| format!("file {p}"))
}

fn check_url(endpoint: &str) -> anyhow::Result<()> {
    if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
        bail!("--endpoint must be an http:// or https:// URL");
    }
    if endpoint.contains('@') {
        bail!("--endpoint must not hold a user name or password; use --secret-stdin");
    }
    Ok(())
}

/// Adds a provider; its secret (if any) goes to the secret store.
pub fn add(store: &mut Store, db: &Path, add: ProviderAdd) -> anyhow::Result<()> {
    let secret_file = secrets::secrets_path(db);
    let (name, kind, settings, concurrency, secret) = match add {
        ProviderAdd::Local {
            name,
            root,
            concurrency,
        } => {
            if let Some(parent) = root.parent().filter(|p| !p.as_os_str().is_empty()) {
                check_local_root(&name, parent)
                    .map_err(|f| anyhow::anyhow!("{f}"))
                    .context("the folder that should hold the root is not usable")?;
            }
            if !root.exists() {
                std::fs::create_dir(&root)
                    .with_context(|| format!("cannot create {}", root.display()))?;
            }
            check_local_root(&name, &root).map_err(|f| anyhow::anyhow!("{f}"))?;
            let root = std::path::absolute(&root)?;
            let settings = serde_json::json!({ "root": root });
            (name, ProviderKind::Local, settings, concurrency, None)
        }
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
        } => {
            check_url(&endpoint)?;
            let secret = read_secret()?;
            let settings = serde_json::json!({
                "endpoint": endpoint,
                "bucket": bucket,
                "region": region,
                "prefix": prefix,
                "path_style": path_style,
                "access_key_id": access_key_id,
                "secret_file": secret_file,
            });
            (name, ProviderKind::S3, settings, concurrency, Some(secret))
        }
        ProviderAdd::Webdav {
            name,
            endpoint,
            root,
            user,
            concurrency,
            ..
        } => {
            check_url(&endpoint)?;
            let secret = read_secret()?;
            let settings = serde_json::json!({
                "endpoint": endpoint,
                "root": root,
                "user": user,
                "secret_file": secret_file,
            });
            (
                name,
                ProviderKind::Webdav,
                settings,
                concurrency,
                Some(secret),
            )
        }
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
        } => {
            let key = std::path::absolute(&key)?;
            std::fs::File::open(&key)
                .with_context(|| format!("cannot read the key file {}", key.display()))?;
            if let Some(fingerprints) =
                sftp::check_host(&host, port, trust_new_host).map_err(anyhow::Error::msg)?
            {
                println!(
                    "trusted the host key of {host}:{port}, added to {}:\n{}",
                    sftp::known_hosts_path().display(),
                    fingerprints.trim_end()
                );
            }
            let settings = serde_json::json!({
                "host": host,
                "port": port,
                "user": user,
                "key": key,
                "root": root,
            });
            (name, ProviderKind::Sftp, settings, concurrency, None)
        }
    };
    let row = store.add_provider(&name, kind, &settings, concurrency)?;
    if let Some(secret) = &secret
        && let Err(e) = secrets::store(&secret_file, &row.id, secret)
    {
        let _ = store.remove_provider(&row.id);
        bail!(
            "cannot save the secret in {}: {}",
            secret_file.display(),
            e.kind()
        );
    }
    if let Err(f) = Provider::open(&row) {
        let _ = store.remove_provider(&row.id);
        let _ = secrets::remove(&secret_file, &row.id);
        bail!("{f}");
    }
    println!(
        "added provider '{}' ({}{})",
        row.name,
        kind.as_str(),
        secret_store(&row)
            .map(|s| format!(", secret in {s}"))
            .unwrap_or_default()
    );
    Ok(())
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
