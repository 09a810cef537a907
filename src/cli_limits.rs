//! `limits show|set`: the library's bandwidth limits and each provider's,
//! as rates or a weekly timetable (`bandwidth::schedule`). A running engine
//! of the library takes a change within a second.

use clap::Subcommand;
use serde_json::json;

use crate::bandwidth::schedule::minute_of_week_now;
use crate::bandwidth::{Limit, Schedule};
use crate::store::{LimitChange, Store};
use crate::units::{format_rate, parse_rate};

#[derive(Subcommand, Debug)]
pub enum LimitsCommand {
    /// The limits kept, the library's and each provider's, and what holds now
    Show {
        #[arg(long)]
        json: bool,
    },
    /// Change them, for the library or for one provider
    Set {
        /// This provider only [default: the library's, over all providers]
        #[arg(long)]
        provider: Option<String>,
        /// Uploads at most this fast (512K, 10M, 1G: bytes per second,
        /// 1024-based; 0 or off: no limit)
        #[arg(long, value_parser = parse_rate)]
        up: Option<u64>,
        /// Downloads and verification reads at most this fast
        #[arg(long, value_parser = parse_rate)]
        down: Option<u64>,
        /// A weekly timetable, which decides while it is set: entries
        /// [DAY-]HH:MM,RATE or [DAY-]HH:MM,UP:DOWN, as
        /// "Mon-08:00,512K Mon-19:00,off" (off removes it)
        #[arg(long, value_parser = parse_schedule)]
        schedule: Option<ScheduleArg>,
    },
}

/// `--schedule`: a timetable, or `off` (none).
#[derive(Clone, Debug)]
pub struct ScheduleArg(Option<Schedule>);

fn parse_schedule(text: &str) -> Result<ScheduleArg, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(ScheduleArg(None));
    }
    Schedule::parse(text).map(|s| ScheduleArg(Some(s)))
}

/// One limit in `limits show --json`.
fn limit_json(limit: &Limit, minute: u32) -> serde_json::Value {
    let now = limit.at(minute);
    let rate = |r: u64| (r > 0).then_some(r);
    json!({
        "up_bps": rate(limit.rates.up),
        "down_bps": rate(limit.rates.down),
        "schedule": limit.schedule.as_ref().map(Schedule::text),
        "now": { "up_bps": rate(now.up), "down_bps": rate(now.down) },
    })
}

/// One limit as a line of `limits show`.
fn limit_line(limit: &Limit, minute: u32) -> String {
    let now = limit.at(minute);
    let mut line = format!("up {}, down {}", format_rate(now.up), format_rate(now.down));
    if let Some(s) = &limit.schedule {
        line += &format!(" now, by the timetable {}", s.text());
    }
    line
}

pub fn limits_command(store: &mut Store, command: LimitsCommand) -> anyhow::Result<()> {
    match command {
        LimitsCommand::Show { json } => {
            let limits = store.limits()?;
            let minute = minute_of_week_now();
            let providers = store.providers()?;
            let none = Limit::default();
            let of = |id: &str| limits.providers.get(id).unwrap_or(&none);
            if json {
                let value = json!({
                    "library": limit_json(&limits.library, minute),
                    "providers": providers.iter().map(|p| {
                        let mut v = limit_json(of(&p.id), minute);
                        v["name"] = json!(p.name);
                        v
                    }).collect::<Vec<_>>(),
                    "problems": limits.problems,
                });
                println!("{}", serde_json::to_string_pretty(&value)?);
                return Ok(());
            }
            println!("library: {}", limit_line(&limits.library, minute));
            for p in &providers {
                println!("  {:<20} {}", p.name, limit_line(of(&p.id), minute));
            }
            for problem in &limits.problems {
                eprintln!("warning: {problem}");
            }
        }
        LimitsCommand::Set {
            provider,
            up,
            down,
            schedule,
        } => {
            if up.is_none() && down.is_none() && schedule.is_none() {
                anyhow::bail!("say what to set: --up RATE, --down RATE and/or --schedule SPEC");
            }
            let id = match &provider {
                Some(name) => Some(store.require_provider(name)?.id),
                None => None,
            };
            let change = LimitChange {
                up,
                down,
                schedule: schedule.map(|s| s.0),
            };
            store.set_limit(id.as_deref(), &change)?;
            let limits = store.limits()?;
            let none = Limit::default();
            let limit = match &id {
                Some(id) => limits.providers.get(id).unwrap_or(&none),
                None => &limits.library,
            };
            println!(
                "limits{}: {}",
                provider.map(|n| format!(" of {n}")).unwrap_or_default(),
                limit_line(limit, minute_of_week_now())
            );
        }
    }
    Ok(())
}
