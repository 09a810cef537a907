//! Restore: queues downloads of the assets asked for so that each lands in
//! a folder at every path it was recorded under (the engine's downloads
//! carry them out, see `engine::restore`). For the command line and the
//! window alike.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Serialize;

use crate::providers::{Provider, reachable};
use crate::store::{NewOp, OpType, ProviderKind, ProviderRow, Store};

/// What to restore, and where.
#[derive(Clone, Debug, Default)]
pub struct RestoreRequest {
    pub into: PathBuf,
    /// From this provider only [default: the best one holding each asset].
    pub provider: Option<String>,
    /// These assets only.
    pub hashes: Vec<String>,
    /// Only the recorded paths these globs match.
    pub globs: Vec<String>,
    pub priority: i64,
}

/// What a restore queued.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RestorePlan {
    /// The restore folder, as the library records it.
    pub into: String,
    /// Files to make, and the assets they hold.
    pub files: usize,
    pub assets: usize,
    /// Downloads queued (an asset already being downloaded has none more).
    pub queued: usize,
    /// Assets not restored, and why (no path recorded, no good copy on the
    /// provider asked for).
    pub skipped: Vec<String>,
}

/// Checks the folder, picks a provider per asset and queues the downloads.
/// Nothing is queued if the folder cannot be used.
pub fn restore(store: &mut Store, req: &RestoreRequest) -> anyhow::Result<RestorePlan> {
    let providers = store.providers()?;
    let into = restore_folder(&req.into, &providers)?;
    let chosen: Vec<&ProviderRow> = match &req.provider {
        Some(name) => {
            let row = providers
                .iter()
                .find(|p| &p.name == name)
                .with_context(|| format!("no provider named '{name}'"))?;
            vec![row]
        }
        None => providers.iter().filter(|p| p.enabled).collect(),
    };
    let ids: Vec<String> = chosen.iter().map(|p| p.id.clone()).collect();
    let globs = glob_set(&req.globs)?;
    for hash in &req.hashes {
        if store.asset(hash)?.is_none() {
            bail!("no asset with hash {hash} in this library");
        }
    }
    let mut candidates = store.restorable(&ids)?;
    if !req.hashes.is_empty() {
        candidates.retain(|c| req.hashes.contains(&c.content_hash));
        for hash in &req.hashes {
            if !candidates.iter().any(|c| &c.content_hash == hash) {
                bail!(
                    "asset {hash} has no good copy on {}",
                    match &req.provider {
                        Some(name) => format!("provider '{name}'"),
                        None => "an enabled provider".into(),
                    }
                );
            }
        }
    }
    // Online providers first; each looked at once.
    let online: Vec<bool> = chosen.iter().map(|p| is_online(p)).collect();
    let online_ids: Vec<&str> = (chosen.iter().zip(&online))
        .filter(|(_, up)| **up)
        .map(|(p, _)| p.id.as_str())
        .collect();
    let mut plan = RestorePlan {
        into: into.to_string_lossy().into_owned(),
        ..RestorePlan::default()
    };
    let (mut targets, mut ops) = (Vec::new(), Vec::new());
    for c in candidates {
        let mut paths: Vec<String> = c
            .paths
            .iter()
            .filter(|p| globs.as_ref().is_none_or(|g| g.is_match(p.as_str())))
            .cloned()
            .collect();
        if c.paths.is_empty() && req.hashes.contains(&c.content_hash) {
            // Asked for by hash and never named: it is restored by its hash.
            paths.push(c.content_hash.clone());
        }
        if paths.is_empty() {
            if globs.is_none() {
                plan.skipped.push(format!(
                    "{}: no path recorded (restore it with --hash {0})",
                    c.content_hash
                ));
            }
            continue;
        }
        // The most recently verified holder that is online, else the most
        // recently verified (its download then waits for it).
        let provider = (c.held_by.iter())
            .find(|id| online_ids.contains(&id.as_str()))
            .or(c.held_by.first())
            .cloned();
        let Some(provider_id) = provider else {
            continue;
        };
        plan.assets += 1;
        plan.files += paths.len();
        targets.extend(paths.into_iter().map(|p| (c.content_hash.clone(), p)));
        ops.push(NewOp {
            content_hash: c.content_hash,
            provider_id,
            operation_type: OpType::Download,
            priority: req.priority,
            total_bytes: c.size_bytes,
        });
    }
    store.add_restore_targets(&plan.into, &targets)?;
    plan.queued = store.enqueue(&ops)?.len();
    Ok(plan)
}

/// The restore folder, made if missing, as an absolute path: refused if it
/// is a file, cannot be written, or is inside a local provider's folder.
fn restore_folder(into: &Path, providers: &[ProviderRow]) -> anyhow::Result<PathBuf> {
    let shown = into.display();
    if into.exists() && !into.is_dir() {
        bail!("cannot restore into {shown}: it is a file, not a folder");
    }
    std::fs::create_dir_all(into)
        .with_context(|| format!("cannot restore into {shown}: the folder cannot be made"))?;
    let dir =
        std::fs::canonicalize(into).with_context(|| format!("cannot restore into {shown}"))?;
    let probe = dir.join(format!(".breakdex-probe-{}", crate::store::new_id()));
    std::fs::write(&probe, b"")
        .with_context(|| format!("cannot restore into {shown}: the folder is not writable"))?;
    let _ = std::fs::remove_file(&probe);
    for p in providers.iter().filter(|p| p.kind == ProviderKind::Local) {
        let Some(root) = p.settings.get("root").and_then(|r| r.as_str()) else {
            continue;
        };
        if let Ok(root) = std::fs::canonicalize(root)
            && dir.starts_with(&root)
        {
            bail!(
                "cannot restore into {shown}: it is inside the folder of provider '{}' ({})",
                p.name,
                root.display()
            );
        }
    }
    Ok(dir)
}

fn glob_set(globs: &[String]) -> anyhow::Result<Option<globset::GlobSet>> {
    if globs.is_empty() {
        return Ok(None);
    }
    let mut set = globset::GlobSetBuilder::new();
    for g in globs {
        set.add(
            globset::GlobBuilder::new(g)
                .literal_separator(true)
                .build()
                .with_context(|| format!("--path {g:?} is not a glob"))?,
        );
    }
    Ok(Some(set.build()?))
}

/// Whether a provider answers now.
fn is_online(row: &ProviderRow) -> bool {
    Provider::open(row)
        .and_then(|p| p.check_online())
        .and_then(|()| reachable(row))
        .is_ok()
}
