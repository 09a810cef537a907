//! Reading a provider back: every library's catalog segments on it, merged
//! (the union of all, as git-annex merges its logs), checked against the
//! objects the provider really holds, and brought into the library.
//!
//! What the provider holds is what its listing says: an asset is brought in
//! only if its object is there, whatever a catalog claims; an object no
//! entry describes is counted and named, not hidden.

use std::collections::{BTreeMap, HashMap, HashSet};

use futures::StreamExt;
use serde::Serialize;

use super::{format, io, paths};
use crate::crypto::sealed_len;
use crate::providers::{Failure, Provider, object_key};
use crate::store::{CatalogAsset, Described, ProviderRow, ScannedAsset, Store, StoreError};

/// Segments read at once from a remote provider.
const READS_IN_FLIGHT: usize = 16;

/// What a scan found and did; the fields are the command line's JSON.
#[derive(Clone, Debug, Default, Serialize)]
pub struct ScanReport {
    pub provider: String,
    /// The provider encrypts: its objects are named by a keyed hash.
    pub encrypted: bool,
    /// Assets described by a catalog whose object the provider holds.
    pub assets: usize,
    /// Of those, assets the library did not know before.
    pub new: usize,
    /// Of those, assets it knew already.
    pub known: usize,
    /// Paths the catalogs give for those assets.
    pub paths: usize,
    /// Of those, paths the library did not have before.
    pub new_paths: usize,
    /// Libraries whose catalog segments were read.
    pub libraries: usize,
    pub segments: usize,
    /// Objects on the provider that no catalog entry describes, and their
    /// names (the content hash; on an encrypted provider, the keyed name).
    pub objects_without_entry: usize,
    pub objects_without_entry_hashes: Vec<String>,
    /// Assets a catalog says are there whose object is not.
    pub entries_without_object: usize,
    pub unreadable_segments: Vec<Unreadable>,
    /// Entries and paths not taken, and why (the rest is).
    pub refused: Vec<String>,
}

/// A segment that could not be read, by name, and why.
#[derive(Clone, Debug, Serialize)]
pub struct Unreadable {
    pub name: String,
    pub reason: String,
}

/// Why a scan did not happen; nothing was brought in.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("{0}")]
    Provider(Failure),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Reads the provider's catalogs and objects and brings what they describe
/// into the library, all or nothing.
pub fn scan(store: &mut Store, row: &ProviderRow) -> Result<ScanReport, ScanError> {
    let provider = &Provider::open(row).map_err(ScanError::Provider)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| ScanError::Provider(Failure::transient(format!("cannot scan: {e}"))))?;
    let started = std::time::Instant::now();
    let found = runtime
        .block_on(read(provider))
        .map_err(ScanError::Provider)?;
    tracing::debug!(
        "scan of '{}': read in {:?}",
        provider.name,
        started.elapsed()
    );
    let mut report = found.report;
    report.provider = provider.name.clone();
    report.encrypted = provider.keys().is_some();
    let counts = store.import_scan(&provider.id, &found.assets)?;
    tracing::debug!(
        "scan of '{}': brought in after {:?}",
        provider.name,
        started.elapsed()
    );
    report.new = counts.new;
    report.known = counts.known;
    report.new_paths = counts.new_paths;
    Ok(report)
}

/// Whether the provider holds any catalog segment at all.
pub fn has_catalog(provider: &Provider) -> Result<bool, Failure> {
    let listed = crate::providers::block_on("look for a catalog", io::list(provider, "catalog/"))?;
    Ok(listed
        .iter()
        .any(|(key, _)| format::segment_seq(key.rsplit('/').next().unwrap_or_default()).is_some()))
}

/// What a read of a provider found.
pub struct Found {
    pub assets: Vec<ScannedAsset>,
    pub report: ScanReport,
}

/// Reads every catalog segment and lists the objects of a provider, and
/// merges them.
pub async fn read(provider: &Provider) -> Result<Found, Failure> {
    let mut report = ScanReport::default();
    // A segment listed and gone when read was compacted away meanwhile:
    // the listing is taken again, once, to find what replaced it.
    let started = std::time::Instant::now();
    let mut segments = read_segments(provider, &mut report).await?;
    if segments.vanished {
        report = ScanReport::default();
        segments = read_segments(provider, &mut report).await?;
    }
    tracing::debug!(
        "{} segments read in {:?}",
        report.segments,
        started.elapsed()
    );
    // By name: the content hash, or its keyed name on a provider that
    // encrypts (found from the hashes the catalog describes).
    let objects: HashMap<String, u64> = io::list(provider, "objects/")
        .await?
        .into_iter()
        .filter_map(|(key, size)| {
            let name = key.rsplit('/').next()?;
            (is_hash(name) && object_key(name) == key).then(|| (name.to_string(), size))
        })
        .collect();
    tracing::debug!(
        "{} objects listed after {:?}",
        objects.len(),
        started.elapsed()
    );
    let merged = merge(segments.read, &mut report);
    let mut assets = Vec::new();
    let name_of = |hash: &str| match provider.keys() {
        Some(keys) => keys.object_name(hash),
        None => hash.to_string(),
    };
    // Objects some entry refused: not without an entry, refused.
    let mut refused_objects = HashSet::new();
    for (hash, mut d) in merged.described {
        match objects.get(&name_of(&hash)) {
            Some(&size) => {
                if !holds(provider, d.size_bytes as u64, size) {
                    refused_objects.insert(name_of(&hash));
                    report.refused.push(format!(
                        "{hash}: its entry says {} bytes and the object holds {size}",
                        d.size_bytes
                    ));
                    continue;
                }
                d.paths.retain(|(path, _)| match paths::refusal(path) {
                    Some(why) => {
                        report
                            .refused
                            .push(format!("{hash}: path {path:?} refused: {why}"));
                        false
                    }
                    None => true,
                });
                report.paths += d.paths.len();
                assets.push(ScannedAsset {
                    remote_key: provider.content_key(&hash),
                    content_hash: hash,
                    described: d,
                });
            }
            None if merged.claimed.contains(&hash) => report.entries_without_object += 1,
            // Its catalogs say it was removed, and it is gone.
            None => {}
        }
    }
    let described: HashSet<String> = assets.iter().map(|a| name_of(&a.content_hash)).collect();
    let mut without: Vec<String> = objects
        .keys()
        .filter(|h| !described.contains(h.as_str()))
        .cloned()
        .collect();
    without.sort();
    without.retain(|name| !refused_objects.contains(name));
    report.objects_without_entry = without.len();
    report.objects_without_entry_hashes = without;
    report.assets = assets.len();
    assets.sort_by(|a, b| a.content_hash.cmp(&b.content_hash));
    Ok(Found { assets, report })
}

/// Whether an object of `stored` bytes can hold content of `size` bytes:
/// the same on a plain provider; on one that encrypts, the age file of it
/// (its header's length varies, from about 180 to 400 bytes).
fn holds(provider: &Provider, size: u64, stored: u64) -> bool {
    match provider.keys() {
        Some(_) => (sealed_len(150, size)..=sealed_len(500, size)).contains(&stored),
        None => size == stored,
    }
}

fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The segments read, per library, in order; and whether one vanished.
struct Segments {
    read: BTreeMap<String, Vec<format::Segment>>,
    vanished: bool,
}

async fn read_segments(provider: &Provider, report: &mut ScanReport) -> Result<Segments, Failure> {
    let listed = io::list(provider, "catalog/").await?;
    let mut names: Vec<(String, String)> = Vec::new();
    for (key, _) in listed {
        let mut parts = key.split('/');
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some("catalog"), Some(library), Some(file), None)
                if format::segment_seq(file).is_some() =>
            {
                names.push((library.to_string(), key.clone()));
            }
            _ => report.unreadable_segments.push(Unreadable {
                name: key,
                reason: "not a catalog segment (its name is not one Breakdex writes)".into(),
            }),
        }
    }
    let reads = futures::stream::iter(names.into_iter().map(|(library, key)| async move {
        let bytes = io::read(provider, &key).await;
        (library, key, bytes)
    }))
    .buffer_unordered(READS_IN_FLIGHT)
    .collect::<Vec<_>>()
    .await;
    let mut segments = Segments {
        read: BTreeMap::new(),
        vanished: false,
    };
    for (library, key, bytes) in reads {
        let Some(bytes) = bytes? else {
            segments.vanished = true;
            continue;
        };
        let bytes = match provider
            .keys()
            .map(|keys| crate::crypto::open_bytes(keys, &bytes))
        {
            None => bytes,
            Some(Ok(plain)) => plain,
            Some(Err(e)) => {
                report.unreadable_segments.push(Unreadable {
                    name: key,
                    reason: format!("it does not decrypt: {e}"),
                });
                continue;
            }
        };
        match format::decode(&bytes) {
            Ok(seg) if seg.library != library => report.unreadable_segments.push(Unreadable {
                name: key,
                reason: format!(
                    "it says it was written by library {}, not {library} whose folder it is in",
                    seg.library
                ),
            }),
            Ok(seg) => {
                report
                    .refused
                    .extend(seg.refused.iter().map(|r| format!("{key}: {r}")));
                report.segments += 1;
                segments.read.entry(library).or_default().push(seg);
            }
            Err(reason) => report
                .unreadable_segments
                .push(Unreadable { name: key, reason }),
        }
    }
    report.libraries = segments.read.len();
    report
        .unreadable_segments
        .sort_by(|a, b| a.name.cmp(&b.name));
    Ok(segments)
}

/// Every library's segments merged.
struct Merged {
    /// Per asset, the union of the paths of every entry describing it (the
    /// earliest time each was added), its size and type, its earliest added
    /// time.
    described: BTreeMap<String, Described>,
    /// The assets some library's latest entry says the provider holds
    /// (not removed since).
    claimed: HashSet<String>,
}

fn merge(read: BTreeMap<String, Vec<format::Segment>>, report: &mut ScanReport) -> Merged {
    let mut merged = Merged {
        described: BTreeMap::new(),
        claimed: HashSet::new(),
    };
    for (_, mut segments) in read {
        segments.sort_by_key(|s| s.seq);
        let mut latest: HashMap<String, bool> = HashMap::new();
        for seg in segments {
            for CatalogAsset {
                content_hash,
                described,
                ..
            } in seg.entries
            {
                latest.insert(content_hash.clone(), described.is_some());
                let Some(d) = described else { continue };
                let Some(have) = merged.described.get_mut(&content_hash) else {
                    merged.described.insert(content_hash, d);
                    continue;
                };
                if have.size_bytes != d.size_bytes {
                    report.refused.push(format!(
                        "{content_hash}: entries disagree on its size ({} and {} bytes); the first is kept",
                        have.size_bytes, d.size_bytes
                    ));
                    continue;
                }
                if !d.added_at.is_empty() && d.added_at < have.added_at {
                    have.added_at = d.added_at;
                }
                for (path, at) in d.paths {
                    match have.paths.iter_mut().find(|(p, _)| *p == path) {
                        Some((_, have_at)) if at < *have_at => *have_at = at,
                        Some(_) => {}
                        None => have.paths.push((path, at)),
                    }
                }
            }
        }
        merged
            .claimed
            .extend(latest.into_iter().filter(|(_, held)| *held).map(|(h, _)| h));
    }
    merged
}
