//! The command line for the queue's history: `history show` (how long
//! completed ops are kept, and what each provider did per day over the
//! last 30 days), `history set --keep` and `history prune` (remove now
//! what the engine would remove in the background).

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use clap::Subcommand;
use serde::Serialize;

use crate::engine::history::prune;
use crate::store::{DailyRow, DayTotals, SHOWN_DAYS, Store, keep_words, shown_days};
use crate::ui::format::bytes;
use crate::units::parse_keep;

#[derive(Subcommand, Debug)]
pub enum HistoryCommand {
    /// How long completed ops are kept, and each provider's totals per day
    /// over the last 30 days
    Show {
        #[arg(long)]
        json: bool,
    },
    /// How long completed ops are kept (30d, 12w, …; off keeps them all).
    /// Ops that failed for good or were cancelled stay until you act, and
    /// deletes of copies stay for ever
    Set {
        #[arg(long, value_parser = keep_arg)]
        keep: Keep,
    },
    /// Remove now the completed ops past the retention (the engine does it
    /// in the background, at its start and every hour)
    Prune,
}

/// `--keep`: a duration, or off.
#[derive(Clone, Copy, Debug)]
pub struct Keep(Option<Duration>);

fn keep_arg(text: &str) -> Result<Keep, String> {
    parse_keep(text).map(Keep)
}

/// `history show --json`.
#[derive(Serialize)]
struct Shown {
    /// Seconds; `null` when every op is kept.
    keep_secs: Option<u64>,
    /// From this day (UTC) on.
    since: String,
    daily: Vec<DailyRow>,
}

pub fn history_command(store: &mut Store, command: HistoryCommand) -> anyhow::Result<()> {
    match command {
        HistoryCommand::Show { json } => {
            let keep = store.history_keep()?;
            let since = shown_days().swap_remove(0);
            let daily = store.daily(&since)?;
            if json {
                let shown = Shown {
                    keep_secs: keep.map(|k| k.as_secs()),
                    since,
                    daily,
                };
                println!("{}", serde_json::to_string_pretty(&shown)?);
                return Ok(());
            }
            println!("{}", keep_line(keep));
            println!("the last {SHOWN_DAYS} days (UTC), per provider:");
            let mut names: Vec<&str> = daily.iter().map(|d| d.provider.as_str()).collect();
            names.dedup();
            if names.is_empty() {
                println!("  nothing done yet");
            }
            for name in names {
                let sum = daily
                    .iter()
                    .filter(|d| d.provider == name)
                    .fold(DayTotals::default(), |a, d| a + d.totals);
                println!(
                    "  {name:<20} uploaded {} ({}), downloaded {} ({}), verified {} ({}), deleted {}, failed attempts {}",
                    sum.uploaded_ops,
                    bytes(sum.uploaded_bytes),
                    sum.downloaded_ops,
                    bytes(sum.downloaded_bytes),
                    sum.verified_ops,
                    bytes(sum.verified_bytes),
                    sum.deleted_ops,
                    sum.failed_attempts
                );
            }
        }
        HistoryCommand::Set { keep: Keep(keep) } => {
            store.set_history_keep(keep)?;
            println!("{}", keep_line(keep));
        }
        HistoryCommand::Prune => {
            let removed = prune(store, &AtomicBool::new(false))?;
            println!(
                "removed {removed} completed op{} past the retention",
                if removed == 1 { "" } else { "s" }
            );
        }
    }
    Ok(())
}

fn keep_line(keep: Option<Duration>) -> String {
    let words = keep_words(keep);
    match keep {
        Some(_) => format!("{words}; older ones are removed (failed, cancelled and deletes stay)"),
        None => words,
    }
}
