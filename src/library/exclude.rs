//! Exclude rules: which files an add, a drop or a watch leaves out.
//!
//! Patterns are gitignore lines (matched by the `ignore` crate, the matcher
//! ripgrep uses), from two places, the nearer one deciding first:
//!
//! - a `.breakdexignore` file in a folder applies to everything below it
//!   (a deeper one before a shallower one, as git reads `.gitignore`s),
//!   including folders above what was added;
//! - the library's list (`breakdex exclude`, [`DEFAULT_RULES`] until it is
//!   edited), matched against the path recorded for a file, so that
//!   `2026/raw/` leaves out that folder of an added `~/Pictures/2026`, and
//!   `*.tmp` any such file at any depth.
//!
//! Within one source the last matching line wins, and `!pattern` brings
//! back what an earlier line left out. An excluded folder is not entered.

use std::path::{Path, PathBuf};

use ignore::Match;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

use crate::store::{Store, StoreError};

/// The file whose lines exclude what is below the folder holding it.
pub const IGNORE_FILE: &str = ".breakdexignore";

/// The library's rules until a person edits them: files systems and tools
/// leave beside real ones, half-written downloads, and folders of code.
pub const DEFAULT_RULES: &[&str] = &[
    ".DS_Store",
    "Thumbs.db",
    "desktop.ini",
    "._*",
    "*.part",
    "*.crdownload",
    "*.tmp",
    "~$*",
    ".git/",
    "node_modules/",
];

/// Checks one pattern of the library's list as a person typed it; the error
/// says what is wrong with it.
pub fn check_pattern(pattern: &str) -> Result<(), String> {
    if pattern.trim().is_empty() {
        return Err("an exclude pattern cannot be empty".into());
    }
    if pattern.contains(['\n', '\r']) {
        return Err("an exclude pattern is one line".into());
    }
    if pattern.starts_with('#') {
        return Err(format!(
            "{pattern:?} would be a comment in gitignore syntax; write \\{pattern} to match a name starting with #"
        ));
    }
    GitignoreBuilder::new("")
        .add_line(None, pattern)
        .map(|_| ())
        .map_err(|e| format!("{pattern:?} is not a valid pattern: {}", plain(&e)))
}

/// The library's patterns: as saved, or [`DEFAULT_RULES`] if never edited.
pub fn patterns(store: &Store) -> Result<Vec<String>, StoreError> {
    Ok(store
        .exclude_patterns()?
        .unwrap_or_else(|| DEFAULT_RULES.iter().map(|p| p.to_string()).collect()))
}

/// The rules an add, a drop or a watch uses: the library's patterns, then
/// `extra` ones for this call only (`add --exclude`).
pub fn library_rules(store: &Store, extra: &[String]) -> Result<Rules, StoreError> {
    for p in extra {
        check_pattern(p).map_err(|e| StoreError::Invalid(format!("--exclude: {e}")))?;
    }
    // The extra ones are good: a bad pattern is a saved one.
    Rules::new(&[patterns(store)?.as_slice(), extra].concat()).map_err(|e| {
        StoreError::Invalid(format!(
            "the library's exclude rules: {e}; `breakdex exclude remove` takes it out"
        ))
    })
}

/// Saves the library's list as given (each pattern checked, the same one
/// kept once, blank lines dropped): the window's editor.
pub fn save(store: &mut Store, list: &[String]) -> Result<(), StoreError> {
    let mut kept: Vec<String> = Vec::with_capacity(list.len());
    for p in list.iter().map(|p| p.trim_end_matches('\r')) {
        if p.trim().is_empty() || kept.iter().any(|k| k == p) {
            continue;
        }
        check_pattern(p).map_err(StoreError::Invalid)?;
        kept.push(p.to_string());
    }
    store.set_exclude_patterns(Some(&kept))
}

/// Adds patterns at the end of the library's list; returns those that were
/// not in it already.
pub fn add(store: &mut Store, new: &[String]) -> Result<Vec<String>, StoreError> {
    let mut list = patterns(store)?;
    let mut added = Vec::new();
    for p in new {
        check_pattern(p).map_err(StoreError::Invalid)?;
        if !list.contains(p) {
            list.push(p.clone());
            added.push(p.clone());
        }
    }
    store.set_exclude_patterns(Some(&list))?;
    Ok(added)
}

/// Takes patterns out of the library's list; one that is not in it is an
/// error (nothing is changed then).
pub fn remove(store: &mut Store, gone: &[String]) -> Result<(), StoreError> {
    let mut list = patterns(store)?;
    for p in gone {
        let Some(at) = list.iter().position(|k| k == p) else {
            return Err(StoreError::Invalid(format!(
                "{p:?} is not one of the library's exclude patterns (`breakdex exclude list` shows them)"
            )));
        };
        list.remove(at);
    }
    store.set_exclude_patterns(Some(&list))
}

/// The words of a pattern error, without the crate's wrapping.
fn plain(e: &ignore::Error) -> String {
    match e {
        ignore::Error::Glob { err, .. } => err.clone(),
        other => other.to_string(),
    }
}

/// Why a file or folder was left out.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Excluded {
    /// The pattern as written.
    pub pattern: String,
    /// The `.breakdexignore` it is in; `None` for the library's list.
    pub file: Option<PathBuf>,
}

impl std::fmt::Display for Excluded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.file {
            Some(file) => write!(f, "the rule `{}` in {}", self.pattern, file.display()),
            None => write!(f, "the library's exclude rule `{}`", self.pattern),
        }
    }
}

/// The library's list, ready to match.
pub struct Rules {
    library: Gitignore,
}

impl Rules {
    /// Rules from the library's patterns (each checked as
    /// [`check_pattern`] does; the first bad one is the error).
    pub fn new<S: AsRef<str>>(patterns: &[S]) -> Result<Rules, String> {
        let mut builder = GitignoreBuilder::new("");
        for p in patterns {
            check_pattern(p.as_ref())?;
            builder
                .add_line(None, p.as_ref())
                .map_err(|e| format!("{:?}: {}", p.as_ref(), plain(&e)))?;
        }
        let library = builder.build().map_err(|e| plain(&e))?;
        Ok(Rules { library })
    }

    /// No rules at all: everything is taken.
    pub fn none() -> Rules {
        Rules {
            library: Gitignore::empty(),
        }
    }

    /// Whether the path recorded as `recorded` (see the module's doc) is
    /// left out by the library's list.
    fn library_verdict(&self, recorded: &str, is_dir: bool) -> Option<Decision> {
        decide(self.library.matched(recorded, is_dir), None)
    }
}

/// What one matcher said.
enum Decision {
    Exclude(Excluded),
    Include,
}

fn decide(m: Match<&ignore::gitignore::Glob>, file: Option<&Path>) -> Option<Decision> {
    match m {
        Match::None => None,
        Match::Whitelist(_) => Some(Decision::Include),
        Match::Ignore(glob) => Some(Decision::Exclude(Excluded {
            pattern: glob.original().to_string(),
            file: file.map(Path::to_path_buf),
        })),
    }
}

/// The `.breakdexignore` files in force at one point of a walk, outermost
/// first, with the library's list below them all.
pub struct Scope<'a> {
    rules: &'a Rules,
    /// The folder (absolute) each file is in, its path, and its matcher.
    files: Vec<(PathBuf, PathBuf, Gitignore)>,
}

impl<'a> Scope<'a> {
    /// The scope at `path` (absolute): every `.breakdexignore` in the
    /// folders above it. Problems reading one are pushed to `problems`.
    pub fn above(rules: &'a Rules, path: &Path, problems: &mut Vec<String>) -> Scope<'a> {
        let mut scope = Scope {
            rules,
            files: Vec::new(),
        };
        let mut folders: Vec<&Path> = path.ancestors().skip(1).collect();
        folders.reverse();
        for folder in folders {
            scope.enter(folder, problems);
        }
        scope
    }

    /// Reads the `.breakdexignore` of `folder` (absolute), if it has one;
    /// returns whether it did (then [`Scope::leave`] it after the folder).
    /// A line that is not a valid pattern is left out and said in
    /// `problems`; the rest of the file still applies.
    pub fn enter(&mut self, folder: &Path, problems: &mut Vec<String>) -> bool {
        let file = folder.join(IGNORE_FILE);
        if !file.is_file() {
            return false;
        }
        let mut builder = GitignoreBuilder::new(folder);
        if let Some(e) = builder.add(&file) {
            let unreadable = matches!(&e, ignore::Error::WithPath { err, .. }
                if matches!(**err, ignore::Error::Io(_)));
            problems.push(format!(
                "{}: {} ({})",
                file.display(),
                ignore_file_error(&e),
                if unreadable {
                    "its rules were not used"
                } else {
                    "the other lines still apply"
                }
            ));
        }
        match builder.build() {
            Ok(matcher) => {
                self.files.push((folder.to_owned(), file, matcher));
                true
            }
            Err(e) => {
                problems.push(format!(
                    "{}: {}, so it was not used",
                    file.display(),
                    ignore_file_error(&e)
                ));
                false
            }
        }
    }

    /// Leaves the folder last entered with a `.breakdexignore`.
    pub fn leave(&mut self) {
        self.files.pop();
    }

    /// Whether a file or folder is left out: `path` is absolute, `recorded`
    /// the path recorded for it.
    pub fn excluded(&self, path: &Path, recorded: &str, is_dir: bool) -> Option<Excluded> {
        let nearest_first = self.files.iter().rev().filter(|(folder, ..)| {
            // A folder's own `.breakdexignore` speaks of what is below it,
            // not of the folder itself.
            path.starts_with(folder) && path != folder
        });
        for (_, file, matcher) in nearest_first {
            match decide(matcher.matched(path, is_dir), Some(file)) {
                Some(Decision::Exclude(why)) => return Some(why),
                Some(Decision::Include) => return None,
                None => {}
            }
        }
        match self.rules.library_verdict(recorded, is_dir) {
            Some(Decision::Exclude(why)) => Some(why),
            _ => None,
        }
    }
}

/// A `.breakdexignore` problem in plain words (the crate's errors for a
/// file hold a line number and the pattern).
fn ignore_file_error(e: &ignore::Error) -> String {
    match e {
        ignore::Error::Partial(errors) => errors
            .iter()
            .map(ignore_file_error)
            .collect::<Vec<_>>()
            .join("; "),
        ignore::Error::WithLineNumber { line, err } => {
            format!("line {line}: {}", ignore_file_error(err))
        }
        ignore::Error::WithPath { err, .. } => ignore_file_error(err),
        ignore::Error::Glob { glob, err } => match glob {
            Some(glob) => format!("{glob:?} is not a valid pattern: {err}"),
            None => err.clone(),
        },
        ignore::Error::Io(e) => format!("cannot be read ({e})"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn library(patterns: &[&str]) -> Rules {
        Rules::new(patterns).unwrap()
    }

    /// The pattern of the library's list that leaves `recorded` out, with
    /// no `.breakdexignore` in force.
    fn by_the_list(rules: &Rules, recorded: &str, is_dir: bool) -> Option<String> {
        let scope = Scope {
            rules,
            files: Vec::new(),
        };
        let path = Path::new("/x").join(recorded);
        scope.excluded(&path, recorded, is_dir).map(|e| e.pattern)
    }

    #[test]
    fn the_defaults_leave_out_what_tools_leave_behind_and_nothing_else() {
        let rules = library(DEFAULT_RULES);
        let out = |recorded: &str, is_dir: bool| by_the_list(&rules, recorded, is_dir);
        assert_eq!(out("trip/.DS_Store", false).as_deref(), Some(".DS_Store"));
        assert_eq!(out("trip/._IMG_1.jpg", false).as_deref(), Some("._*"));
        assert_eq!(out("trip/film.mov.part", false).as_deref(), Some("*.part"));
        assert_eq!(out("~$report.docx", false).as_deref(), Some("~$*"));
        assert_eq!(out("code/.git", true).as_deref(), Some(".git/"));
        assert_eq!(
            out("a/b/node_modules", true).as_deref(),
            Some("node_modules/")
        );
        // A file named like a folder rule is a file, and taken.
        assert_eq!(out("notes/node_modules", false), None);
        assert_eq!(out("trip/IMG_0001.jpg", false), None);
        assert_eq!(out("trip/partial.jpg", false), None);
        assert_eq!(out("Thumbs.db.jpg", false), None);
    }

    #[test]
    fn library_rules_with_a_slash_are_anchored_to_the_recorded_path() {
        let rules = library(&["2026/raw/", "*.xmp", "!keep.xmp"]);
        let out = |recorded: &str, is_dir: bool| by_the_list(&rules, recorded, is_dir).is_some();
        assert!(out("2026/raw", true));
        assert!(!out("2025/2026/raw", true));
        assert!(!out("2026/raw", false));
        assert!(out("2026/trip/a.xmp", false));
        assert!(!out("2026/trip/keep.xmp", false));
    }

    #[test]
    fn bad_patterns_are_refused_with_the_reason() {
        assert!(check_pattern("").unwrap_err().contains("empty"));
        assert!(check_pattern("#x").unwrap_err().contains("comment"));
        assert!(check_pattern("a\nb").unwrap_err().contains("one line"));
        let e = check_pattern("{a,b").unwrap_err();
        assert!(e.contains("\"{a,b\" is not a valid pattern"), "{e}");
        assert!(Rules::new(&["*.tmp", "{a,b"]).is_err());
        assert!(check_pattern("\\#notes").is_ok());
    }

    #[test]
    fn a_nearer_breakdexignore_decides_first_and_can_bring_back() {
        let dir = tempfile::tempdir().unwrap();
        let top = dir.path();
        std::fs::create_dir_all(top.join("a/b")).unwrap();
        std::fs::write(top.join(IGNORE_FILE), "*.jpg\n/only-top.txt\n").unwrap();
        std::fs::write(top.join("a/b").join(IGNORE_FILE), "!keep.jpg\n").unwrap();
        let rules = library(&["*.tmp"]);
        let mut problems = Vec::new();
        let mut scope = Scope::above(&rules, &top.join("a/b/x.jpg"), &mut problems);
        // `above` read the files of the folders above the path.
        assert_eq!(scope.files.len(), 2, "{problems:?}");
        let why = scope
            .excluded(&top.join("a/b/x.jpg"), "b/x.jpg", false)
            .unwrap();
        assert_eq!(why.pattern, "*.jpg");
        assert_eq!(why.file.as_deref(), Some(top.join(IGNORE_FILE).as_path()));
        assert_eq!(
            scope.excluded(&top.join("a/b/keep.jpg"), "b/keep.jpg", false),
            None
        );
        assert!(
            scope
                .excluded(&top.join("a/b/x.tmp"), "b/x.tmp", false)
                .is_some()
        );
        // Anchored to the folder that holds the file.
        assert!(
            scope
                .excluded(&top.join("only-top.txt"), "only-top.txt", false)
                .is_some()
        );
        assert_eq!(
            scope.excluded(&top.join("a/only-top.txt"), "a/only-top.txt", false),
            None
        );
        scope.leave();
        assert!(
            scope
                .excluded(&top.join("a/b/keep.jpg"), "b/keep.jpg", false)
                .is_some()
        );
        assert!(problems.is_empty(), "{problems:?}");
    }

    #[test]
    fn a_bad_line_in_a_breakdexignore_is_said_and_the_rest_applies() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(IGNORE_FILE), "*.tmp\n{a,b\n").unwrap();
        let rules = Rules::none();
        let mut problems = Vec::new();
        let mut scope = Scope::above(&rules, dir.path(), &mut problems);
        assert!(scope.files.is_empty());
        assert!(scope.enter(dir.path(), &mut problems));
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("line 2"), "{}", problems[0]);
        assert!(
            problems[0].contains("the other lines still apply"),
            "{}",
            problems[0]
        );
        assert!(
            scope
                .excluded(&dir.path().join("x.tmp"), "x.tmp", false)
                .is_some()
        );
    }
}
