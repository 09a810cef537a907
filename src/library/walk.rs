//! The walk over what a person adds: every regular file under the files and
//! folders given, with the path recorded for each, following links to files
//! and folders but never looping, and leaving out what the exclude rules
//! say (an excluded folder is not entered).

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::FoundFile;
use super::exclude::{Excluded, IGNORE_FILE, Rules, Scope};

/// What a walk found.
#[derive(Debug, Default)]
pub struct Collected {
    pub files: Vec<FoundFile>,
    /// One line per path that could not be walked, saying why.
    pub problems: Vec<String>,
    /// What the exclude rules left out, in the order met.
    pub skipped: Vec<Skipped>,
}

/// A file or folder the exclude rules left out (a folder's contents were not
/// looked at).
#[derive(Clone, Debug)]
pub struct Skipped {
    pub path: PathBuf,
    pub is_dir: bool,
    /// Whether it was one of the paths given (not found under one).
    pub named: bool,
    pub why: Excluded,
}

/// How many files and folders the exclude rules left out.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SkipCounts {
    pub files: usize,
    pub folders: usize,
}

impl SkipCounts {
    pub fn of(skipped: &[Skipped]) -> SkipCounts {
        let folders = skipped.iter().filter(|s| s.is_dir).count();
        SkipCounts {
            files: skipped.len() - folders,
            folders,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.files == 0 && self.folders == 0
    }
}

impl std::fmt::Display for SkipCounts {
    /// "37 files and 2 folders skipped by exclude rules".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = |n: usize, one: &str, many: &str| {
            format!(
                "{} {}",
                super::thousands(n),
                if n == 1 { one } else { many }
            )
        };
        let what = match (self.files, self.folders) {
            (files, 0) => count(files, "file", "files"),
            (0, folders) => count(folders, "folder", "folders"),
            (files, folders) => format!(
                "{} and {}",
                count(files, "file", "files"),
                count(folders, "folder", "folders")
            ),
        };
        write!(f, "{what} skipped by exclude rules")
    }
}

/// Finds every regular file under `paths` that `rules` (and the
/// `.breakdexignore` files on the way) do not leave out.
pub fn collect_files(paths: &[PathBuf], rules: &Rules) -> Collected {
    let mut collected = Collected::default();
    let mut walk = Walk {
        found: &mut collected,
        seen_dirs: HashSet::new(),
        ancestors: Vec::new(),
    };
    for path in paths {
        walk.start(rules, path, added_name(path));
    }
    collected
}

/// [`collect_files`] of one path below a folder that was added, recorded as
/// `recorded` (what it is recorded under in that folder): what a watched
/// folder finds when something changed in it.
pub fn collect_below(path: &Path, recorded: String, rules: &Rules) -> Collected {
    let mut collected = Collected::default();
    Walk {
        found: &mut collected,
        seen_dirs: HashSet::new(),
        ancestors: Vec::new(),
    }
    .start(rules, path, recorded);
    collected
}

/// Whether the rules leave out `path` (absolute, below the added folder
/// `root`, which is recorded as `root_recorded`) or a folder between them:
/// what a watched folder asks of a path an event named.
pub fn excluded_below(
    root: &Path,
    root_recorded: &str,
    path: &Path,
    is_dir: bool,
    rules: &Rules,
) -> bool {
    let Ok(below) = path.strip_prefix(root) else {
        return false;
    };
    // Problems with `.breakdexignore` files are said by the walks.
    let mut problems = Vec::new();
    let mut scope = Scope::above(rules, root, &mut problems);
    scope.enter(root, &mut problems);
    let (mut at, mut recorded) = (root.to_path_buf(), root_recorded.to_string());
    let parts: Vec<_> = below.components().collect();
    for (i, part) in parts.iter().enumerate() {
        at.push(part);
        recorded = join_recorded(&recorded, &part.as_os_str().to_string_lossy());
        let last = i + 1 == parts.len();
        if scope.excluded(&at, &recorded, !last || is_dir).is_some() {
            return true;
        }
        if !last {
            scope.enter(&at, &mut problems);
        }
    }
    false
}

/// Where `path` is, absolute, its folders' links and `..` resolved (so that
/// the `.breakdexignore` files above it are those of its real folders); the
/// path itself is not followed, if a link.
fn resolved(path: &Path) -> PathBuf {
    let abs = std::path::absolute(path).unwrap_or_else(|_| path.to_owned());
    let real = match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => std::fs::canonicalize(parent).map(|p| p.join(name)),
        _ => std::fs::canonicalize(&abs),
    };
    real.unwrap_or(abs)
}

/// The name a path a person added is recorded under: its last component
/// (that of the folder it names, for `.` or `..`), empty for `/`.
fn added_name(path: &Path) -> String {
    let name = match path.file_name() {
        Some(name) => Some(name.to_owned()),
        None => std::fs::canonicalize(path)
            .ok()
            .and_then(|p| p.file_name().map(|n| n.to_owned())),
    };
    name.map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `parent/name`, or `name` at the top.
fn join_recorded(parent: &str, name: &str) -> String {
    if parent.is_empty() {
        name.to_string()
    } else {
        format!("{parent}/{name}")
    }
}

/// The state of one walk over the paths a person added.
struct Walk<'w> {
    found: &'w mut Collected,
    /// Every folder entered so far (device, inode): a folder reached again by
    /// another path (a link to a sibling, a folder added with its parent) is
    /// not walked twice.
    seen_dirs: HashSet<(u64, u64)>,
    /// The folders being walked, outermost first: a link back to one of them
    /// is a loop.
    ancestors: Vec<(u64, u64)>,
}

impl Walk<'_> {
    /// Walks one of the paths given, recorded as `recorded`.
    fn start(&mut self, rules: &Rules, path: &Path, recorded: String) {
        let abs = resolved(path);
        let mut scope = Scope::above(rules, &abs, &mut self.found.problems);
        self.visit(&mut scope, path, &abs, recorded, true);
    }

    /// Visits `path` (at `abs`), recorded as `recorded`; `named` when it is
    /// one of the paths given.
    fn visit(&mut self, scope: &mut Scope, path: &Path, abs: &Path, recorded: String, named: bool) {
        let shown = path.display();
        let meta = match std::fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                let is_link =
                    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink());
                self.found.problems.push(match e.kind() {
                    _ if e.raw_os_error() == Some(libc::ELOOP) => {
                        format!("{shown}: skipped, it is a symbolic link loop")
                    }
                    std::io::ErrorKind::NotFound if is_link => {
                        format!("{shown}: skipped, it is a link to something that does not exist")
                    }
                    std::io::ErrorKind::NotFound => format!("{shown}: no such file or folder"),
                    std::io::ErrorKind::PermissionDenied => {
                        format!("{shown}: cannot be read (permission denied)")
                    }
                    _ => format!("{shown}: cannot be read ({e})"),
                });
                return;
            }
        };
        if self.excluded(scope, path, abs, &recorded, meta.is_dir(), named) {
            return;
        }
        if meta.is_file() {
            self.found.files.push(FoundFile {
                path: path.to_owned(),
                recorded,
            });
        } else if meta.is_dir() {
            self.visit_folder(scope, path, abs, recorded, (meta.dev(), meta.ino()));
        } else {
            let ft = meta.file_type();
            use std::os::unix::fs::FileTypeExt;
            let what = if ft.is_fifo() {
                "a named pipe (fifo)"
            } else if ft.is_socket() {
                "a socket"
            } else {
                "a device"
            };
            self.found.problems.push(format!(
                "{shown}: skipped, it is {what}, not a regular file"
            ));
        }
    }

    /// Walks the folder `path`, (device, inode) `key`.
    fn visit_folder(
        &mut self,
        scope: &mut Scope,
        path: &Path,
        abs: &Path,
        recorded: String,
        key: (u64, u64),
    ) {
        let shown = path.display();
        if self.ancestors.contains(&key) {
            self.found.problems.push(format!(
                "{shown}: skipped, it is a symbolic link loop (a link back to a folder above it)"
            ));
            return;
        }
        if !self.seen_dirs.insert(key) {
            // Already walked by another path: its files are already in.
            return;
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                self.found.problems.push(format!(
                    "{shown}: the folder cannot be read (permission denied)"
                ));
                return;
            }
            Err(e) => {
                self.found
                    .problems
                    .push(format!("{shown}: the folder cannot be read ({e})"));
                return;
            }
        };
        // The folder listing says which entries are plain files (no link):
        // those need no look of their own.
        let mut children: Vec<(PathBuf, bool)> = entries
            .filter_map(|e| {
                let e = e.ok()?;
                Some((e.path(), e.file_type().is_ok_and(|t| t.is_file())))
            })
            .collect();
        children.sort();
        let has_rules = children
            .iter()
            .any(|(child, _)| child.file_name().is_some_and(|n| n == IGNORE_FILE));
        let entered = has_rules && scope.enter(abs, &mut self.found.problems);
        self.ancestors.push(key);
        for (child, plain_file) in children {
            let name = child.file_name().unwrap_or_default();
            let child_abs = abs.join(name);
            let recorded = join_recorded(&recorded, &name.to_string_lossy());
            if !plain_file {
                self.visit(scope, &child, &child_abs, recorded, false);
            } else if !self.excluded(scope, &child, &child_abs, &recorded, false, false) {
                self.found.files.push(FoundFile {
                    path: child,
                    recorded,
                });
            }
        }
        self.ancestors.pop();
        if entered {
            scope.leave();
        }
    }

    /// Whether the rules leave `path` out; if so, it is noted as skipped.
    fn excluded(
        &mut self,
        scope: &Scope,
        path: &Path,
        abs: &Path,
        recorded: &str,
        is_dir: bool,
        named: bool,
    ) -> bool {
        let Some(why) = scope.excluded(abs, recorded, is_dir) else {
            return false;
        };
        self.found.skipped.push(Skipped {
            path: path.to_owned(),
            is_dir,
            named,
            why,
        });
        true
    }
}
