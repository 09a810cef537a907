//! The store against the seed design card: schema, enums, foreign key, and
//! every state and transition of the States table.

use std::time::Duration;

use breakdex::store::{
    CopyChange, Finish, ManifestEntry, NewOp, OpEvent, OpQuery, OpState, OpStatus, OpType,
    ProviderKind, Retry, SortKey, Store, StoreError, VerifyStatus,
};
use rusqlite::Connection;

use crate::common::TempLib;

const LEASE: Duration = Duration::from_secs(60);

/// The seed card's columns: name, declared type, NOT NULL, default.
const SEED_COLUMNS: &[(&str, &str, bool, Option<&str>)] = &[
    ("id", "TEXT", true, None),
    ("content_hash", "TEXT", true, None),
    ("provider_id", "TEXT", true, None),
    ("operation_type", "TEXT", true, None),
    ("status", "TEXT", true, Some("'queued'")),
    ("priority", "INT", true, Some("0")),
    ("retry_count", "INT", true, Some("0")),
    ("max_retries", "INT", true, Some("3")),
    ("error_message", "TEXT", false, None),
    ("bytes_transferred", "INT", true, Some("0")),
    ("total_bytes", "INT", true, Some("0")),
    ("created_at", "DATETIME", true, Some("now")),
    ("started_at", "DATETIME", false, None),
    ("completed_at", "DATETIME", false, None),
];
const SEED_OPERATION_TYPES: &[&str] = &["upload", "download", "verify", "delete_remote"];
const SEED_STATUSES: &[&str] = &["queued", "in_progress", "completed", "failed"];

struct Fixture {
    _lib: TempLib,
    store: Store,
    provider: String,
}

fn fixture() -> Fixture {
    let lib = TempLib::new();
    let mut store = Store::open(&lib.db()).unwrap();
    let provider = store
        .add_provider(
            "p1",
            ProviderKind::Local,
            &serde_json::json!({"root": lib.path("remote")}),
            4,
        )
        .unwrap()
        .id;
    Fixture {
        _lib: lib,
        store,
        provider,
    }
}

fn hash(n: u32) -> String {
    blake3::hash(&n.to_le_bytes()).to_hex().to_string()
}

fn new_op(provider: &str, n: u32, priority: i64) -> NewOp {
    NewOp {
        content_hash: hash(n),
        provider_id: provider.to_string(),
        operation_type: OpType::Upload,
        priority,
        total_bytes: 100,
    }
}

fn raw(f: &Fixture) -> Connection {
    let c = Connection::open(f.store.path()).unwrap();
    c.pragma_update(None, "foreign_keys", true).unwrap();
    c
}

fn finished(id: &str, failure: Option<(&str, Retry)>) -> OpEvent {
    OpEvent::Finished {
        id: id.to_string(),
        bytes: 100,
        change: None,
        failure: failure.map(|(m, r)| (Some(m.to_string()), r)),
        started: None,
        ended: std::time::SystemTime::now(),
    }
}

/// The state of an op, after checking that every op's `finished_at` is
/// set exactly when it is over (completed or permanently failed): the
/// live-op index, which keeps work from being queued twice, depends on it.
fn state_of(f: &Fixture, id: &str) -> OpState {
    let misfits: i64 = raw(f)
        .query_row(
            "SELECT COUNT(*) FROM sync_operations
             WHERE (finished_at IS NULL) <> (status IN ('queued', 'in_progress')
                   OR (status = 'failed' AND retry_count < max_retries))",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(
        misfits, 0,
        "ops whose finished_at does not match their state"
    );
    f.store.op(id).unwrap().unwrap().state
}

#[test]
fn sync_operations_has_exactly_the_seed_columns() {
    let f = fixture();
    let c = raw(&f);
    let mut stmt = c.prepare("PRAGMA table_info(sync_operations)").unwrap();
    let cols: Vec<(String, String, bool, Option<String>, bool)> = stmt
        .query_map([], |r| {
            Ok((
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get::<_, i64>(5)? > 0,
            ))
        })
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    for (i, (name, ty, not_null, default)) in SEED_COLUMNS.iter().enumerate() {
        let (cname, cty, cnn, cdef, pk) = &cols[i];
        assert_eq!(cname, name, "column {i}");
        assert_eq!(cty, ty, "type of {name}");
        assert_eq!(cnn, not_null, "NOT NULL of {name}");
        match default {
            Some("now") => assert!(cdef.as_deref().unwrap_or("").contains("now"), "{name}"),
            Some(d) => assert_eq!(cdef.as_deref(), Some(*d), "default of {name}"),
            None => assert_eq!(cdef, &None, "default of {name}"),
        }
        assert_eq!(*pk, *name == "id", "primary key is id only");
    }
    // Extra columns are the engine's, documented in the schema.
    let extra: Vec<&str> = cols[SEED_COLUMNS.len()..]
        .iter()
        .map(|c| c.0.as_str())
        .collect();
    assert_eq!(
        extra,
        [
            "next_attempt_at",
            "lease_owner",
            "lease_expires_at",
            "finished_at",
            "cancelled_at",
            "failed_attempts",
            "reason",
            "paused_at"
        ]
    );

    let index_cols: Vec<String> = c
        .prepare("PRAGMA index_info(idx_sync_operations_status)")
        .unwrap()
        .query_map([], |r| r.get(2))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(index_cols, ["status", "priority"]);

    let fks: Vec<(String, String, String)> = c
        .prepare("PRAGMA foreign_key_list(sync_operations)")
        .unwrap()
        .query_map([], |r| Ok((r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(|r| r.unwrap())
        .collect();
    assert_eq!(
        fks,
        [("sync_providers".into(), "provider_id".into(), "id".into())]
    );
}

/// Inserts a row with the given enum values straight through SQL.
fn insert_raw(
    c: &Connection,
    provider: &str,
    op_type: &str,
    status: &str,
) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO sync_operations (id, content_hash, provider_id, operation_type, status)
         VALUES (lower(hex(randomblob(16))), lower(hex(randomblob(32))), ?1, ?2, ?3)",
        [provider, op_type, status],
    )
}

#[test]
fn operation_type_enum_is_exactly_the_seeds() {
    let f = fixture();
    let c = raw(&f);
    for t in SEED_OPERATION_TYPES {
        insert_raw(&c, &f.provider, t, "queued").unwrap_or_else(|e| panic!("{t} refused: {e}"));
    }
    for bad in ["copy", "delete", "Upload", "sync", ""] {
        assert!(
            insert_raw(&c, &f.provider, bad, "queued").is_err(),
            "{bad} accepted"
        );
    }
    let rust: Vec<&str> = OpType::ALL.iter().map(|t| t.as_str()).collect();
    assert_eq!(rust, SEED_OPERATION_TYPES);
}

#[test]
fn status_enum_is_exactly_the_seeds() {
    let f = fixture();
    let c = raw(&f);
    for s in SEED_STATUSES {
        insert_raw(&c, &f.provider, "verify", s).unwrap_or_else(|e| panic!("{s} refused: {e}"));
    }
    for bad in ["cancelled", "pending", "done", "QUEUED", "retrying"] {
        assert!(
            insert_raw(&c, &f.provider, "verify", bad).is_err(),
            "{bad} accepted"
        );
    }
    let rust: Vec<&str> = OpStatus::ALL.iter().map(|s| s.as_str()).collect();
    assert_eq!(rust, SEED_STATUSES);
}

#[test]
fn provider_id_must_reference_a_provider() {
    let mut f = fixture();
    let c = raw(&f);
    assert!(insert_raw(&c, "no-such-provider", "upload", "queued").is_err());
    let err = f
        .store
        .enqueue(&[new_op("no-such-provider", 1, 0)])
        .unwrap_err();
    assert!(err.to_string().contains("no provider"), "{err}");
    // A provider with ops cannot vanish from under them.
    f.store.enqueue(&[new_op(&f.provider, 1, 0)]).unwrap();
    assert!(
        c.execute("DELETE FROM sync_providers WHERE id = ?1", [&f.provider])
            .is_err()
    );
}

#[test]
fn defaults_are_the_seeds() {
    let f = fixture();
    let c = raw(&f);
    c.execute(
        "INSERT INTO sync_operations (id, content_hash, provider_id, operation_type) VALUES ('x', 'h', ?1, 'verify')",
        [&f.provider],
    )
    .unwrap();
    let row: (String, i64, i64, i64, i64, i64, String) = c
        .query_row(
            "SELECT status, priority, retry_count, max_retries, bytes_transferred, total_bytes, created_at FROM sync_operations WHERE id = 'x'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?, r.get(6)?)),
        )
        .unwrap();
    assert_eq!(
        (row.0.as_str(), row.1, row.2, row.3, row.4, row.5),
        ("queued", 0, 0, 3, 0, 0)
    );
    assert!(row.6.starts_with("20"), "created_at {}", row.6);
}

#[test]
fn queued_in_progress_completed() {
    let mut f = fixture();
    let ids = f.store.enqueue(&[new_op(&f.provider, 1, 0)]).unwrap();
    assert_eq!(state_of(&f, &ids[0]), OpState::Queued);
    let claimed = f
        .store
        .claim("me", LEASE, &[(f.provider.clone(), 5)])
        .unwrap();
    assert_eq!(claimed.len(), 1);
    let row = f.store.op(&ids[0]).unwrap().unwrap();
    assert_eq!(state_of(&f, &ids[0]), OpState::InProgress);
    assert!(row.started_at.is_some());
    // Progress is visible while it runs.
    f.store
        .apply(
            "me",
            &[OpEvent::Progress {
                id: ids[0].clone(),
                bytes: 40,
                total: 100,
            }],
        )
        .unwrap();
    let row = f.store.op(&ids[0]).unwrap().unwrap();
    assert_eq!((row.bytes_transferred, row.total_bytes), (40, 100));
    let applied = f.store.apply("me", &[finished(&ids[0], None)]).unwrap();
    assert_eq!(applied, [(ids[0].clone(), Finish::Completed)]);
    let row = f.store.op(&ids[0]).unwrap().unwrap();
    assert_eq!(state_of(&f, &ids[0]), OpState::Completed);
    assert!(row.completed_at.is_some());
    assert_eq!(row.bytes_transferred, 100);
    // Nothing left to claim.
    assert!(
        f.store
            .claim("me", LEASE, &[(f.provider.clone(), 5)])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn transient_failures_retry_until_max_retries_then_fail_permanently() {
    let mut f = fixture();
    let id = f
        .store
        .enqueue(&[new_op(&f.provider, 1, 0)])
        .unwrap()
        .remove(0);
    for attempt in 1..=3 {
        let claimed = f
            .store
            .claim("me", LEASE, &[(f.provider.clone(), 1)])
            .unwrap();
        assert_eq!(claimed.len(), 1, "attempt {attempt}");
        assert_eq!(claimed[0].retry_count, attempt - 1);
        let applied = f
            .store
            .apply(
                "me",
                &[finished(
                    &id,
                    Some(("timed out", Retry::Backoff(Duration::ZERO))),
                )],
            )
            .unwrap();
        let row = f.store.op(&id).unwrap().unwrap();
        assert_eq!(row.retry_count, attempt);
        assert_eq!(row.error_message.as_deref(), Some("timed out"));
        if attempt < 3 {
            assert_eq!(applied[0].1, Finish::WillRetry);
            assert_eq!(state_of(&f, &id), OpState::RetryPending);
            assert!(row.next_attempt_at.is_some());
            assert_eq!(f.store.requeue_due_retries().unwrap(), 1);
            assert_eq!(state_of(&f, &id), OpState::Queued);
        } else {
            assert_eq!(applied[0].1, Finish::Failed);
            assert_eq!(state_of(&f, &id), OpState::PermanentlyFailed);
            assert_eq!(f.store.requeue_due_retries().unwrap(), 0);
        }
    }
    assert!(
        f.store
            .claim("me", LEASE, &[(f.provider.clone(), 1)])
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_retry_waits_for_its_backoff() {
    let mut f = fixture();
    let id = f
        .store
        .enqueue(&[new_op(&f.provider, 1, 0)])
        .unwrap()
        .remove(0);
    f.store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    f.store
        .apply(
            "me",
            &[finished(
                &id,
                Some(("503", Retry::Backoff(Duration::from_secs(3600)))),
            )],
        )
        .unwrap();
    assert_eq!(f.store.requeue_due_retries().unwrap(), 0);
    assert_eq!(state_of(&f, &id), OpState::RetryPending);
    let wake = f.store.next_wakeup(&[], &[]).unwrap().unwrap();
    assert!(
        wake > Duration::from_secs(3500) && wake <= Duration::from_secs(3601),
        "{wake:?}"
    );
}

#[test]
fn permanent_errors_fail_at_once_and_manual_retry_restores_them() {
    let mut f = fixture();
    let id = f
        .store
        .enqueue(&[new_op(&f.provider, 1, 0)])
        .unwrap()
        .remove(0);
    f.store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    f.store
        .apply(
            "me",
            &[finished(&id, Some(("source changed", Retry::Never)))],
        )
        .unwrap();
    let row = f.store.op(&id).unwrap().unwrap();
    assert_eq!(state_of(&f, &id), OpState::PermanentlyFailed);
    assert_eq!(row.retry_count, row.max_retries);
    assert_eq!(row.error_message.as_deref(), Some("source changed"));
    assert_eq!(f.store.counts(None).unwrap().permanently_failed, 1);

    assert_eq!(f.store.retry_now(std::slice::from_ref(&id)).unwrap(), 1);
    let row = f.store.op(&id).unwrap().unwrap();
    assert_eq!((state_of(&f, &id), row.retry_count), (OpState::Queued, 0));
    assert_eq!(
        f.store
            .claim("me", LEASE, &[(f.provider.clone(), 1)])
            .unwrap()
            .len(),
        1
    );
}

#[test]
fn released_ops_go_back_to_the_queue_without_spending_a_retry() {
    let mut f = fixture();
    let id = f
        .store
        .enqueue(&[new_op(&f.provider, 1, 0)])
        .unwrap()
        .remove(0);
    f.store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    let applied = f
        .store
        .apply(
            "me",
            &[finished(
                &id,
                Some(("provider offline", Retry::Release(Duration::from_secs(60)))),
            )],
        )
        .unwrap();
    assert!(applied.is_empty());
    let row = f.store.op(&id).unwrap().unwrap();
    assert_eq!((state_of(&f, &id), row.retry_count), (OpState::Queued, 0));
    // Not runnable before its wait is over.
    assert!(
        f.store
            .claim("me", LEASE, &[(f.provider.clone(), 1)])
            .unwrap()
            .is_empty()
    );
    // A new engine ends offline waits (it checks the provider itself), but
    // not backoffs after failures.
    let other = f
        .store
        .enqueue(&[new_op(&f.provider, 2, 0)])
        .unwrap()
        .remove(0);
    f.store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    f.store
        .apply(
            "me",
            &[finished(
                &other,
                Some(("timed out", Retry::Backoff(Duration::from_secs(60)))),
            )],
        )
        .unwrap();
    assert_eq!(f.store.end_offline_waits().unwrap(), 1);
    let claimed = f
        .store
        .claim("me", LEASE, &[(f.provider.clone(), 5)])
        .unwrap();
    assert_eq!(
        claimed.iter().map(|c| c.id.as_str()).collect::<Vec<_>>(),
        [id.as_str()]
    );
    assert_eq!(
        f.store.op(&other).unwrap().unwrap().state,
        OpState::RetryPending
    );
}

#[test]
fn retry_all_failed_and_cancel() {
    let mut f = fixture();
    let ids = f
        .store
        .enqueue(&[
            new_op(&f.provider, 1, 0),
            new_op(&f.provider, 2, 0),
            new_op(&f.provider, 3, 0),
        ])
        .unwrap();
    f.store
        .claim("me", LEASE, &[(f.provider.clone(), 2)])
        .unwrap();
    f.store
        .apply("me", &[finished(&ids[0], Some(("denied", Retry::Never)))])
        .unwrap();
    // Cancel the running one and the queued one.
    assert_eq!(
        f.store.cancel(&[ids[1].clone(), ids[2].clone()]).unwrap(),
        2
    );
    for id in &ids[1..] {
        let row = f.store.op(id).unwrap().unwrap();
        // The seed's enum: failed with no retries left; shown as cancelled.
        assert_eq!(
            (row.status, row.retry_count),
            (OpStatus::Failed, row.max_retries)
        );
        assert_eq!(state_of(&f, id), OpState::Cancelled);
        assert_eq!(row.error_message.as_deref(), Some("cancelled by the user"));
    }
    let counts = f.store.counts(None).unwrap();
    assert_eq!((counts.permanently_failed, counts.cancelled), (1, 2));
    // The engine that ran ids[1] lost it: its late report is dropped.
    assert_eq!(
        f.store.lost_ops("me", &[&ids[1]]).unwrap(),
        [ids[1].clone()]
    );
    assert!(
        f.store
            .apply("me", &[finished(&ids[1], None)])
            .unwrap()
            .is_empty()
    );
    assert_eq!(state_of(&f, &ids[1]), OpState::Cancelled);

    // "Retry all failed" leaves what a person cancelled; "retry now" on a
    // cancelled op runs it again.
    assert_eq!(f.store.retry_all_failed().unwrap(), 1);
    assert_eq!(f.store.counts(None).unwrap().queued, 1);
    assert_eq!(state_of(&f, &ids[0]), OpState::Queued);
    assert_eq!(state_of(&f, &ids[2]), OpState::Cancelled);
    assert_eq!(f.store.retry_now(std::slice::from_ref(&ids[2])).unwrap(), 1);
    assert_eq!(state_of(&f, &ids[2]), OpState::Queued);
    assert_eq!(f.store.counts(None).unwrap().cancelled, 1);
}

#[test]
fn claims_take_highest_priority_first_then_oldest() {
    let mut f = fixture();
    let ops: Vec<NewOp> = [(1, 0), (2, 5), (3, 0), (4, 5), (5, -1)]
        .iter()
        .map(|&(n, p)| new_op(&f.provider, n, p))
        .collect();
    let ids = f.store.enqueue(&ops).unwrap();
    let mut order = Vec::new();
    while let Some(op) = f
        .store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap()
        .pop()
    {
        order.push(op.id);
    }
    assert_eq!(
        order,
        [&ids[1], &ids[3], &ids[0], &ids[2], &ids[4]].map(|s| s.clone())
    );
}

#[test]
fn queue_order_survives_priority_changes() {
    let mut f = fixture();
    let ids = f
        .store
        .enqueue(&[new_op(&f.provider, 1, 0), new_op(&f.provider, 2, 0)])
        .unwrap();
    f.store.set_priority(&[ids[1].clone()], 10).unwrap();
    let first = f
        .store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    assert_eq!(first[0].id, ids[1]);
}

#[test]
fn the_same_live_work_is_queued_once() {
    let mut f = fixture();
    f.store
        .record_assets(
            &[ManifestEntry {
                content_hash: hash(7),
                size_bytes: 100,
                original_name: "seven.bin".into(),
                local_path: None,
                media_type: "application/octet-stream".into(),
                added_at: String::new(),
            }],
            &[],
        )
        .unwrap();
    let op = new_op(&f.provider, 7, 0);
    assert_eq!(f.store.enqueue(&[op.clone(), op.clone()]).unwrap().len(), 1);
    assert_eq!(f.store.enqueue(std::slice::from_ref(&op)).unwrap().len(), 0);
    // Still one while it runs.
    let claimed = f
        .store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    assert_eq!(f.store.enqueue(std::slice::from_ref(&op)).unwrap().len(), 0);
    // A verify of the same content is other work.
    let verify = NewOp {
        operation_type: OpType::Verify,
        ..op.clone()
    };
    assert_eq!(f.store.enqueue(&[verify]).unwrap().len(), 1);
    // Once the upload is done and the copy recorded, uploading again is not queued...
    let done = OpEvent::Finished {
        id: claimed[0].id.clone(),
        bytes: 100,
        change: Some(CopyChange::Stored {
            remote_key: "objects/x".into(),
        }),
        failure: None,
        started: None,
        ended: std::time::SystemTime::now(),
    };
    f.store.apply("me", &[done]).unwrap();
    assert_eq!(f.store.enqueue(std::slice::from_ref(&op)).unwrap().len(), 0);
    // ...unless a verify found the copy corrupt.
    let vid = f
        .store
        .claim("me", LEASE, &[(f.provider.clone(), 1)])
        .unwrap()
        .remove(0)
        .id;
    let bad = OpEvent::Finished {
        id: vid,
        bytes: 100,
        change: Some(CopyChange::Checked {
            remote_key: "objects/x".into(),
            status: VerifyStatus::Corrupt,
        }),
        failure: Some((Some("corrupt".into()), Retry::Never)),
        started: None,
        ended: std::time::SystemTime::now(),
    };
    f.store.apply("me", &[bad]).unwrap();
    assert_eq!(
        f.store.copies_of(&hash(7)).unwrap()[0].verify_status,
        "corrupt"
    );
    assert_eq!(f.store.enqueue(&[op]).unwrap().len(), 1);
}

#[test]
fn another_owner_cannot_touch_a_claimed_op_and_dead_owners_are_rescued() {
    let mut f = fixture();
    let id = f
        .store
        .enqueue(&[new_op(&f.provider, 1, 0)])
        .unwrap()
        .remove(0);
    f.store
        .claim("a", LEASE, &[(f.provider.clone(), 1)])
        .unwrap();
    assert!(
        f.store
            .claim("b", LEASE, &[(f.provider.clone(), 1)])
            .unwrap()
            .is_empty()
    );
    assert!(
        f.store
            .apply("b", &[finished(&id, None)])
            .unwrap()
            .is_empty()
    );
    assert_eq!(state_of(&f, &id), OpState::InProgress);
    // "a" is alive: nothing to rescue.
    assert_eq!(f.store.rescue("b", |_| false).unwrap(), 0);
    // "a" died.
    assert_eq!(f.store.rescue("b", |o| o == "a").unwrap(), 1);
    assert_eq!(state_of(&f, &id), OpState::Queued);
    assert_eq!(
        f.store
            .claim("b", LEASE, &[(f.provider.clone(), 1)])
            .unwrap()
            .len(),
        1
    );
    // An expired lease is rescued even if its owner looks alive.
    f.store.renew_leases("b", Duration::ZERO).unwrap();
    std::thread::sleep(Duration::from_millis(5));
    assert_eq!(f.store.rescue("c", |_| false).unwrap(), 1);
}

#[test]
fn list_filters_sorts_and_pages() {
    let mut f = fixture();
    let ops: Vec<NewOp> = (1..=10)
        .map(|n| new_op(&f.provider, n, (n % 3) as i64))
        .collect();
    f.store.enqueue(&ops).unwrap();
    f.store
        .claim("me", LEASE, &[(f.provider.clone(), 2)])
        .unwrap();

    let all = f.store.list_ops(&OpQuery::default()).unwrap();
    assert_eq!(all.len(), 10);
    let priorities: Vec<i64> = all.iter().map(|r| r.priority).collect();
    assert!(
        priorities.windows(2).all(|w| w[0] >= w[1]),
        "{priorities:?}"
    );

    let q = |sort, descending| OpQuery {
        sort,
        descending,
        ..OpQuery::default()
    };
    let by_hash = f.store.list_ops(&q(SortKey::ContentHash, false)).unwrap();
    assert!(
        by_hash
            .windows(2)
            .all(|w| w[0].content_hash < w[1].content_hash)
    );
    let by_hash_desc = f.store.list_ops(&q(SortKey::ContentHash, true)).unwrap();
    assert!(
        by_hash_desc
            .windows(2)
            .all(|w| w[0].content_hash > w[1].content_hash)
    );
    // Every sort key works both ways and lists everything.
    for key in SortKey::ALL {
        for desc in [false, true] {
            assert_eq!(
                f.store.list_ops(&q(key, desc)).unwrap().len(),
                10,
                "{key:?}"
            );
        }
    }
    let running = f
        .store
        .list_ops(&OpQuery {
            state: Some(OpState::InProgress),
            ..OpQuery::default()
        })
        .unwrap();
    assert_eq!(running.len(), 2);
    let page = f
        .store
        .list_ops(&OpQuery {
            limit: Some(3),
            offset: 3,
            ..OpQuery::default()
        })
        .unwrap();
    assert_eq!(
        page.iter().map(|r| &r.id).collect::<Vec<_>>(),
        all[3..6].iter().map(|r| &r.id).collect::<Vec<_>>()
    );
    let found = f
        .store
        .list_ops(&OpQuery {
            text: Some(hash(4)[..10].to_string()),
            ..OpQuery::default()
        })
        .unwrap();
    assert_eq!(found.len(), 1);
    let counts = f.store.counts(None).unwrap();
    assert_eq!(
        (counts.queued, counts.in_progress, counts.total),
        (8, 2, 10)
    );
}

#[test]
fn a_file_that_is_not_sqlite_is_refused_and_left_untouched() {
    let lib = TempLib::new();
    let db = lib.path("notes.db");
    let content = b"these are my notes, not a database\n".repeat(200);
    std::fs::write(&db, &content).unwrap();
    let err = Store::open(&db).err().expect("refused");
    assert!(matches!(err, StoreError::NotALibrary { .. }), "{err}");
    assert!(err.to_string().contains("not a SQLite database"), "{err}");
    assert_eq!(std::fs::read(&db).unwrap(), content);
}

#[test]
fn reopening_keeps_everything_and_integrity_holds() {
    let mut f = fixture();
    f.store.enqueue(&[new_op(&f.provider, 1, 0)]).unwrap();
    let path = f.store.path().to_owned();
    let again = Store::open(&path).unwrap();
    assert!(!again.is_new());
    assert_eq!(again.counts(None).unwrap().queued, 1);
    assert_eq!(again.integrity_check().unwrap(), "ok");
}
