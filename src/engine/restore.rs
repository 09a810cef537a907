//! A restore's download: the copy is fetched once into the restore folder
//! (as `.breakdex-tmp-<op id>.part`), checked against its hash, then placed at each recorded
//! path asked for, never outside the restore folder and never over another
//! file (a path that holds other bytes gets a free name beside it). A path
//! that already holds these bytes counts as done, without a download.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use super::executor::{
    BadCopy, Job, LOCAL_READ, OpResult, Progress, bad_copy, fail, place, read_full, read_remote,
};
use crate::bandwidth::Direction;
use crate::catalog::paths;
use crate::crypto::CryptoError;
use crate::providers::Failure;
use crate::store::{CopyChange, RestoreTarget, TargetDone};

/// A target checked and ready to be placed.
struct Place {
    id: i64,
    /// The folder it goes in (inside the restore folder) and its name there.
    dir: PathBuf,
    name: String,
    /// Where it was asked to be.
    wanted: PathBuf,
}

/// Runs a download that has restore targets (from a remote provider; a
/// local one's run on a blocking thread, see [`download_blocking`]).
pub async fn download<F: FnMut(i64, i64)>(
    job: &Job,
    progress: &mut Progress<F>,
    got: &mut u64,
) -> OpResult {
    let hash = job.op.content_hash.clone();
    let targets = job.targets.clone();
    let (mut done, todo) = tokio::task::spawn_blocking(move || check_targets(&targets, &hash))
        .await
        .map_err(|e| fail(Failure::transient(format!("internal error: {e}"))))?
        .map_err(fail)?;
    if !todo.is_empty() {
        let tmp = tmp_path(job);
        let fetched = fetch(job, &tmp, progress, got).await;
        let placed = match fetched {
            Ok(()) => {
                let hash = job.op.content_hash.clone();
                let tmp = tmp.clone();
                tokio::task::spawn_blocking(move || place_all(&tmp, todo, &hash))
                    .await
                    .map_err(|e| Failure::transient(format!("internal error: {e}")))
                    .and_then(|r| r)
                    .map_err(fail)
            }
            Err(e) => Err(e),
        };
        let _ = std::fs::remove_file(&tmp);
        done.extend(placed?);
    }
    Ok(Some(restored(job, done)))
}

/// Runs a download with restore targets from a local provider's folder on
/// the calling thread, with plain file calls (as local uploads run). Once
/// `cancelled` is set it stops before its next chunk and places nothing.
pub fn download_blocking<F: FnMut(i64, i64)>(
    job: &Job,
    cancelled: &AtomicBool,
    progress: &mut Progress<F>,
    got: &mut u64,
) -> OpResult {
    let (mut done, todo) = check_targets(&job.targets, &job.op.content_hash).map_err(fail)?;
    if !todo.is_empty() {
        let tmp = tmp_path(job);
        let placed = fetch_local(job, &tmp, cancelled, progress, got)
            .and_then(|()| place_all(&tmp, todo, &job.op.content_hash).map_err(fail));
        let _ = std::fs::remove_file(&tmp);
        done.extend(placed?);
    }
    Ok(Some(restored(job, done)))
}

/// Where a restore's download is written before it is placed: beside the
/// files (so that placing them is a link or a rename), in no folder of its
/// own (which another download into the same folder could remove as it is
/// being used).
fn tmp_path(job: &Job) -> PathBuf {
    Path::new(&job.targets[0].dir).join(format!(".breakdex-tmp-{}.part", job.op.id))
}

/// What a restore changed: its targets, and the asset's local copy, which
/// is the restored file if the library had none.
fn restored(job: &Job, done: Vec<TargetDone>) -> CopyChange {
    let has_local = job
        .asset
        .as_ref()
        .and_then(|a| a.local_path.as_deref())
        .is_some_and(|p| Path::new(p).is_file());
    let local_path = if has_local {
        None
    } else {
        done.iter().find_map(|t| t.placed_path.clone())
    };
    CopyChange::Restored {
        local_path,
        targets: done,
    }
}

/// Splits the targets into those done already (refused, or there with these
/// bytes) and those to place.
fn check_targets(
    targets: &[RestoreTarget],
    hash: &str,
) -> Result<(Vec<TargetDone>, Vec<Place>), Failure> {
    let (mut done, mut todo) = (Vec::new(), Vec::new());
    // The restore folder as it really is (every target of one op is under
    // the same one, but for two restores of one asset at once).
    let mut real: Option<(&str, PathBuf)> = None;
    for t in targets {
        let root = Path::new(&t.dir);
        let refused = |note: String| TargetDone {
            id: t.id,
            placed_path: None,
            note: Some(format!(
                "{}: not restored, {note}",
                root.join(&t.path).display()
            )),
        };
        if let Some(why) = paths::refusal(&t.path) {
            done.push(refused(why));
            continue;
        }
        let root = match &real {
            Some((dir, path)) if *dir == t.dir => path.clone(),
            _ => {
                let path = std::fs::canonicalize(root).map_err(|e| {
                    Failure::permanent(format!("the restore folder {} cannot be used: {e}", t.dir))
                })?;
                real = Some((&t.dir, path.clone()));
                path
            }
        };
        let wanted = root.join(&t.path);
        let (parent, name) = match (wanted.parent(), t.path.rsplit('/').next()) {
            (Some(parent), Some(name)) => (parent.to_owned(), name.to_string()),
            _ => {
                done.push(refused("it names no file".into()));
                continue;
            }
        };
        match inside(&root, &parent) {
            Ok(dir) => {
                if crate::library::hash_path(&wanted).is_ok_and(|(h, _)| h == hash) {
                    done.push(TargetDone {
                        id: t.id,
                        placed_path: Some(wanted.to_string_lossy().into_owned()),
                        note: None,
                    });
                } else {
                    todo.push(Place {
                        id: t.id,
                        dir,
                        name,
                        wanted,
                    });
                }
            }
            Err(why) => done.push(refused(why)),
        }
    }
    Ok((done, todo))
}

/// Makes the folder `dir` (under `root`) and checks that it really is in
/// `root`: a link on the way that leads elsewhere is refused.
fn inside(root: &Path, dir: &Path) -> Result<PathBuf, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("its folder cannot be made ({e})"))?;
    let real =
        std::fs::canonicalize(dir).map_err(|e| format!("its folder cannot be used ({e})"))?;
    if real.starts_with(root) {
        Ok(real)
    } else {
        Err(format!(
            "a folder on its way is a link to {}, outside the restore folder",
            real.display()
        ))
    }
}

/// Downloads the copy into `tmp`, checking its hash.
async fn fetch<F: FnMut(i64, i64)>(
    job: &Job,
    tmp: &Path,
    progress: &mut Progress<F>,
    got: &mut u64,
) -> Result<(), (Option<CopyChange>, Failure)> {
    let file = tokio::fs::File::create(tmp)
        .await
        .map_err(|e| folder_failure(tmp, e))?;
    let mut writer = tokio::io::BufWriter::with_capacity(1 << 20, file);
    let read = read_remote(job, progress, got, &mut writer).await;
    let file = writer.into_inner();
    read?;
    file.sync_all().await.map_err(|e| folder_failure(tmp, e))
}

/// Copies the object from a local provider's folder into `tmp`, checking
/// its hash.
fn fetch_local<F: FnMut(i64, i64)>(
    job: &Job,
    tmp: &Path,
    cancelled: &AtomicBool,
    progress: &mut Progress<F>,
    got: &mut u64,
) -> Result<(), (Option<CopyChange>, Failure)> {
    let Some(root) = job.provider.local_root() else {
        return Err(fail(Failure::permanent("not a local provider")));
    };
    let key = job.provider.content_key(&job.op.content_hash);
    let file = match std::fs::File::open(root.join(key)) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            job.provider.check_online().map_err(fail)?;
            return Err(bad_copy(job, BadCopy::missing()));
        }
        Err(e) => return Err(fail(job.provider.io_failure("reading", &e))),
    };
    // A sealed copy is read through age: a chunk that does not
    // authenticate reads as invalid data, a corrupt copy.
    let unreadable = |e: CryptoError| match e {
        CryptoError::Io(e) => fail(job.provider.io_failure("reading", &e)),
        e => bad_copy(job, BadCopy::corrupt(e)),
    };
    let mut source: Box<dyn std::io::Read> = match job.provider.keys() {
        Some(keys) => Box::new(
            crate::crypto::open(keys, std::io::BufReader::with_capacity(LOCAL_READ, file))
                .map_err(unreadable)?,
        ),
        None => Box::new(file),
    };
    let mut out = std::fs::File::create(tmp).map_err(|e| folder_failure(tmp, e))?;
    let total = job.op.total_bytes.max(0) as u64;
    let mut hasher = blake3::Hasher::new();
    let lane = job.lane(&job.provider, Direction::Down);
    let mut buf = vec![0; lane.piece(LOCAL_READ)];
    loop {
        if cancelled.load(Ordering::Relaxed) {
            return Err(fail(Failure::transient("download stopped")));
        }
        let n =
            read_full(&mut source, &mut buf).map_err(|e| unreadable(CryptoError::of_read(e)))?;
        if n == 0 {
            break;
        }
        lane.take_blocking(n as u64);
        hasher.update(&buf[..n]);
        std::io::Write::write_all(&mut out, &buf[..n]).map_err(|e| folder_failure(tmp, e))?;
        *got += n as u64;
        progress.update(*got, total);
    }
    if hasher.finalize().to_hex().as_str() != job.op.content_hash {
        return Err(bad_copy(job, BadCopy::mismatch()));
    }
    out.sync_all().map_err(|e| folder_failure(tmp, e))
}

/// The restore folder (that of `tmp`) cannot be written.
fn folder_failure(tmp: &Path, e: std::io::Error) -> (Option<CopyChange>, Failure) {
    fail(Failure::permanent(format!(
        "cannot write into the restore folder {}: {e}",
        tmp.parent().unwrap_or(tmp).display()
    )))
}

/// Places the checked download at every target: a copy of it for all but
/// the last, which takes the download itself.
fn place_all(tmp: &Path, todo: Vec<Place>, hash: &str) -> Result<Vec<TargetDone>, Failure> {
    let mut done = Vec::with_capacity(todo.len());
    let last = todo.len().saturating_sub(1);
    for (i, t) in todo.into_iter().enumerate() {
        let source = if i == last {
            tmp.to_owned()
        } else {
            let copy = tmp.with_extension(format!("{i}.part"));
            std::fs::copy(tmp, &copy).map_err(|e| {
                Failure::permanent(format!("cannot write into the restore folder: {e}"))
            })?;
            copy
        };
        let placed = place(&source, &t.dir, &t.name, hash);
        let _ = std::fs::remove_file(&source);
        let placed = placed.map_err(|e| {
            Failure::permanent(format!("cannot restore {}: {e}", t.wanted.display()))
        })?;
        let note = (placed != t.wanted).then(|| {
            format!(
                "{} holds other bytes: restored beside it as {}",
                t.wanted.display(),
                placed.display()
            )
        });
        done.push(TargetDone {
            id: t.id,
            placed_path: Some(placed.to_string_lossy().into_owned()),
            note,
        });
    }
    Ok(done)
}
