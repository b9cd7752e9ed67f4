//! Each model version's finished predictions (score, run start, outcome), held in memory per
//! database and ordered by score, so a calibration report over a million runs reads no rows
//! it has already read.
//!
//! Every change to a version's finished set (a run finishing, its outcome or start time
//! changing, a finished run leaving it) takes the version's next revision (`risk_model.rev`,
//! incremented under the model row's lock, so revisions commit in order) and stamps the
//! prediction with it, in the run's own transaction. A copy that has seen revision `r` catches
//! up with one indexed read of the rows stamped after `r`; on a busy project that is a
//! handful of rows. Each server replica keeps its own copy and asks the database every time,
//! so replicas never serve each other's stale rows. Deleting predictions must go through a
//! stamped change too (a copy only learns what is stamped), or move the version's `epoch`
//! (the retention purge does): a copy made at another epoch is read again in full.

use super::tx::Tx;
use super::{Db, StoreResult};
use crate::model::ScoredRun;
use crate::vals;
use std::any::Any;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

/// Versions kept at once; the least recently read goes first.
const MAX_ENTRIES: usize = 32;

struct Entry {
    db: Weak<dyn Any + Send + Sync>,
    epoch: i64,
    rev: i64,
    rows: Arc<Vec<ScoredRun>>,
    used: u64,
}

type Key = (usize, i64);

static CACHE: LazyLock<Mutex<(u64, HashMap<Key, Entry>)>> =
    LazyLock::new(|| Mutex::new((0, HashMap::new())));

/// A stamped prediction: run, start, score, outcome (1 failed, 0 passed, none pending), rev.
type Change = (i64, Option<i64>, f64, Option<i64>, i64);

fn order(a: &ScoredRun, b: &ScoredRun) -> std::cmp::Ordering {
    a.score.total_cmp(&b.score).then(a.run_id.cmp(&b.run_id))
}

/// The finished runs `model_id` scored, ordered by score (ties by run id), current as of this
/// call.
pub async fn finished(db: &Db, model_id: i64) -> StoreResult<Arc<Vec<ScoredRun>>> {
    let (id, handle) = db.identity();
    let key = (id, model_id);
    let cached = {
        let mut cache = CACHE.lock().expect("score cache lock");
        let (clock, map) = &mut *cache;
        *clock += 1;
        match map.get_mut(&key) {
            Some(e) if e.db.strong_count() > 0 => {
                e.used = *clock;
                Some((e.epoch, e.rev, e.rows.clone()))
            }
            _ => None,
        }
    };
    let mut tx = Tx::read(db).await?;
    let epoch: i64 = tx
        .opt::<(i64,)>(
            "select cast(epoch as bigint) from risk_model where risk_model_id = $1",
            vals![model_id],
        )
        .await?
        .map_or(0, |r| r.0);
    let (seen, rows) = match cached {
        Some((e, rev, rows)) if e == epoch => (rev, rows),
        _ => (0, Arc::new(Vec::new())),
    };
    let changes: Vec<Change> = tx
        .all(
            "select ci_run_id, run_at, score, cast(outcome as bigint), rev from risk_prediction \
             where risk_model_id = $1 and rev > $2",
            vals![model_id, seen],
        )
        .await?;
    tx.commit().await?;
    if changes.is_empty() {
        if seen == 0 {
            remember(key, handle, epoch, 0, rows.clone());
        }
        return Ok(rows);
    }
    let rev = changes.iter().map(|c| c.4).max().unwrap_or(seen);
    let merged = Arc::new(apply(&rows, changes));
    remember(key, handle, epoch, rev, merged.clone());
    Ok(merged)
}

fn remember(
    key: Key,
    db: Weak<dyn Any + Send + Sync>,
    epoch: i64,
    rev: i64,
    rows: Arc<Vec<ScoredRun>>,
) {
    let mut cache = CACHE.lock().expect("score cache lock");
    let (clock, map) = &mut *cache;
    *clock += 1;
    map.retain(|_, e| e.db.strong_count() > 0);
    if let Some(e) = map.get(&key) {
        if e.epoch == epoch && e.rev > rev {
            return; // a concurrent read caught up further
        }
    }
    map.insert(
        key,
        Entry {
            db,
            epoch,
            rev,
            rows,
            used: *clock,
        },
    );
    while map.len() > MAX_ENTRIES {
        let oldest = map
            .iter()
            .min_by_key(|(_, e)| e.used)
            .map(|(k, _)| *k)
            .expect("a full map has entries");
        map.remove(&oldest);
    }
}

/// `rows` (ordered) with the stamped changes applied: a prediction's score never changes, so
/// its place is found by binary search; new ones are merged in one pass.
fn apply(rows: &[ScoredRun], changes: Vec<Change>) -> Vec<ScoredRun> {
    let mut out = rows.to_vec();
    let mut removed = false;
    let mut added = Vec::new();
    for (run_id, at, score, outcome, _) in changes {
        let row = ScoredRun {
            run_id,
            at: at.unwrap_or(0),
            score,
            failed: outcome == Some(1),
        };
        match (out.binary_search_by(|r| order(r, &row)), outcome) {
            (Ok(i), Some(_)) => out[i] = row,
            (Ok(i), None) => {
                out[i].run_id = -1; // left the finished set; removed below
                removed = true;
            }
            (Err(_), Some(_)) => added.push(row),
            (Err(_), None) => {}
        }
    }
    if removed {
        out.retain(|r| r.run_id != -1);
    }
    if added.is_empty() {
        return out;
    }
    added.sort_unstable_by(order);
    let mut merged = Vec::with_capacity(out.len() + added.len());
    let (mut a, mut b) = (out.into_iter().peekable(), added.into_iter().peekable());
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => order(x, y).is_le(),
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_a { a.next() } else { b.next() };
        merged.extend(next);
    }
    merged
}

/// The finished runs `model_id` scored that started in `[from, to)`, ordered by score.
pub async fn scored_in(db: &Db, model_id: i64, from: i64, to: i64) -> StoreResult<Vec<ScoredRun>> {
    let all = finished(db, model_id).await?;
    Ok(all
        .iter()
        .filter(|r| r.at >= from && r.at < to)
        .copied()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(run_id: i64, score: f64, failed: bool) -> ScoredRun {
        ScoredRun {
            run_id,
            at: run_id * 10,
            score,
            failed,
        }
    }

    #[test]
    fn changes_land_in_score_order() {
        let rows = vec![run(1, 0.1, false), run(2, 0.5, true), run(3, 0.9, false)];
        let out = apply(
            &rows,
            vec![
                (4, Some(40), 0.5, Some(0), 7),  // new, ties 2 on score: after it
                (3, Some(30), 0.9, Some(1), 8),  // outcome changed
                (1, Some(10), 0.1, None, 9),     // pending again: gone
                (5, Some(50), 0.05, Some(1), 9), // new, lowest
                (6, Some(60), 0.7, None, 9),     // pending, never finished: not added
            ],
        );
        let got: Vec<(i64, bool)> = out.iter().map(|r| (r.run_id, r.failed)).collect();
        assert_eq!(got, vec![(5, true), (2, true), (4, false), (3, true)]);
        assert!(out.windows(2).all(|w| order(&w[0], &w[1]).is_lt()));
    }

    #[test]
    fn a_cold_copy_is_built_from_every_change() {
        let changes: Vec<Change> = (0..1000)
            .map(|i| {
                (
                    i,
                    Some(i),
                    ((i * 7919) % 1000) as f64 / 1000.0,
                    Some(i % 2),
                    i + 1,
                )
            })
            .collect();
        let out = apply(&[], changes);
        assert_eq!(out.len(), 1000);
        assert!(out.windows(2).all(|w| order(&w[0], &w[1]).is_lt()));
    }
}
