//! Copy health: the copy-count policy and the scrub's settings (kept in the
//! library), when each provider went offline, each asset's health, and the
//! queries the engine's keeper runs to repair copies, top them up to the
//! policy and re-verify them.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use super::manifest::AssetListing;
use super::providers::ProviderRow;
use super::schema::timestamp;
use super::view::parse_timestamp;
use super::{Result, Store, StoreError};

/// The `library_settings` key of [`Store::mark_round_due`].
const ROUND_DUE: &str = "keeper_round_due";

/// The priority of the scrub's verifies: below anything a person sets, so
/// that every transfer waiting goes first.
pub const SCRUB_PRIORITY: i64 = -1000;

/// How many copies the library keeps, and how long an offline provider's
/// copies still count before they are made again elsewhere.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Policy {
    pub min_copies: u32,
    #[serde(rename = "offline_grace_secs", serialize_with = "secs")]
    pub offline_grace: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            min_copies: 1,
            offline_grace: Duration::from_secs(7 * 24 * 3600),
        }
    }
}

/// How often every copy is re-read, and at most how fast (bytes per
/// second; 0 turns the scrub off).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Scrub {
    #[serde(rename = "every_secs", serialize_with = "secs")]
    pub every: Duration,
    pub budget_bps: u64,
}

impl Default for Scrub {
    fn default() -> Scrub {
        Scrub {
            every: Duration::from_secs(30 * 24 * 3600),
            budget_bps: 20 << 20,
        }
    }
}

impl Scrub {
    /// The reading pace (bytes per second) for a provider holding `held`
    /// bytes: the interval's reads spread evenly, with a tenth to spare,
    /// within the budget.
    pub fn pace(&self, held: i64) -> f64 {
        (held as f64 * 1.1 / self.every.as_secs_f64()).min(self.budget_bps as f64)
    }

    /// What a long-running engine's scrub reads in 30 days at the pace
    /// (S3 egress costs money).
    pub fn bytes_per_month(&self, held: i64) -> u64 {
        (self.pace(held) * 30.0 * 86_400.0) as u64
    }
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_u64(d.as_secs())
}

/// What a provider's scrub setting overrides (`None`: the library's).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScrubOverride {
    pub every: Option<Duration>,
    pub budget_bps: Option<u64>,
}

/// An asset's health, as the window's badge and `assets --health` say it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Health {
    /// At least the policy's number of copies verified within the scrub
    /// interval, on providers that answer.
    Safe,
    /// Fewer such copies than the policy asks.
    AtRisk,
    /// A copy was found missing or corrupt and is not repaired yet.
    Damaged,
    /// No copy anywhere yet.
    LocalOnly,
}

impl Health {
    pub const ALL: [Health; 4] = [
        Health::Safe,
        Health::AtRisk,
        Health::Damaged,
        Health::LocalOnly,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Health::Safe => "safe",
            Health::AtRisk => "at-risk",
            Health::Damaged => "damaged",
            Health::LocalOnly => "local-only",
        }
    }

    pub fn parse(s: &str) -> Option<Health> {
        Health::ALL.into_iter().find(|h| h.as_str() == s)
    }
}

/// What an asset's health depends on besides its copies: the policy, and
/// per provider name whether it is enabled, answers, and how recent a
/// verification must be.
pub struct HealthRules {
    min_copies: usize,
    /// Per provider name: (enabled, answering, verified after this time, in
    /// ms since the epoch).
    providers: HashMap<String, (bool, bool, i64)>,
}

/// One copy as the health rules see it: the provider's name, whether its
/// last check found it good, and when it was verified (ms since the epoch).
#[derive(Clone, Copy, Debug)]
pub struct CopyFacts<'a> {
    pub provider: &'a str,
    pub ok: bool,
    pub verified_ms: Option<i64>,
}

/// An asset's health, and how many of its copies count for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Judged {
    pub health: Health,
    /// Copies verified within the scrub interval on enabled providers that
    /// answer: what "safe" counts.
    pub counted: usize,
}

impl HealthRules {
    /// How many providers are enabled (what "2 of 3" counts up to).
    pub fn enabled_providers(&self) -> usize {
        self.providers.values().filter(|p| p.0).count()
    }

    /// The health of an asset with these copies.
    pub fn judge<'a>(&self, copies: impl IntoIterator<Item = CopyFacts<'a>>) -> Judged {
        let (mut any, mut counted, mut damaged) = (false, 0, false);
        for c in copies {
            any = true;
            let Some((enabled, answering, fresh_after)) = self.providers.get(c.provider) else {
                continue;
            };
            if !c.ok {
                damaged |= *enabled;
                continue;
            }
            let fresh = c.verified_ms.is_some_and(|t| t > *fresh_after);
            counted += usize::from(*enabled && *answering && fresh);
        }
        let health = if !any {
            Health::LocalOnly
        } else if damaged {
            Health::Damaged
        } else if counted >= self.min_copies {
            Health::Safe
        } else {
            Health::AtRisk
        };
        Judged { health, counted }
    }

    /// The health of one asset of the listing.
    pub fn health(&self, asset: &AssetListing) -> Health {
        self.judge(asset.copies.iter().map(|c| CopyFacts {
            provider: &c.provider,
            ok: c.verify_status == "ok",
            verified_ms: c.verified_at.as_deref().and_then(parse_timestamp),
        }))
        .health
    }
}

/// A copy to repair: found missing or corrupt on an enabled provider, with
/// no upload tried since.
#[derive(Clone, Debug)]
pub struct Repair {
    pub content_hash: String,
    pub provider_id: String,
    pub provider_name: String,
    pub size_bytes: i64,
    pub status: String,
}

/// An asset with fewer good or coming copies than the policy asks, and the
/// enabled providers it could still be copied to (best first).
#[derive(Clone, Debug)]
pub struct Deficit {
    pub content_hash: String,
    pub size_bytes: i64,
    pub have: u32,
    pub candidates: Vec<String>,
}

pub(super) fn get_setting(store: &Store, key: &str) -> Result<Option<String>> {
    Ok(store
        .conn
        .query_row(
            "SELECT value FROM library_settings WHERE key = ?1",
            [key],
            |r| r.get(0),
        )
        .optional()?)
}

/// Makes the provider's `provider_state` row if it has none.
pub(super) fn provider_state_row(tx: &rusqlite::Transaction, provider_id: &str) -> Result<()> {
    tx.execute(
        "INSERT INTO provider_state (provider_id) VALUES (?1) ON CONFLICT DO NOTHING",
        [provider_id],
    )?;
    Ok(())
}

pub(super) fn put_setting(tx: &rusqlite::Transaction, key: &str, value: String) -> Result<()> {
    tx.execute(
        "INSERT INTO library_settings (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// A number kept in `library_settings`, read defensively: a value that is
/// not a number is an error that names it, not a silent default.
pub(super) fn number_setting(store: &Store, key: &str) -> Result<Option<u64>> {
    match get_setting(store, key)? {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            StoreError::Invalid(format!(
                "the library's setting {key} is not a number: {v:?}"
            ))
        }),
    }
}

impl Store {
    pub fn policy(&self) -> Result<Policy> {
        let default = Policy::default();
        Ok(Policy {
            min_copies: number_setting(self, "min_copies")?
                .map_or(default.min_copies, |n| n as u32),
            offline_grace: number_setting(self, "offline_grace_secs")?
                .map_or(default.offline_grace, Duration::from_secs),
        })
    }

    /// Changes the parts of the policy given.
    pub fn set_policy(&mut self, min_copies: Option<u32>, grace: Option<Duration>) -> Result<()> {
        if min_copies == Some(0) {
            return Err(StoreError::Invalid(
                "--min-copies must be at least 1".into(),
            ));
        }
        let tx = self.write_tx()?;
        if let Some(n) = min_copies {
            put_setting(&tx, "min_copies", n.to_string())?;
        }
        if let Some(g) = grace {
            put_setting(&tx, "offline_grace_secs", g.as_secs().to_string())?;
        }
        put_setting(&tx, ROUND_DUE, "1".into())?;
        tx.commit()?;
        Ok(())
    }

    /// Says that something happened that may leave assets short of the
    /// policy (a provider removed or disabled, the policy changed, files
    /// added to fewer providers than it asks, ops removed), so that the
    /// keeper looks at every asset before a run that ends does.
    pub fn mark_round_due(&self) -> Result<()> {
        self.conn
            .prepare_cached(
                "INSERT INTO library_settings (key, value) VALUES (?1, '1')
                 ON CONFLICT (key) DO UPDATE SET value = '1'",
            )?
            .execute([ROUND_DUE])?;
        Ok(())
    }

    /// Whether the keeper must look at every asset (and takes the mark): a
    /// mark of [`Store::mark_round_due`], or an offline provider whose
    /// grace time is over.
    pub fn take_round_due(&mut self) -> Result<bool> {
        let marked = self
            .conn
            .prepare_cached("DELETE FROM library_settings WHERE key = ?1 RETURNING 1")?
            .exists([ROUND_DUE])?;
        let grace = self.policy()?.offline_grace;
        let grace_end = timestamp(
            SystemTime::now()
                .checked_sub(grace)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        let expired = self
            .conn
            .prepare_cached("SELECT 1 FROM provider_state WHERE offline_since <= ?1")?
            .exists([grace_end])?;
        Ok(marked || expired)
    }

    /// The library's scrub settings.
    pub fn scrub(&self) -> Result<Scrub> {
        let default = Scrub::default();
        Ok(Scrub {
            every: number_setting(self, "scrub_every_secs")?
                .map_or(default.every, Duration::from_secs),
            budget_bps: number_setting(self, "scrub_budget_bps")?.unwrap_or(default.budget_bps),
        })
    }

    /// What each provider overrides of the scrub settings, by provider id.
    pub fn scrub_overrides(&self) -> Result<HashMap<String, ScrubOverride>> {
        let mut stmt = self.conn.prepare(
            "SELECT provider_id, scrub_every_secs, scrub_budget_bps FROM provider_state
             WHERE scrub_every_secs IS NOT NULL OR scrub_budget_bps IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                ScrubOverride {
                    every: r
                        .get::<_, Option<i64>>(1)?
                        .map(|s| Duration::from_secs(s as u64)),
                    budget_bps: r.get::<_, Option<i64>>(2)?.map(|b| b as u64),
                },
            ))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// A provider's scrub settings: its own where it has them, else the
    /// library's.
    pub fn scrub_of(&self, provider_id: &str) -> Result<Scrub> {
        let library = self.scrub()?;
        let own = self
            .scrub_overrides()?
            .remove(provider_id)
            .unwrap_or_default();
        Ok(Scrub {
            every: own.every.unwrap_or(library.every),
            budget_bps: own.budget_bps.unwrap_or(library.budget_bps),
        })
    }

    /// Changes the scrub settings given, of the library or of one provider.
    pub fn set_scrub(
        &mut self,
        provider_id: Option<&str>,
        every: Option<Duration>,
        budget_bps: Option<u64>,
    ) -> Result<()> {
        if every.is_some_and(|e| e.as_secs() == 0) {
            return Err(StoreError::Invalid("--every must be at least 1s".into()));
        }
        let tx = self.write_tx()?;
        match provider_id {
            None => {
                if let Some(e) = every {
                    put_setting(&tx, "scrub_every_secs", e.as_secs().to_string())?;
                }
                if let Some(b) = budget_bps {
                    put_setting(&tx, "scrub_budget_bps", b.to_string())?;
                }
            }
            Some(id) => {
                provider_state_row(&tx, id)?;
                tx.execute(
                    "UPDATE provider_state SET
                         scrub_every_secs = COALESCE(?2, scrub_every_secs),
                         scrub_budget_bps = COALESCE(?3, scrub_budget_bps)
                     WHERE provider_id = ?1",
                    params![
                        id,
                        every.map(|e| e.as_secs() as i64),
                        budget_bps.map(|b| b as i64)
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Records that a provider answers (`offline` false) or not; the first
    /// time it is found offline is kept until it answers again.
    pub fn set_offline(&mut self, provider_id: &str, offline: bool) -> Result<()> {
        let now = timestamp(SystemTime::now());
        self.conn
            .prepare_cached(
                "INSERT INTO provider_state (provider_id, offline_since)
                 SELECT ?1, CASE WHEN ?2 THEN ?3 END
                 WHERE EXISTS (SELECT 1 FROM sync_providers WHERE id = ?1)
                 ON CONFLICT (provider_id) DO UPDATE SET offline_since =
                     CASE WHEN ?2 THEN COALESCE(offline_since, ?3) END",
            )?
            .execute(params![provider_id, offline, now])?;
        Ok(())
    }

    /// Since when each provider found offline has not answered, by id.
    pub fn offline_since(&self) -> Result<HashMap<String, String>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, offline_since FROM provider_state WHERE offline_since IS NOT NULL",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The rules [`Health`] is judged by, now.
    pub fn health_rules(&self) -> Result<HealthRules> {
        let policy = self.policy()?;
        let library = self.scrub()?;
        let overrides = self.scrub_overrides()?;
        let offline = self.offline_since()?;
        let now = SystemTime::now();
        let providers = self
            .providers()?
            .into_iter()
            .map(|p| {
                let every = overrides
                    .get(&p.id)
                    .and_then(|o| o.every)
                    .unwrap_or(library.every);
                let after = (now.checked_sub(every).unwrap_or(SystemTime::UNIX_EPOCH))
                    .duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                (p.name, (p.enabled, !offline.contains_key(&p.id), after))
            })
            .collect();
        Ok(HealthRules {
            min_copies: policy.min_copies as usize,
            providers,
        })
    }

    /// Why deleting the copy of `content_hash` on `provider_id` must not be
    /// queued, if it must not: it is the asset's last verified copy.
    pub fn delete_refusal(&self, content_hash: &str, provider_id: &str) -> Result<Option<String>> {
        let (here, elsewhere): (bool, i64) = self.conn.query_row(
            "SELECT coalesce(max(provider_id = ?2), 0), coalesce(sum(provider_id <> ?2), 0)
             FROM asset_copies WHERE content_hash = ?1 AND verify_status = 'ok'",
            params![content_hash, provider_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok((here && elsewhere == 0).then(|| {
            "it is the only verified copy of this asset: copy it to another provider first".into()
        }))
    }

    /// Copies found missing or corrupt on enabled providers with no upload
    /// queued since the check that found them so (one repair per finding:
    /// a repair that fails is left to the person).
    pub fn repairs_due(&self, limit: usize) -> Result<Vec<Repair>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT c.content_hash, c.provider_id, p.name, m.size_bytes, c.verify_status
             FROM asset_copies c
             JOIN sync_providers p ON p.id = c.provider_id
             JOIN asset_manifest m ON m.content_hash = c.content_hash
             WHERE c.verify_status <> 'ok' AND p.enabled = 1
               AND NOT EXISTS (
                   SELECT 1 FROM sync_operations o
                   WHERE o.content_hash = c.content_hash AND o.provider_id = c.provider_id
                     AND o.operation_type = 'upload' AND o.finished_at IS NULL)
               AND NOT EXISTS (
                   SELECT 1 FROM sync_operations o INDEXED BY idx_sync_operations_held_back
                   WHERE o.content_hash = c.content_hash AND o.provider_id = c.provider_id
                     AND o.finished_at IS NOT NULL
                     AND (o.status = 'failed' OR o.operation_type = 'delete_remote')
                     AND o.operation_type = 'upload' AND o.created_at >= c.verified_at)
             LIMIT ?1",
        )?;
        let rows = stmt.query_map([limit as i64], |r| {
            Ok(Repair {
                content_hash: r.get(0)?,
                provider_id: r.get(1)?,
                provider_name: r.get(2)?,
                size_bytes: r.get(3)?,
                status: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Assets after `after` (a manifest rowid), up to `limit` of them looked
    /// at, with fewer copies than `policy` asks: good copies on enabled
    /// providers (an offline one's count until its grace time is over) and
    /// uploads on their way. Returns them and the last rowid looked at.
    ///
    /// An asset an upload of which failed or was cancelled for good, or a
    /// copy of which was deleted, is left to the person (the keeper never
    /// fights a decision or a failure that needs one). A provider is a
    /// candidate for a new copy if it is enabled and answering and holds no
    /// copy and no live op of the asset.
    pub fn policy_deficits(
        &self,
        policy: &Policy,
        after: i64,
        limit: usize,
    ) -> Result<(Vec<Deficit>, Option<i64>)> {
        let grace_end = timestamp(
            SystemTime::now()
                .checked_sub(policy.offline_grace)
                .unwrap_or(SystemTime::UNIX_EPOCH),
        );
        // The providers whose good copies count, and those an upload on its
        // way counts for (the enabled ones), as JSON arrays of ids.
        let offline = self.offline_since()?;
        let enabled: Vec<ProviderRow> = (self.providers()?.into_iter())
            .filter(|p| p.enabled)
            .collect();
        let counted: Vec<&str> = (enabled.iter())
            .filter(|p| offline.get(&p.id).is_none_or(|since| *since > grace_end))
            .map(|p| p.id.as_str())
            .collect();
        let enabled_ids: Vec<&str> = enabled.iter().map(|p| p.id.as_str()).collect();
        let (counted, enabled_ids) = (
            serde_json::to_string(&counted).unwrap_or_default(),
            serde_json::to_string(&enabled_ids).unwrap_or_default(),
        );
        let last: Option<i64> = self
            .conn
            .prepare_cached(
                "SELECT max(rowid) FROM (SELECT rowid FROM asset_manifest
                                         WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
            )?
            .query_row(params![after, limit as i64], |r| r.get(0))?;
        let Some(end) = last else {
            return Ok((Vec::new(), None));
        };
        // Good copies first (a lookup per asset); the uploads on their way
        // only for the few that lack some.
        let mut stmt = self.conn.prepare_cached(
            "SELECT rowid, content_hash, size_bytes, local_path, have FROM (
                 SELECT k.*, k.good + (SELECT COUNT(*) FROM sync_operations o
                     WHERE o.content_hash = k.content_hash AND o.finished_at IS NULL
                       AND o.operation_type = 'upload'
                       AND o.provider_id IN (SELECT value FROM json_each(?4))
                       AND NOT EXISTS (SELECT 1 FROM asset_copies c
                           WHERE c.content_hash = o.content_hash AND c.provider_id = o.provider_id
                             AND c.verify_status = 'ok')) AS have
                 FROM (SELECT s.rowid, s.content_hash, s.size_bytes, s.local_path,
                           (SELECT COUNT(*) FROM asset_copies c
                            WHERE c.content_hash = s.content_hash AND c.verify_status = 'ok'
                              AND c.provider_id IN (SELECT value FROM json_each(?3))) AS good
                       FROM asset_manifest s WHERE s.rowid > ?1 AND s.rowid <= ?2) k
                 WHERE k.good < ?5)
             WHERE have < ?5",
        )?;
        let mut short = Vec::new();
        let rows = stmt.query_map(
            params![after, end, counted, enabled_ids, policy.min_copies],
            |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    r.get::<_, i64>(2)?,
                    r.get::<_, Option<String>>(3)?,
                    r.get::<_, i64>(4)?,
                ))
            },
        )?;
        for row in rows {
            let (hash, size, local, have) = row?;
            // Copies are made from the local bytes, or from another copy:
            // an asset with neither waits (its health says so).
            let here = local.is_some_and(|p| std::path::Path::new(&p).is_file());
            if here || have > 0 {
                short.push((hash, size, have as u32));
            }
        }
        let last = Some(end);
        if short.is_empty() {
            return Ok((Vec::new(), last));
        }
        let mut providers: Vec<_> = (enabled.into_iter())
            .filter(|p| !offline.contains_key(&p.id))
            .collect();
        providers.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.name.cmp(&b.name)));
        let mut held_back = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM sync_operations INDEXED BY idx_sync_operations_held_back
                 WHERE content_hash = ?1 AND finished_at IS NOT NULL
                   AND (status = 'failed' OR operation_type = 'delete_remote')
                   AND operation_type IN ('upload', 'delete_remote'))",
        )?;
        let mut barred = self.conn.prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM asset_copies
                            WHERE content_hash = ?1 AND provider_id = ?2)
                 OR EXISTS (SELECT 1 FROM sync_operations
                            WHERE content_hash = ?1 AND provider_id = ?2 AND finished_at IS NULL)",
        )?;
        let mut deficits = Vec::with_capacity(short.len());
        for (content_hash, size_bytes, have) in short {
            if held_back.query_row([&content_hash], |r| r.get::<_, bool>(0))? {
                continue;
            }
            let mut candidates = Vec::new();
            for p in &providers {
                if !barred.query_row(params![content_hash, p.id], |r| r.get::<_, bool>(0))? {
                    candidates.push(p.id.clone());
                }
            }
            deficits.push(Deficit {
                content_hash,
                size_bytes,
                have,
                candidates,
            });
        }
        Ok((deficits, last))
    }

    /// The copies on a provider least recently verified (and, with
    /// `due_before`, verified before that time), up to `limit`, that no
    /// verify is queued for: the scrub's next reads, oldest first.
    pub fn scrub_next(
        &self,
        provider_id: &str,
        limit: usize,
        due_before: Option<&str>,
    ) -> Result<Vec<(String, i64)>> {
        // Two ranges of the index: copies never verified (a catalog scan
        // brought them in), then the others oldest first; before the end of
        // time means any.
        let branch = |range: &str| {
            format!(
                "SELECT * FROM (SELECT c.content_hash, m.size_bytes
                 FROM asset_copies c INDEXED BY idx_asset_copies_verified
                 JOIN asset_manifest m ON m.content_hash = c.content_hash
                 WHERE c.provider_id = ?1 AND {range} AND c.verify_status = 'ok'
                   AND NOT EXISTS (SELECT 1 FROM sync_operations o
                       WHERE o.content_hash = c.content_hash AND o.provider_id = c.provider_id
                         AND o.operation_type = 'verify' AND o.finished_at IS NULL)
                 ORDER BY c.verified_at LIMIT ?2)"
            )
        };
        let mut stmt = self.conn.prepare_cached(&format!(
            "{} UNION ALL {} LIMIT ?2",
            branch("c.verified_at IS NULL"),
            branch("c.verified_at < ?3")
        ))?;
        // (A whole timestamp, not "9999": the DATETIME column has NUMERIC
        // affinity, which would make that the integer 9999, less than
        // every text.)
        let due_before = due_before.unwrap_or("9999-12-31 23:59:59.999");
        let rows = stmt.query_map(params![provider_id, limit as i64, due_before], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// The bytes of the copies a provider holds.
    pub fn bytes_held(&self, provider_id: &str) -> Result<i64> {
        let held: i64 = self
            .conn
            .prepare_cached(
                "SELECT COALESCE(SUM(m.size_bytes), 0) FROM asset_copies c
                 JOIN asset_manifest m ON m.content_hash = c.content_hash
                 WHERE c.provider_id = ?1",
            )?
            .query_row([provider_id], |r| r.get(0))?;
        Ok(held)
    }

    /// How many of the scrub's verifies are queued or running, per provider
    /// (found through the status index: they are the only ops at
    /// [`SCRUB_PRIORITY`]).
    pub fn scrubs_live(&self) -> Result<HashMap<String, i64>> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT provider_id, COUNT(*) FROM sync_operations
             WHERE status IN ('queued', 'in_progress') AND priority = ?1 AND reason = 'scrub'
             GROUP BY provider_id",
        )?;
        let rows = stmt.query_map([SCRUB_PRIORITY], |r| Ok((r.get(0)?, r.get(1)?)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::CopyListing;

    fn asset(copies: &[(&str, &str, &str)]) -> AssetListing {
        AssetListing {
            content_hash: "h".into(),
            paths: vec!["a.jpg".into()],
            size_bytes: 1,
            media_type: "image/jpeg".into(),
            added_at: "2026-01-01 00:00:00.000".into(),
            local_path: None,
            copies: (copies.iter())
                .map(|(provider, status, at)| CopyListing {
                    provider: provider.to_string(),
                    provider_id: provider.to_string(),
                    verify_status: status.to_string(),
                    verified_at: Some(at.to_string()),
                })
                .collect(),
        }
    }

    #[test]
    fn health_counts_fresh_verified_copies_on_answering_enabled_providers() {
        let after = parse_timestamp("2026-11-01 00:00:00.000").unwrap();
        let rules = HealthRules {
            min_copies: 2,
            providers: HashMap::from([
                ("nas".to_string(), (true, true, after)),
                ("usb".to_string(), (true, false, after)),
                ("b2".to_string(), (true, true, after)),
                ("old".to_string(), (false, true, after)),
            ]),
        };
        let fresh = "2026-11-20 00:00:00.000";
        let stale = "2026-10-01 00:00:00.000";
        assert_eq!(rules.health(&asset(&[])), Health::LocalOnly);
        assert_eq!(
            rules.health(&asset(&[("nas", "ok", fresh), ("b2", "ok", fresh)])),
            Health::Safe
        );
        // Verified too long ago, offline, or on a disabled provider: not counted.
        for other in [
            ("b2", "ok", stale),
            ("usb", "ok", fresh),
            ("old", "ok", fresh),
        ] {
            assert_eq!(
                rules.health(&asset(&[("nas", "ok", fresh), other])),
                Health::AtRisk,
                "{other:?}"
            );
        }
        assert_eq!(
            rules.health(&asset(&[
                ("nas", "ok", fresh),
                ("b2", "ok", fresh),
                ("usb", "corrupt", fresh)
            ])),
            Health::Damaged
        );
        // A bad copy on a disabled provider is not repaired: not damaged.
        assert_eq!(
            rules.health(&asset(&[
                ("nas", "ok", fresh),
                ("b2", "ok", fresh),
                ("old", "missing", fresh)
            ])),
            Health::Safe
        );
    }
}
