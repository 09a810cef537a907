//! Providers found full: an upload that met "no space" (a full disk, a
//! quota, WebDAV's 507, S3's EntityTooLarge) marks its provider full. Its
//! uploads are then held on the queue, without spending retries, while its
//! reads and deletes go on; every [`EngineConfig::full_recheck`] the engine
//! looks whether room came back (a local folder by its free space, a remote
//! one by letting its smallest upload try) and lets them go when it has.
//! The state is kept in the library (`store/space.rs`), so every engine and
//! window of it says the same.
//!
//! [`EngineConfig::full_recheck`]: super::EngineConfig::full_recheck

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::providers::multipart::Multipart;
use crate::providers::{Provider, temp_key};
use crate::store::{KeptChange, Result, Store};

/// The folder of temporary objects on every provider (see [`temp_key`]).
const TEMP_DIR: &str = ".breakdex-tmp/";
/// Most temporary files one look at a provider takes (the rest wait for
/// the next start).
const TEMPS_AT_ONCE: usize = 10_000;
/// How old a catalog segment's temporary file must be to be taken as left
/// over (a segment is written in seconds).
const STALE_CATALOG_TEMP: Duration = Duration::from_secs(3600);
/// Longest an engine's start waits for the providers' lists of temporary
/// files, and then for their removal.
const SWEEP_WAIT: Duration = Duration::from_secs(3);

/// The providers this engine holds uploads for because they are full.
pub(super) struct FullProviders {
    /// Each full provider, and when its room is looked at next.
    until: HashMap<String, Instant>,
    recheck: Duration,
}

impl FullProviders {
    /// The providers the library records as full; their holds ended when
    /// the engine started, so their uploads each try once more now.
    pub(super) fn load(store: &Store, recheck: Duration) -> Result<FullProviders> {
        let now = Instant::now();
        let until = (store.full_providers()?.into_keys())
            .map(|id| (id, now + recheck))
            .collect();
        Ok(FullProviders { until, recheck })
    }

    /// An upload to `provider_id` met "no space": it is recorded full and
    /// its uploads held until the next look.
    pub(super) fn found_full(&mut self, store: &mut Store, provider_id: &str, message: &str) {
        if !self.until.contains_key(provider_id) {
            tracing::warn!("{message}: its uploads wait until it has room");
        }
        self.until
            .insert(provider_id.to_string(), Instant::now() + self.recheck);
        let held = store
            .set_full(provider_id, Some(message))
            .and_then(|()| store.hold_uploads(provider_id, self.recheck));
        if let Err(e) = held {
            tracing::warn!("cannot record that provider {provider_id} is full: {e}");
        }
    }

    /// An upload to `provider_id` landed: if it was full, it has room again
    /// and its other uploads go.
    pub(super) fn upload_fit(&mut self, store: &mut Store, provider_id: &str) {
        if self.until.remove(provider_id).is_some() {
            self.clear(store, provider_id);
        }
    }

    fn clear(&mut self, store: &mut Store, provider_id: &str) {
        let cleared = store
            .set_full(provider_id, None)
            .and_then(|()| store.end_holds(provider_id, false));
        match cleared {
            Ok(n) => tracing::info!("provider {provider_id} has room again: {n} uploads go"),
            Err(e) => tracing::warn!("cannot record that provider {provider_id} has room: {e}"),
        }
    }

    /// The look at the full providers whose time came: one with nothing
    /// waiting any more is no longer full; a local folder whose file system
    /// now has room for the smallest waiting upload lets them all go (the
    /// record stays until one lands); where the free space cannot be known
    /// (a remote provider), the smallest tries alone.
    pub(super) fn recheck(
        &mut self,
        store: &mut Store,
        opened: impl Fn(&str) -> Option<Provider>,
    ) -> Result<()> {
        let now = Instant::now();
        let due: Vec<String> = (self.until.iter())
            .filter(|(_, t)| **t <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            let waiting = store.waiting_uploads(&id)?;
            if waiting.count == 0 {
                self.until.remove(&id);
                self.clear(store, &id);
                continue;
            }
            self.until.insert(id.clone(), now + self.recheck);
            store.hold_uploads(&id, self.recheck)?;
            match opened(&id).and_then(|p| p.free_bytes()) {
                Some(free) if free > waiting.smallest => {
                    store.end_holds(&id, false)?;
                }
                Some(_) => {}
                None => {
                    store.end_holds(&id, true)?;
                }
            }
        }
        Ok(())
    }

    /// The providers whose uploads wait for room: a run that ends when idle
    /// does not wait for them.
    pub(super) fn holding(&self) -> Vec<String> {
        self.until.keys().cloned().collect()
    }
}

/// Removes the temporary files (`.breakdex-tmp/<op id>.part`) on the
/// enabled providers that no live op owns: those of a crash, or of ops
/// since finished or removed; and the catalog's left over (see [`Temps`]). Run as an engine starts, before it claims
/// anything; the ops still live keep theirs (their next attempt writes over
/// it, or the engine running one needs it). Providers that do not answer
/// within [`SWEEP_WAIT`] are left for the next start. The S3 uploads in
/// parts kept for ops no longer live are aborted on the server, first.
pub(super) fn sweep_temps(store: &mut Store, runtime: &tokio::runtime::Runtime) -> Result<()> {
    let providers: Vec<Provider> = (store.providers()?.iter())
        .filter(|row| row.enabled)
        .filter_map(|row| Provider::open(row).ok())
        .filter(|p| p.check_online().is_ok())
        .collect();
    abort_orphan_uploads(store, runtime, &providers)?;
    let listed = runtime.block_on(futures::future::join_all(providers.iter().map(
        |p| async move {
            let temps = tokio::time::timeout(SWEEP_WAIT, temps_on(p)).await;
            (p, temps.unwrap_or_default())
        },
    )));
    for (provider, temps) in listed {
        if temps.ops.is_empty() && temps.stale.is_empty() {
            continue;
        }
        let orphans = store.not_live(&temps.ops)?;
        let keys: Vec<String> = (orphans.iter().map(|id| temp_key(id)))
            .chain(temps.stale)
            .collect();
        let removed = runtime.block_on(async {
            let deletes =
                (keys.iter()).map(|key| async move { provider.operator().delete(key).await });
            let done = futures::future::join_all(deletes);
            let done = tokio::time::timeout(SWEEP_WAIT, done)
                .await
                .unwrap_or_default();
            done.iter().filter(|d| d.is_ok()).count()
        });
        if removed > 0 {
            tracing::info!(
                "removed {removed} temporary files no op owns from provider '{}'",
                provider.name
            );
        }
    }
    Ok(())
}

/// Aborts, on the server, the kept S3 uploads of ops no longer live (an op
/// cancelled or removed while its upload was cut off) and forgets them;
/// those of providers not at hand, or that do not answer within
/// [`SWEEP_WAIT`], wait for the next start.
fn abort_orphan_uploads(
    store: &mut Store,
    runtime: &tokio::runtime::Runtime,
    providers: &[Provider],
) -> Result<()> {
    for up in store.orphan_uploads()? {
        let Some(provider) = providers.iter().find(|p| p.id == up.provider_id) else {
            continue;
        };
        let Some(signer) = provider.s3_signer() else {
            continue;
        };
        let aborted = runtime.block_on(async {
            let abort = async {
                let mp = Multipart::of(provider, signer, &up.remote_key).await?;
                mp.abort(&up.upload_id).await
            };
            tokio::time::timeout(SWEEP_WAIT, abort).await
        });
        if let Ok(Ok(())) = aborted {
            tracing::info!(
                "aborted the unfinished upload of {} on provider '{}': its op is over",
                up.remote_key,
                provider.name
            );
            store.keep_upload(&KeptChange::Forget { op_id: up.op_id })?;
        }
    }
    Ok(())
}

/// What a provider's temporary folder holds that may be left over.
#[derive(Default)]
struct Temps {
    /// The ops whose temporary file (`.breakdex-tmp/<op id>.part`) is there.
    ops: Vec<String>,
    /// The catalog's temporary files (`catalog-<id>.part`) older than
    /// [`STALE_CATALOG_TEMP`]: an engine killed while writing a segment left
    /// them (another engine may be writing a newer one right now).
    stale: Vec<String>,
}

/// At most [`TEMPS_AT_ONCE`] of each; none if the folder cannot be listed.
async fn temps_on(provider: &Provider) -> Temps {
    let op = provider.operator();
    let Ok(entries) = op.list(TEMP_DIR).await else {
        return Temps::default();
    };
    let is_op = |id: &str| id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
    let ops = (entries.iter())
        .filter_map(|e| e.name().strip_suffix(".part"))
        .filter(|id| is_op(id))
        .take(TEMPS_AT_ONCE)
        .map(str::to_string)
        .collect();
    let cutoff = opendal::raw::Timestamp::now() - STALE_CATALOG_TEMP;
    let mut stale = Vec::new();
    let catalog = (entries.iter())
        .filter(|e| e.name().starts_with("catalog-") && e.name().ends_with(".part"))
        .take(TEMPS_AT_ONCE);
    for entry in catalog {
        let modified = op
            .stat(entry.path())
            .await
            .ok()
            .and_then(|m| m.last_modified());
        if modified.is_some_and(|t| t < cutoff) {
            stale.push(entry.path().to_string());
        }
    }
    Temps { ops, stale }
}
