//! The settle time: a path a file event named is taken only once it has
//! stopped changing, its size and modification time the same as when it was
//! last seen, the settle time later, so that a photo still being copied off
//! a card is not hashed half-written.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What a path is, as far as the settle time cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Looks {
    /// Nothing is there (deleted, moved away).
    Gone,
    /// A file (a link to one included) of this size and time.
    File {
        size: u64,
        mtime_ns: i64,
    },
    Folder,
    /// Something else, or something that cannot be looked at now.
    Other,
}

impl Looks {
    pub fn of(path: &Path) -> Looks {
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => Looks::File {
                size: m.len(),
                mtime_ns: mtime_ns(&m),
            },
            Ok(m) if m.is_dir() => Looks::Folder,
            Ok(_) => Looks::Other,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Looks::Gone,
            Err(_) => Looks::Other,
        }
    }
}

/// A file's modification time in nanoseconds since the epoch.
pub fn mtime_ns(meta: &std::fs::Metadata) -> i64 {
    meta.mtime()
        .saturating_mul(1_000_000_000)
        .saturating_add(meta.mtime_nsec())
}

/// Paths waiting for their settle time.
#[derive(Debug)]
pub struct Pending {
    settle: Duration,
    paths: HashMap<PathBuf, (Looks, Instant)>,
}

impl Pending {
    pub fn new(settle: Duration) -> Pending {
        Pending {
            settle,
            paths: HashMap::new(),
        }
    }

    /// `path` changed (or may have): it looks like `looks` at `now`. Its
    /// settle time starts again unless it looks as it did.
    pub fn touch(&mut self, path: PathBuf, looks: Looks, now: Instant) {
        match self.paths.get_mut(&path) {
            Some((was, _)) if *was == looks => {}
            Some(entry) => *entry = (looks, now),
            None => {
                self.paths.insert(path, (looks, now));
            }
        }
    }

    /// The paths whose settle time has run out and that still look as they
    /// did then (`look` says how they look now), with how they look; the
    /// others start their settle time again.
    pub fn due(&mut self, now: Instant, look: impl Fn(&Path) -> Looks) -> Vec<(PathBuf, Looks)> {
        let settle = self.settle;
        let ripe: Vec<PathBuf> = self
            .paths
            .iter()
            .filter(|(_, (_, since))| now.saturating_duration_since(*since) >= settle)
            .map(|(p, _)| p.clone())
            .collect();
        let mut due = Vec::new();
        for path in ripe {
            let looks = look(&path);
            if self.paths[&path].0 == looks {
                self.paths.remove(&path);
                due.push((path, looks));
            } else {
                self.paths.insert(path, (looks, now));
            }
        }
        due.sort_by(|a, b| a.0.cmp(&b.0));
        due
    }

    /// Forgets every path under `root` (a folder no longer watched).
    pub fn drop_under(&mut self, root: &Path) {
        self.paths.retain(|p, _| !p.starts_with(root));
    }

    pub fn is_empty(&self) -> bool {
        self.paths.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTLE: Duration = Duration::from_secs(2);

    fn file(size: u64, mtime_ns: i64) -> Looks {
        Looks::File { size, mtime_ns }
    }

    /// A file still growing is not taken; it is taken the settle time after
    /// its last change, and only if it still looks the same.
    #[test]
    fn a_file_is_taken_once_it_stopped_changing_for_the_settle_time() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let path = PathBuf::from("/w/card/IMG_1.CR3");
        let mut pending = Pending::new(SETTLE);
        pending.touch(path.clone(), file(100, 1), at(0));
        // Still being copied: each write moves its size and time.
        pending.touch(path.clone(), file(200, 2), at(1500));
        assert!(pending.due(at(2100), |_| file(200, 2)).is_empty());
        // Two seconds after its last change, as it was then: taken.
        assert_eq!(
            pending.due(at(3500), |_| file(200, 2)),
            [(path.clone(), file(200, 2))]
        );
        assert!(pending.is_empty());
    }

    /// A file that changed without an event (a network share, a missed
    /// event) waits another settle time from the look that saw it change.
    #[test]
    fn a_file_that_changed_unseen_waits_another_settle_time() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let path = PathBuf::from("/w/a.mov");
        let mut pending = Pending::new(SETTLE);
        pending.touch(path.clone(), file(10, 1), at(0));
        assert!(pending.due(at(2000), |_| file(50, 7)).is_empty());
        assert!(pending.due(at(3999), |_| file(50, 7)).is_empty());
        assert_eq!(pending.due(at(4000), |_| file(50, 7)).len(), 1);
    }

    /// An event that changes nothing (a chmod, a close after reading) does
    /// not put the settle time back; a file deleted is taken as gone.
    #[test]
    fn events_that_change_nothing_do_not_delay_and_a_deletion_settles_too() {
        let t0 = Instant::now();
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let (a, b) = (PathBuf::from("/w/a"), PathBuf::from("/w/b"));
        let mut pending = Pending::new(SETTLE);
        pending.touch(a.clone(), file(1, 1), at(0));
        pending.touch(a.clone(), file(1, 1), at(1900));
        pending.touch(b.clone(), Looks::Gone, at(500));
        let due = pending.due(at(2600), |p| if p == a { file(1, 1) } else { Looks::Gone });
        assert_eq!(due, [(a, file(1, 1)), (b, Looks::Gone)]);
        pending.touch(PathBuf::from("/w/sub/c"), Looks::Gone, at(0));
        pending.drop_under(Path::new("/w/sub"));
        assert!(pending.is_empty());
    }
}
