//! Bandwidth limits as the library keeps them: the library's in
//! `library_settings` (`limit_up_bps`, `limit_down_bps`, `limit_schedule`),
//! each provider's in `provider_state` (migration 10). No row, NULL or 0:
//! no limit.

use rusqlite::params;

use super::health::{get_setting, number_setting, provider_state_row, put_setting};
use super::{Result, Store};
use crate::bandwidth::{Limit, Limits, Rates, Schedule};

const UP: &str = "limit_up_bps";
const DOWN: &str = "limit_down_bps";
const SCHEDULE: &str = "limit_schedule";

/// What to change of one limit; `None` leaves it as it is, a rate of 0 or
/// a timetable of `None` removes it.
#[derive(Clone, Debug, Default)]
pub struct LimitChange {
    pub up: Option<u64>,
    pub down: Option<u64>,
    pub schedule: Option<Option<Schedule>>,
}

/// A limit read back: the timetable parsed, or the reason it cannot be
/// (its rates hold then).
fn limit_of(
    who: &str,
    up: Option<u64>,
    down: Option<u64>,
    schedule: Option<String>,
    problems: &mut Vec<String>,
) -> Limit {
    let schedule = schedule.and_then(|text| match Schedule::parse(&text) {
        Ok(s) => Some(s),
        Err(e) => {
            problems.push(format!(
                "{who}'s kept timetable cannot be read ({e}); set it again with \
                 breakdex limits set --schedule"
            ));
            None
        }
    });
    Limit {
        rates: Rates {
            up: up.unwrap_or(0),
            down: down.unwrap_or(0),
        },
        schedule,
    }
}

impl Store {
    /// Every bandwidth limit of the library.
    pub fn limits(&self) -> Result<Limits> {
        let mut problems = Vec::new();
        let library = limit_of(
            "the library",
            number_setting(self, UP)?,
            number_setting(self, DOWN)?,
            get_setting(self, SCHEDULE)?,
            &mut problems,
        );
        let mut stmt = self.conn.prepare_cached(
            "SELECT s.provider_id, p.name, s.limit_up_bps, s.limit_down_bps, s.limit_schedule
             FROM provider_state s JOIN sync_providers p ON p.id = s.provider_id
             WHERE s.limit_up_bps IS NOT NULL OR s.limit_down_bps IS NOT NULL
                OR s.limit_schedule IS NOT NULL",
        )?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Option<i64>>(2)?,
                    r.get::<_, Option<i64>>(3)?,
                    r.get::<_, Option<String>>(4)?,
                ))
            })?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut providers = std::collections::HashMap::new();
        for (id, name, up, down, schedule) in rows {
            let limit = limit_of(
                &format!("provider '{name}'"),
                up.map(|v| v as u64),
                down.map(|v| v as u64),
                schedule,
                &mut problems,
            );
            providers.insert(id, limit);
        }
        Ok(Limits {
            library,
            providers,
            problems,
        })
    }

    /// Changes the library's limit (`provider_id` `None`) or a provider's.
    pub fn set_limit(&mut self, provider_id: Option<&str>, change: &LimitChange) -> Result<()> {
        let tx = self.write_tx()?;
        let schedule_text = change
            .schedule
            .as_ref()
            .map(|s| s.as_ref().map(|s| s.text().to_string()));
        match provider_id {
            None => {
                let put = |key: &str, value: Option<String>| -> Result<()> {
                    match value {
                        Some(v) => put_setting(&tx, key, v),
                        None => {
                            tx.execute("DELETE FROM library_settings WHERE key = ?1", [key])?;
                            Ok(())
                        }
                    }
                };
                let rate = |r: u64| (r > 0).then(|| r.to_string());
                if let Some(up) = change.up {
                    put(UP, rate(up))?;
                }
                if let Some(down) = change.down {
                    put(DOWN, rate(down))?;
                }
                if let Some(text) = schedule_text {
                    put(SCHEDULE, text)?;
                }
            }
            Some(id) => {
                provider_state_row(&tx, id)?;
                // (?2 / ?4: whether to change it; 0 and NULL remove it.)
                tx.execute(
                    "UPDATE provider_state SET
                         limit_up_bps = CASE WHEN ?2 THEN NULLIF(?3, 0) ELSE limit_up_bps END,
                         limit_down_bps = CASE WHEN ?4 THEN NULLIF(?5, 0) ELSE limit_down_bps END,
                         limit_schedule = CASE WHEN ?6 THEN ?7 ELSE limit_schedule END
                     WHERE provider_id = ?1",
                    params![
                        id,
                        change.up.is_some(),
                        change.up.unwrap_or(0) as i64,
                        change.down.is_some(),
                        change.down.unwrap_or(0) as i64,
                        schedule_text.is_some(),
                        schedule_text.flatten(),
                    ],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::ProviderKind;

    #[test]
    fn limits_are_kept_changed_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("l.db")).unwrap();
        let nas = store
            .add_provider(
                "nas",
                ProviderKind::Local,
                &serde_json::json!({ "root": dir.path() }),
                2,
            )
            .unwrap()
            .id;
        let none = store.limits().unwrap();
        assert_eq!(none.library, Limit::default());
        assert!(none.providers.is_empty());

        let week = Schedule::parse("Mon-08:00,512K Mon-19:00,off").unwrap();
        store
            .set_limit(
                None,
                &LimitChange {
                    up: Some(5 << 20),
                    schedule: Some(Some(week.clone())),
                    ..LimitChange::default()
                },
            )
            .unwrap();
        store
            .set_limit(
                Some(&nas),
                &LimitChange {
                    down: Some(1 << 20),
                    ..LimitChange::default()
                },
            )
            .unwrap();
        let l = store.limits().unwrap();
        assert_eq!(
            l.library.rates,
            Rates {
                up: 5 << 20,
                down: 0
            }
        );
        assert_eq!(l.library.schedule, Some(week));
        assert_eq!(
            l.providers[&nas].rates,
            Rates {
                up: 0,
                down: 1 << 20
            }
        );

        // One thing changed leaves the others; 0 and "off" remove.
        store
            .set_limit(
                None,
                &LimitChange {
                    up: Some(0),
                    ..LimitChange::default()
                },
            )
            .unwrap();
        store
            .set_limit(
                Some(&nas),
                &LimitChange {
                    down: Some(0),
                    ..LimitChange::default()
                },
            )
            .unwrap();
        let l = store.limits().unwrap();
        assert_eq!(l.library.rates, Rates::default());
        assert!(l.library.schedule.is_some());
        assert!(l.providers.is_empty(), "{:?}", l.providers);
    }

    #[test]
    fn a_kept_timetable_that_does_not_parse_is_said_and_its_rates_hold() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("l.db")).unwrap();
        store
            .conn
            .execute_batch(
                "INSERT INTO library_settings VALUES ('limit_schedule', 'Mon-99:00,1M');
                 INSERT INTO library_settings VALUES ('limit_up_bps', '2048');",
            )
            .unwrap();
        let l = store.limits().unwrap();
        assert_eq!(l.library.schedule, None);
        assert_eq!(l.library.rates.up, 2048);
        assert!(l.problems[0].contains("HH:MM"), "{:?}", l.problems);
    }
}
