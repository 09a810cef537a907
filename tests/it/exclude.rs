//! Exclude rules through the real binary: the defaults leave out what
//! systems and tools leave beside real files and say how much they left
//! out; `exclude list|add|remove|reset` edit the library's list, checked;
//! `add --exclude` is for one call; a `.breakdexignore` applies below its
//! folder (folders above what was added included) and can take one back;
//! a path named on the command line and left out is always said.

use std::collections::BTreeSet;
use std::path::Path;

use serde_json::Value;

use crate::common::{TempLib, assert_failure, assert_success, hash_of, stderr, stdout};

/// The paths the library recorded, as `asset_paths` holds them.
fn recorded_paths(lib: &TempLib) -> BTreeSet<String> {
    let db = lib.read_db();
    let mut stmt = db.prepare("SELECT path FROM asset_paths").unwrap();
    stmt.query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn add(lib: &TempLib, args: &[&str], paths: &[&Path]) -> std::process::Output {
    let mut all = vec!["add"];
    all.extend_from_slice(args);
    all.extend(paths.iter().map(|p| p.to_str().unwrap()));
    lib.exec(&all)
}

fn list_json(lib: &TempLib) -> Value {
    serde_json::from_slice(&lib.ok(&["exclude", "list", "--json"]).stdout).unwrap()
}

fn patterns(lib: &TempLib) -> Vec<String> {
    serde_json::from_value(list_json(lib)["patterns"].clone()).unwrap()
}

#[test]
fn the_defaults_leave_out_litter_and_say_how_much() {
    let lib = TempLib::new();
    let photo = lib.write_file("in/trip/IMG_0001.jpg", 3000, 1);
    let raw = lib.write_file("in/trip/IMG_0001.CR3", 5000, 2);
    lib.write_file("in/trip/.DS_Store", 100, 3);
    lib.write_file("in/trip/Thumbs.db", 100, 4);
    lib.write_file("in/trip/._IMG_0001.jpg", 100, 5);
    lib.write_file("in/trip/film.mov.part", 4000, 6);
    lib.write_file("in/site/.git/objects/ab/cdef", 100, 7);
    lib.write_file("in/site/node_modules/x/index.js", 100, 8);
    let page = lib.write_file("in/site/index.html", 200, 9);

    let o = add(&lib, &[], &[&lib.path("in")]);
    assert_success(&o, "add");
    assert_eq!(
        stdout(&o).trim(),
        "added 3 files (3 uploads queued), 4 files and 2 folders skipped by exclude rules"
    );
    // What was found under the folder and left out is counted, not listed.
    assert_eq!(stderr(&o), "", "nothing named was left out");
    assert_eq!(
        recorded_paths(&lib),
        [
            "in/site/index.html",
            "in/trip/IMG_0001.CR3",
            "in/trip/IMG_0001.jpg"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    let queued: BTreeSet<String> = lib
        .ops_json()
        .iter()
        .map(|op| op["content_hash"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        queued,
        [hash_of(&photo), hash_of(&raw), hash_of(&page)].into()
    );
}

#[test]
fn list_skipped_names_each_path_and_the_rule_that_left_it_out() {
    let lib = TempLib::new();
    lib.write_file("in/a.jpg", 100, 1);
    lib.write_file("in/b.tmp", 100, 2);
    lib.write_file("in/node_modules/x.js", 100, 3);
    let o = add(&lib, &["--list-skipped"], &[&lib.path("in")]);
    assert_success(&o, "add --list-skipped");
    let err = stderr(&o);
    let b = lib.path("in/b.tmp");
    let modules = lib.path("in/node_modules");
    assert!(
        err.contains(&format!(
            "{}: skipped by the library's exclude rule `*.tmp`",
            b.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{}/: skipped by the library's exclude rule `node_modules/`",
            modules.display()
        )),
        "{err}"
    );
    assert_eq!(err.lines().count(), 2, "{err}");
}

#[test]
fn a_path_named_and_left_out_is_said_and_the_add_still_succeeds() {
    let lib = TempLib::new();
    let kept = lib.write_file("in/notes.txt", 100, 1);
    let tmp = lib.write_file("in/draft.tmp", 100, 2);
    let o = add(&lib, &[], &[&kept, &tmp]);
    assert_success(&o, "add of a file the rules leave out");
    assert_eq!(
        stderr(&o).trim(),
        format!(
            "breakdex: {}: skipped by the library's exclude rule `*.tmp`",
            tmp.display()
        )
    );
    assert_eq!(
        stdout(&o).trim(),
        "added 1 file (1 upload queued), 1 file skipped by exclude rules"
    );
    assert_eq!(recorded_paths(&lib), ["notes.txt".to_string()].into());
}

#[test]
fn the_library_list_is_edited_checked_and_kept() {
    let lib = TempLib::new();
    let listing = list_json(&lib);
    assert_eq!(listing["is_default"], true);
    assert_eq!(listing["patterns"], listing["defaults"]);
    assert!(patterns(&lib).contains(&".DS_Store".to_string()));

    lib.ok(&["exclude", "add", "*.xmp", "2026/raw/"]);
    lib.ok(&["exclude", "remove", ".DS_Store"]);
    let now = patterns(&lib);
    assert_eq!(list_json(&lib)["is_default"], false);
    assert!(!now.contains(&".DS_Store".to_string()), "{now:?}");
    assert_eq!(&now[now.len() - 2..], ["*.xmp", "2026/raw/"]);
    // Adding one already there changes nothing.
    let o = lib.ok(&["exclude", "add", "*.xmp"]);
    assert!(stdout(&o).contains("already in the list"), "{}", stdout(&o));
    assert_eq!(patterns(&lib), now);

    // A bad pattern or one not in the list is refused with the reason, and
    // the list is left as it was.
    let o = lib.exec(&["exclude", "add", "*.psd", "{a,b"]);
    assert_failure(&o, "exclude add of a bad pattern");
    assert!(
        stderr(&o).contains("\"{a,b\" is not a valid pattern"),
        "{}",
        stderr(&o)
    );
    let o = lib.exec(&["exclude", "remove", "*.psd"]);
    assert_failure(&o, "exclude remove of a pattern not in the list");
    assert!(
        stderr(&o).contains("\"*.psd\" is not one of the library's exclude patterns"),
        "{}",
        stderr(&o)
    );
    assert_eq!(patterns(&lib), now);

    // The edited list is what an add uses.
    lib.write_file("2026/.DS_Store", 100, 1);
    lib.write_file("2026/a.xmp", 100, 2);
    lib.write_file("2026/raw/a.cr3", 100, 3);
    lib.write_file("2026/a.jpg", 100, 4);
    let o = add(&lib, &[], &[&lib.path("2026")]);
    assert_success(&o, "add");
    assert_eq!(
        recorded_paths(&lib),
        ["2026/.DS_Store", "2026/a.jpg"]
            .into_iter()
            .map(String::from)
            .collect()
    );

    lib.ok(&["exclude", "reset"]);
    assert_eq!(list_json(&lib)["is_default"], true);
}

#[test]
fn an_exclude_given_to_add_is_for_that_call_only() {
    let lib = TempLib::new();
    lib.write_file("in/a.jpg", 100, 1);
    lib.write_file("in/a.xmp", 100, 2);
    let o = add(&lib, &["--exclude", "*.xmp"], &[&lib.path("in")]);
    assert_success(&o, "add --exclude");
    assert!(stdout(&o).contains("1 file skipped"), "{}", stdout(&o));
    assert_eq!(recorded_paths(&lib), ["in/a.jpg".to_string()].into());
    assert!(!patterns(&lib).contains(&"*.xmp".to_string()));
    let o = add(&lib, &[], &[&lib.path("in")]);
    assert_success(&o, "add again");
    assert!(recorded_paths(&lib).contains("in/a.xmp"));

    let o = add(&lib, &["--exclude", "{x"], &[&lib.path("in")]);
    assert_failure(&o, "add --exclude with a bad pattern");
    assert!(stderr(&o).contains("--exclude: \"{x\""), "{}", stderr(&o));
}

#[test]
fn a_breakdexignore_applies_below_its_folder_and_can_take_one_back() {
    let lib = TempLib::new();
    std::fs::create_dir_all(lib.path("shoot/day1/best")).unwrap();
    std::fs::write(
        lib.path("shoot/.breakdexignore"),
        "# proofs are made again from the raws\n*.jpg\n/notes.txt\n",
    )
    .unwrap();
    std::fs::write(lib.path("shoot/day1/best/.breakdexignore"), "!*.jpg\n").unwrap();
    lib.write_file("shoot/day1/a.jpg", 100, 1);
    lib.write_file("shoot/day1/a.cr3", 100, 2);
    lib.write_file("shoot/day1/best/b.jpg", 100, 3);
    lib.write_file("shoot/day1/notes.txt", 100, 4);
    lib.write_file("shoot/notes.txt", 100, 5);

    let o = add(&lib, &["--list-skipped"], &[&lib.path("shoot")]);
    assert_success(&o, "add");
    assert_eq!(
        recorded_paths(&lib),
        [
            "shoot/.breakdexignore",
            "shoot/day1/a.cr3",
            "shoot/day1/best/.breakdexignore",
            "shoot/day1/best/b.jpg",
            "shoot/day1/notes.txt",
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
    let rules_file = lib.path("shoot/.breakdexignore");
    assert!(
        stderr(&o).contains(&format!(
            "day1/a.jpg: skipped by the rule `*.jpg` in {}",
            rules_file.display()
        )),
        "{}",
        stderr(&o)
    );

    // Adding a folder below it: the rules of the folders above still apply.
    let other = TempLib::new();
    let o = other.exec(&["add", lib.path("shoot/day1").to_str().unwrap()]);
    assert_success(&o, "add of a folder below a .breakdexignore");
    let db = other.read_db();
    let paths: BTreeSet<String> = db
        .prepare("SELECT path FROM asset_paths")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert_eq!(
        paths,
        [
            "day1/a.cr3",
            "day1/best/.breakdexignore",
            "day1/best/b.jpg",
            "day1/notes.txt"
        ]
        .into_iter()
        .map(String::from)
        .collect()
    );
}

#[test]
fn a_bad_line_in_a_breakdexignore_is_reported_and_the_rest_applies() {
    let lib = TempLib::new();
    std::fs::write(
        {
            std::fs::create_dir_all(lib.path("in")).unwrap();
            lib.path("in/.breakdexignore")
        },
        "*.log\n{oops\n",
    )
    .unwrap();
    lib.write_file("in/a.jpg", 100, 1);
    lib.write_file("in/b.log", 100, 2);
    let o = add(&lib, &[], &[&lib.path("in")]);
    assert_failure(&o, "add with a bad .breakdexignore line");
    let err = stderr(&o);
    assert!(err.contains(".breakdexignore: line 2"), "{err}");
    assert!(err.contains("the other lines still apply"), "{err}");
    assert!(!recorded_paths(&lib).contains("in/b.log"));
    assert!(recorded_paths(&lib).contains("in/a.jpg"));
}

#[test]
fn an_unreadable_stored_list_is_an_error_that_says_the_way_out() {
    let lib = TempLib::new();
    lib.ok(&["exclude", "add", "*.xmp"]);
    rusqlite::Connection::open(lib.db())
        .unwrap()
        .execute(
            "UPDATE library_settings SET value = 'not json' WHERE key = 'exclude_patterns'",
            [],
        )
        .unwrap();
    let file = lib.write_file("in/a.jpg", 100, 1);
    let o = add(&lib, &[], &[&file]);
    assert_failure(&o, "add with an unreadable exclude list");
    assert!(
        stderr(&o).contains("`breakdex exclude reset`"),
        "{}",
        stderr(&o)
    );
    assert!(recorded_paths(&lib).is_empty());
    lib.ok(&["exclude", "reset"]);
    assert_success(&add(&lib, &[], &[&file]), "add after the reset");
}
