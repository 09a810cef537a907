//! A weekly timetable of bandwidth limits, in rclone's `--bwlimit` syntax:
//! entries `[DAY-]HH:MM,RATE` separated by spaces, where RATE is one rate
//! for both directions or `UP:DOWN`, each `off` or a rate as `units`
//! reads it (`512K`, `10M`, 1024-based). An entry without a day holds every
//! day at that time. The rates in force at a time are those of the latest
//! entry at or before it in the week (the last of the week before the
//! first one of Monday).
//!
//! `Mon-08:00,512K Mon-19:00,off`, `08:00,1M:off 23:00,off`.

use crate::units::parse_rate;

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const WEEK: u32 = 7 * 24 * 60;

/// Rates in bytes per second, up and down; 0 is no limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    pub up: u64,
    pub down: u64,
}

/// A parsed timetable, with the text it was read from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Schedule {
    text: String,
    /// (minute of the week from Monday 00:00, rates), sorted.
    entries: Vec<(u32, Rates)>,
}

impl Schedule {
    pub fn parse(text: &str) -> Result<Schedule, String> {
        let mut entries = Vec::new();
        for entry in text.split_whitespace() {
            let bad = |why: &str| format!("{entry:?} in the timetable: {why}");
            let (when, rate) = entry
                .split_once(',')
                .ok_or_else(|| bad("say TIME,RATE, as Mon-08:00,512K"))?;
            let (days, time) = match when.split_once('-') {
                Some((day, time)) => {
                    let day = DAYS
                        .iter()
                        .position(|d| d.eq_ignore_ascii_case(day))
                        .ok_or_else(|| bad("the day is one of Mon Tue Wed Thu Fri Sat Sun"))?;
                    (day..day + 1, time)
                }
                None => (0..7, when),
            };
            let minute = time
                .split_once(':')
                .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
                .filter(|(h, m)| *h < 24 && *m < 60 && time.len() == 5)
                .map(|(h, m)| h * 60 + m)
                .ok_or_else(|| bad("the time is HH:MM, from 00:00 to 23:59"))?;
            let rates = match rate.split_once(':') {
                Some((up, down)) => Rates {
                    up: parse_rate(up)?,
                    down: parse_rate(down)?,
                },
                None => {
                    let both = parse_rate(rate)?;
                    Rates {
                        up: both,
                        down: both,
                    }
                }
            };
            for day in days {
                entries.push((day as u32 * 24 * 60 + minute, rates));
            }
        }
        if entries.is_empty() {
            return Err(
                "the timetable is empty (say, for example, Mon-08:00,512K Mon-19:00,off)".into(),
            );
        }
        entries.sort_by_key(|(at, _)| *at);
        if let Some(w) = entries.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(format!("the timetable says {} twice", minute_name(w[0].0)));
        }
        Ok(Schedule {
            text: text.split_whitespace().collect::<Vec<_>>().join(" "),
            entries,
        })
    }

    /// The rates in force at `minute` of the week (0: Monday 00:00).
    pub fn at(&self, minute: u32) -> Rates {
        let minute = minute % WEEK;
        (self.entries.iter().rev())
            .find(|(at, _)| *at <= minute)
            .or(self.entries.last())
            .map_or(Rates::default(), |(_, r)| *r)
    }

    /// The timetable as it reads back.
    pub fn text(&self) -> &str {
        &self.text
    }
}

/// `Mon-08:00`.
fn minute_name(minute: u32) -> String {
    let day = DAYS[(minute / (24 * 60)) as usize % 7];
    let m = minute % (24 * 60);
    format!("{day}-{:02}:{:02}", m / 60, m % 60)
}

/// The minute of the week now, in local time (0: Monday 00:00).
pub fn minute_of_week_now() -> u32 {
    let now: libc::time_t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as libc::time_t);
    // SAFETY: localtime_r writes only into `tm`, which lives here.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    let ok = unsafe { !libc::localtime_r(&now, &mut tm).is_null() };
    if !ok {
        return 0;
    }
    // tm_wday: 0 is Sunday.
    let day = (tm.tm_wday as u32 + 6) % 7;
    day * 24 * 60 + tm.tm_hour as u32 * 60 + tm.tm_min as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const K: u64 = 1024;
    const MON: u32 = 0;
    const FRI: u32 = 4 * 24 * 60;
    const SUN: u32 = 6 * 24 * 60;

    #[test]
    fn the_rates_are_the_latest_entry_at_or_before_the_time() {
        let s = Schedule::parse("Mon-08:00,512K  Mon-19:00,off Fri-23:59,1M:2M").unwrap();
        assert_eq!(s.text(), "Mon-08:00,512K Mon-19:00,off Fri-23:59,1M:2M");
        let both = |r| Rates { up: r, down: r };
        assert_eq!(s.at(MON + 8 * 60), both(512 * K), "from 08:00 on");
        assert_eq!(
            s.at(MON + 8 * 60 - 1),
            Rates {
                up: K * K,
                down: 2 * K * K
            },
            "before the week's first entry: the last one's"
        );
        assert_eq!(s.at(MON + 18 * 60 + 59), both(512 * K));
        assert_eq!(s.at(MON + 19 * 60), both(0));
        assert_eq!(s.at(FRI + 23 * 60 + 58), both(0));
        assert_eq!(s.at(SUN + 23 * 60 + 59).up, K * K);
    }

    #[test]
    fn an_entry_without_a_day_holds_every_day() {
        let s = Schedule::parse("08:00,1M:off 23:00,off").unwrap();
        for day in 0..7 {
            let at = day * 24 * 60;
            assert_eq!(s.at(at + 9 * 60), Rates { up: K * K, down: 0 }, "day {day}");
            assert_eq!(s.at(at + 7 * 60), Rates::default(), "day {day}");
        }
    }

    #[test]
    fn a_bad_timetable_is_refused_with_the_reason() {
        for (text, why) in [
            ("", "empty"),
            ("Mon-08:00", "TIME,RATE"),
            ("Mun-08:00,1M", "the day"),
            ("Mon-8:00,1M", "HH:MM"),
            ("Mon-24:00,1M", "HH:MM"),
            ("Mon-08:00,fast", "not a rate"),
            ("08:00,1M Mon-08:00,2M", "Mon-08:00 twice"),
        ] {
            let e = Schedule::parse(text).unwrap_err();
            assert!(e.contains(why), "{text:?}: {e}");
        }
    }

    #[test]
    fn now_is_a_minute_of_the_week() {
        assert!(minute_of_week_now() < WEEK);
    }
}
