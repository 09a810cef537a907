//! Durations and rates as people type them on the command line: `30d`,
//! `12h`, `90s`; `20M`, `512K/s`, `1.5GiB/s` (bytes per second, 1024-based,
//! as rclone reads them).

use std::time::Duration;

/// `30d`, `1w`, `12h`, `45m`, `90s` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration (say 30d, 12h, 45m or 90s)"))?;
    let unit_secs = match unit.trim() {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        _ => return Err(format!("{text:?}: unknown unit (say d, h, m or s)")),
    };
    Ok(Duration::from_secs(n.saturating_mul(unit_secs)))
}

/// How long to keep something: a duration, or `off` (also `forever`, `0`)
/// for for ever (`None`).
pub fn parse_keep(text: &str) -> Result<Option<Duration>, String> {
    match text.trim() {
        "off" | "forever" | "0" => Ok(None),
        _ => parse_duration(text).map(Some),
    }
}

/// A keep the way [`parse_keep`] reads it back: `30d`, `off`.
pub fn format_keep(keep: Option<Duration>) -> String {
    keep.map_or_else(|| "off".to_string(), format_duration)
}

/// `20M`, `20MB/s`, `512K`, `1.5G`, `0` or `off` (0): bytes per second.
pub fn parse_rate(text: &str) -> Result<u64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("off") {
        return Ok(0);
    }
    let t = t.strip_suffix("/s").unwrap_or(t);
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a rate (say 20M, 512K or off)"))?;
    let unit = unit
        .trim()
        .trim_end_matches(['B', 'b'])
        .trim_end_matches('i');
    let scale = match unit.to_ascii_uppercase().as_str() {
        "" => 1u64,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        _ => return Err(format!("{text:?}: unknown unit (say K, M or G)")),
    };
    Ok((n * scale as f64).round() as u64)
}

/// A duration the way [`parse_duration`] reads it back: `30d`, `36h`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    for (unit, size) in [("w", 7 * 86_400), ("d", 86_400), ("h", 3600), ("m", 60)] {
        if s >= size && s.is_multiple_of(size) {
            return format!("{}{unit}", s / size);
        }
    }
    format!("{s}s")
}

/// A rate the way [`parse_rate`] reads it back: `20M/s`, `off`.
pub fn format_rate(bps: u64) -> String {
    if bps == 0 {
        return "off".into();
    }
    for (unit, size) in [("G", 1u64 << 30), ("M", 1 << 20), ("K", 1 << 10)] {
        if bps >= size {
            let n = bps as f64 / size as f64;
            return if bps.is_multiple_of(size) {
                format!("{}{unit}/s", bps / size)
            } else {
                format!("{n:.1}{unit}/s")
            };
        }
    }
    format!("{bps}B/s")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_and_print_the_same() {
        assert_eq!(parse_duration("30d"), Ok(Duration::from_secs(30 * 86_400)));
        assert_eq!(parse_duration("90"), Ok(Duration::from_secs(90)));
        assert_eq!(format_duration(Duration::from_secs(30 * 86_400)), "30d");
        assert_eq!(format_duration(Duration::from_secs(14 * 86_400)), "2w");
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert!(parse_duration("3 fortnights").is_err());
        assert!(parse_duration("d").is_err());
    }

    #[test]
    fn rates_are_1024_based_as_rclone_reads_them() {
        assert_eq!(parse_rate("20M"), Ok(20 << 20));
        assert_eq!(parse_rate("20MB/s"), Ok(20 << 20));
        assert_eq!(parse_rate("512KiB/s"), Ok(512 << 10));
        assert_eq!(parse_rate("1.5G"), Ok(3 << 29));
        assert_eq!(parse_rate("off"), Ok(0));
        assert_eq!(parse_rate("0"), Ok(0));
        assert!(parse_rate("fast").is_err());
        assert!(parse_rate("20X").is_err());
        assert_eq!(format_rate(20 << 20), "20M/s");
        assert_eq!(format_rate(0), "off");
    }
}
