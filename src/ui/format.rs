//! How numbers, sizes, times and durations read in the window.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// `1.5 MB`, `820 B`: decimal units, as file managers show sizes.
pub fn bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "kB", "MB", "GB", "TB", "PB"];
    let mut value = n.max(0) as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{} B", n.max(0))
    } else if value < 10.0 {
        format!("{value:.1} {}", UNITS[unit])
    } else {
        format!("{value:.0} {}", UNITS[unit])
    }
}

/// `89%` (rounded down, so a bar never reads done before it is), or `—`
/// when there is no progress to show.
pub fn percent(fraction: Option<f64>) -> String {
    match fraction {
        Some(f) => format!("{}%", (f * 100.0).floor() as u32),
        None => "—".into(),
    }
}

/// `45 s`, `3 min`, `2 h 5 min`, `3 days`.
pub fn duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..=59 => format!("{s} s"),
        60..=3599 => format!("{} min", s / 60),
        3600..=86_399 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} days", s / 86_400),
    }
}

/// How long until a countdown with `left_ms` to go reads differently: its
/// [`duration`] rounds down, and once it is over it says so (a countdown on
/// screen is drawn again only then). `None` once it is over: its text no
/// longer changes (a retry overdue while the engine is paused or away).
pub fn duration_changes_in(left_ms: i64) -> Option<Duration> {
    if left_ms <= 0 {
        return None;
    }
    if left_ms < 1000 {
        return Some(Duration::from_millis(left_ms as u64));
    }
    let unit: i64 = match left_ms {
        ..60_000 => 1000,
        60_000..86_400_000 => 60_000,
        _ => 86_400_000,
    };
    Some(Duration::from_millis((left_ms % unit + 1) as u64))
}

pub use crate::store::parse_timestamp;
use crate::store::timestamp_of_millis;

/// "1 copy", "2 copies".
pub fn copies(n: u32) -> String {
    format!("{n} cop{}", if n == 1 { "y" } else { "ies" })
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A stored timestamp shown in local words: `12:04:31` today, else the date.
pub fn timestamp(text: Option<&str>) -> String {
    let Some(text) = text else {
        return String::new();
    };
    let now = timestamp_of_millis(now_ms());
    let today = &now[..10];
    match text.get(0..10) {
        Some(day) if day == today => text.get(11..19).unwrap_or(text).to_string(),
        Some(day) => format!("{day} {}", text.get(11..16).unwrap_or("")),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_round_trip_through_days() {
        let ms = parse_timestamp("2026-11-25 16:04:31.250").unwrap();
        assert_eq!(ms, 1_795_622_671_250);
        assert_eq!(timestamp_of_millis(ms), "2026-11-25 16:04:31.250");
        assert_eq!(parse_timestamp("1970-01-01 00:00:00.000"), Some(0));
        assert_eq!(parse_timestamp("garbage"), None);
    }

    #[test]
    fn sizes_and_durations_read_well() {
        assert_eq!(bytes(820), "820 B");
        assert_eq!(bytes(1_500_000), "1.5 MB");
        assert_eq!(bytes(25_000_000_000), "25 GB");
        assert_eq!(duration(Duration::from_secs(42)), "42 s");
        assert_eq!(duration(Duration::from_secs(7500)), "2 h 5 min");
    }

    /// A countdown is drawn again exactly when its text would change, and
    /// not before.
    #[test]
    fn a_countdown_changes_when_its_text_does() {
        // As the grid says it: "retry in 3 s", then "retrying".
        let text = |ms: i64| {
            if ms > 0 {
                duration(Duration::from_millis(ms as u64))
            } else {
                "retrying".to_string()
            }
        };
        for left in [
            500, 42_250, 59_999, 60_000, 61_500, 754_321, 7_500_000, 90_000_000,
        ] {
            let wait = duration_changes_in(left).unwrap().as_millis() as i64;
            assert_eq!(
                text(left),
                text(left - wait + 1),
                "{left}: same text until then"
            );
            assert_ne!(
                text(left),
                text(left - wait),
                "{left}: changed at {wait} ms"
            );
        }
        // Over: "retrying" stays as it is, so nothing is drawn again for it
        // (it was asked every millisecond: a window spinning a core and more).
        for over in [0, -1, -90_000_000] {
            assert_eq!(duration_changes_in(over), None, "{over}");
        }
    }
}
