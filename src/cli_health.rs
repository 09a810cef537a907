//! The command line for copy health: `assets` (every asset the library
//! knows, with its copies and health), `policy show|set` (how many copies)
//! and `scrub show|set` (how often every copy is re-read, how fast).

use std::path::Path;
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;

use crate::store::{AssetListing, Health, Store};
use crate::units::{format_duration, format_rate, parse_duration, parse_rate};

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// The copy-count policy
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change it: the engine then keeps it (uploads to enabled providers
    /// that lack an asset, until it has this many verified copies)
    Set {
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
        min_copies: Option<u32>,
        /// How long an offline provider's copies still count before they
        /// are made again elsewhere (7d, 36h, …)
        #[arg(long, value_parser = parse_duration)]
        offline_grace: Option<Duration>,
    },
}

#[derive(Subcommand, Debug)]
pub enum ScrubCommand {
    /// The scrub's interval and budget, the library's and each provider's
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change them, for the library or for one provider
    Set {
        /// Every copy is re-read at least this often (30d, 12h, …)
        #[arg(long, value_parser = parse_duration)]
        every: Option<Duration>,
        /// At most this many bytes read per second (20M, 512K; 0 or off
        /// turns the scrub off)
        #[arg(long, value_parser = parse_rate)]
        budget: Option<u64>,
        /// This provider only [default: the library's]
        #[arg(long)]
        provider: Option<String>,
    },
}

/// One asset of `assets --json`.
#[derive(Serialize)]
struct AssetHealth {
    #[serde(flatten)]
    asset: AssetListing,
    health: Health,
}

/// `assets [--health H] [--provider NAME] [--json]`.
pub fn assets_command(
    store: &Store,
    health: Option<Health>,
    provider: Option<&str>,
    json: bool,
) -> anyhow::Result<()> {
    if let Some(name) = provider {
        store.require_provider(name)?;
    }
    let rules = store.health_rules()?;
    let mut assets: Vec<AssetHealth> = Vec::new();
    for mut asset in store.asset_listing()? {
        // Only bytes that are still there count as local.
        if asset
            .local_path
            .as_deref()
            .is_some_and(|p| !Path::new(p).is_file())
        {
            asset.local_path = None;
        }
        let h = rules.health(&asset);
        let on_provider = provider.is_none_or(|n| asset.copies.iter().any(|c| c.provider == n));
        if health.is_none_or(|want| want == h) && on_provider {
            assets.push(AssetHealth { asset, health: h });
        }
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&assets)?);
        return Ok(());
    }
    for AssetHealth { asset: a, health } in assets {
        let copies: Vec<String> = a
            .copies
            .iter()
            .map(|c| format!("{} {}", c.provider, c.verify_status))
            .collect();
        println!(
            "{}  {:>12}  {:<10} {:<6} {}  [{}]",
            crate::engine::short(&a.content_hash),
            a.size_bytes,
            health.as_str(),
            if a.local_path.is_some() {
                "local"
            } else {
                "remote"
            },
            a.paths.join(", "),
            copies.join(", ")
        );
    }
    Ok(())
}

/// The health counts in one line, as `status` prints them.
pub fn health_line(store: &Store) -> anyhow::Result<String> {
    let counts = store.health_counts()?;
    Ok(Health::ALL
        .iter()
        .map(|h| format!("{} {}", h.as_str(), counts.get(h).copied().unwrap_or(0)))
        .collect::<Vec<_>>()
        .join("  "))
}

pub fn policy_command(store: &mut Store, command: PolicyCommand) -> anyhow::Result<()> {
    match command {
        PolicyCommand::Show { json } => {
            let policy = store.policy()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&policy)?);
            } else {
                println!(
                    "min copies {}  offline grace {}",
                    policy.min_copies,
                    format_duration(policy.offline_grace)
                );
            }
        }
        PolicyCommand::Set {
            min_copies,
            offline_grace,
        } => {
            if min_copies.is_none() && offline_grace.is_none() {
                anyhow::bail!("say what to set: --min-copies N and/or --offline-grace TIME");
            }
            store.set_policy(min_copies, offline_grace)?;
            let policy = store.policy()?;
            println!(
                "policy: min copies {}, offline grace {}; the engine tops every asset up at its next run",
                policy.min_copies,
                format_duration(policy.offline_grace)
            );
        }
    }
    Ok(())
}

pub fn scrub_command(store: &mut Store, command: ScrubCommand) -> anyhow::Result<()> {
    match command {
        ScrubCommand::Show { json } => {
            let library = store.scrub()?;
            let mut providers = Vec::new();
            for p in store.providers()? {
                let s = store.scrub_of(&p.id)?;
                let held = store.bytes_held(&p.id)?;
                providers.push(serde_json::json!({
                    "name": p.name,
                    "every_secs": s.every.as_secs(),
                    "budget_bps": s.budget_bps,
                    "bytes_held": held,
                    "bytes_read_per_month": s.bytes_per_month(held),
                }));
            }
            if json {
                let mut value = serde_json::to_value(library)?;
                value["providers"] = serde_json::Value::Array(providers);
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            println!(
                "library: every {}  budget {}",
                format_duration(library.every),
                format_rate(library.budget_bps)
            );
            for p in providers {
                println!(
                    "  {:<20} every {}  budget {}  reads about {} a month",
                    p["name"].as_str().unwrap_or(""),
                    format_duration(Duration::from_secs(p["every_secs"].as_u64().unwrap_or(0))),
                    format_rate(p["budget_bps"].as_u64().unwrap_or(0)),
                    crate::ui::format::bytes(p["bytes_read_per_month"].as_u64().unwrap_or(0) as i64)
                );
            }
        }
        ScrubCommand::Set {
            every,
            budget,
            provider,
        } => {
            if every.is_none() && budget.is_none() {
                anyhow::bail!("say what to set: --every TIME and/or --budget RATE");
            }
            let id = match &provider {
                Some(name) => Some(store.require_provider(name)?.id),
                None => None,
            };
            store.set_scrub(id.as_deref(), every, budget)?;
            let s = match &id {
                Some(id) => store.scrub_of(id)?,
                None => store.scrub()?,
            };
            println!(
                "scrub{}: every {}, budget {}",
                provider.map(|n| format!(" of {n}")).unwrap_or_default(),
                format_duration(s.every),
                format_rate(s.budget_bps)
            );
        }
    }
    Ok(())
}
