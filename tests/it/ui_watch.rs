//! Watched folders in the real window (egui_kittest): the "Keep watching"
//! checkbox of a drop of a folder watches it with what the drop hashed
//! noted, so its first rescan hashes nothing again; the Watched folders
//! window lists each folder with its state, and pauses, resumes and removes.

use std::sync::Arc;

use breakdex::store::Store;
use egui_kittest::kittest::Queryable;

use crate::common::{TempLib, hash_of};
use crate::ui::{Dropped, harness, library, loaded, settle, settle_on};

#[test]
fn keep_watching_a_dropped_folder_watches_it_without_hashing_it_again() {
    let lib = TempLib::new();
    let store = library(&lib);
    let one = lib.write_file("drop/album/one.jpg", 3000, 31);
    let two = lib.write_file("drop/album/deeper/two.jpg", 4000, 32);
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.input_mut()
        .dropped_files
        .push(Arc::new(Dropped(lib.path("drop/album"))));
    h.step();
    settle_on(&mut h, "the drop's import ends, the checkbox shows", |h| {
        !h.state().importing() && h.query_by_label("Keep watching album").is_some()
    });
    h.get_by_label("Keep watching album").click();
    settle(&mut h, "the folder is watched", |_| {
        store
            .watched_folders()
            .unwrap()
            .first()
            .is_some_and(|f| store.watched_files(f.id).unwrap().len() == 2)
    });
    let folder = &store.watched_folders().unwrap()[0];
    let real = std::fs::canonicalize(lib.path("drop/album")).unwrap();
    assert_eq!(folder.path, real.to_str().unwrap());
    let seen = store.watched_files(folder.id).unwrap();
    assert_eq!(seen["album/one.jpg"].2, hash_of(&one));
    assert_eq!(seen["album/deeper/two.jpg"].2, hash_of(&two));
    // What a rescan finds: both unchanged, nothing hashed again.
    let mut s = Store::open(&lib.db()).unwrap();
    let rules = breakdex::library::exclude::library_rules(&s, &[]).unwrap();
    let root = breakdex::watch::Root::new(folder.clone());
    let taken = breakdex::watch::rescan_now(&mut s, &root, &rules).unwrap();
    assert_eq!((taken.unchanged, taken.added), (2, 0));
    // Ticked once: it says so and cannot be ticked again.
    use egui_kittest::kittest::NodeT;
    assert!(
        h.get_by_label("Keep watching album")
            .accesskit_node()
            .is_disabled()
    );
}

#[test]
fn the_watched_folders_window_lists_pauses_resumes_and_removes() {
    let lib = TempLib::new();
    let mut store = library(&lib);
    std::fs::create_dir_all(lib.path("Pictures")).unwrap();
    let mut h = harness(&lib.db());
    settle(&mut h, "first load", loaded);
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Watched folders…").click();
    settle_on(&mut h, "the empty list shows", |h| {
        h.query_by_label("No folder is watched yet.").is_some()
    });
    let folder = breakdex::watch::add(&mut store, &lib.path("Pictures"), &[], 0).unwrap();
    // The window reads again by itself; no engine runs in this harness.
    settle_on(&mut h, "the folder shows", |h| {
        h.query_by_label(&folder.path).is_some() && h.query_by_label("not watched now").is_some()
    });
    h.get_by_label("Pause").click();
    settle(&mut h, "the folder is paused", |_| {
        store.watched_folders().unwrap()[0].paused
    });
    settle_on(&mut h, "the window says paused", |h| {
        h.query_by_label("paused").is_some() && h.query_by_label("Resume").is_some()
    });
    h.get_by_label("Resume").click();
    settle(&mut h, "the folder is watched again", |_| {
        !store.watched_folders().unwrap()[0].paused
    });
    h.get_by_label("Remove").click();
    settle(&mut h, "the folder is removed", |_| {
        store.watched_folders().unwrap().is_empty()
    });
    settle_on(&mut h, "the window says so", |h| {
        h.query_by_label("No folder is watched yet.").is_some()
    });
}
