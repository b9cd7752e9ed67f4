//! The failure-risk predictor in the store, on SQLite and Postgres: features from the history
//! before each run, scores from every live model, alerts after the calibration period, the
//! life of model versions, and the rows reports are computed from.

use crate::helpers::{backends, connect};
use crate::runs_store::new_run;
use app::model::AuditFilter;
use app::model::{ModelState, NewRun, RunStatus, Slug};
use app::store::audit::{self, Actor};
use app::store::projects::{self, NewProject};
use app::store::{predictor, runs, Db, StoreError};

const HOUR: i64 = 3_600_000;
const MIN: i64 = 60_000;

fn reviewer() -> Actor {
    Actor {
        user_id: None,
        username: Some("rita.reviewer".into()),
        ip: None,
    }
}

/// A finished run on `main` by `author`, `minutes` long.
fn finished(n: i64, t0: i64, failed: bool, author: &str, minutes: i64) -> NewRun {
    let mut run = new_run(&format!("r{n}"));
    run.status = if failed {
        RunStatus::Failure
    } else {
        RunStatus::Success
    };
    run.author = Some(author.into());
    run.started_at = Some(t0 + n * HOUR);
    run.finished_at = Some(t0 + n * HOUR + minutes * MIN);
    run.jobs.clear();
    run
}

async fn shop(db: &Db) -> i64 {
    projects::create(
        db,
        &NewProject::named(Slug::parse("shop").unwrap()),
        &Actor::system(),
    )
    .await
    .unwrap()
    .id
}

#[tokio::test]
async fn features_scores_and_alerts_follow_the_history_before_each_run() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project = shop(&db).await;
        let t0 = app::store::now_ms() - 30 * 24 * HOUR;
        let mut ids = Vec::new();
        for n in 0..20 {
            let (run, created) =
                runs::create_or_get(&db, project, &finished(n, t0, n % 3 == 0, "ana", 12))
                    .await
                    .unwrap();
            assert!(created);
            ids.push(run.id);
        }
        // Run 5 saw runs 0–4: failures at 0 and 3.
        let rows = predictor::predictions(&db, project, None, 0, i64::MAX, 1000)
            .await
            .unwrap();
        assert_eq!(
            rows.len(),
            20,
            "{label}: one score per run from the seeds' model"
        );
        let five = &rows[5];
        assert_eq!(five.run_id, ids[5]);
        assert_eq!(five.model_version, 1);
        let f = &five.features;
        assert_eq!(f["pass_rate"], 0.6, "{label}");
        assert_eq!(f["branch_pass_rate"], 0.6);
        assert_eq!(f["avg_duration"], 12.0);
        assert_eq!(f["failure_streak"], 0.0);
        assert_eq!(f["author_failures"], 2.0);
        assert_eq!(f["default_branch"], 1.0);
        assert_eq!(f["hours_since_green"], 1.0 - 12.0 / 60.0);
        assert!(
            !f.contains_key("change_lines"),
            "{label}: not sent, not invented"
        );
        // The first run had no history: no rule fires.
        assert_eq!(rows[0].score, 0.0);
        assert_eq!(rows[0].outcome, "failed");
        // pass rate < 0.85 (+0.3) and average duration > 10 min (+0.2).
        assert_eq!(five.score, 0.5);

        // The seeds' model alerts only after its 14-run calibration period.
        let alerts = predictor::alerts(&db, project, 100).await.unwrap();
        assert_eq!(alerts.len(), 6, "{label}: runs 14–19 alert: {alerts:?}");
        assert!(alerts.iter().all(|a| a.run_id.unwrap() >= ids[14]));
        assert_eq!(alerts[0].model_version, Some(1));

        // A retried report of a run changes nothing.
        let (_, created) = runs::create_or_get(&db, project, &finished(19, t0, false, "ana", 12))
            .await
            .unwrap();
        assert!(!created);
        assert_eq!(
            predictor::predictions(&db, project, None, 0, i64::MAX, 1000)
                .await
                .unwrap()
                .len(),
            20
        );
        assert_eq!(predictor::alerts(&db, project, 100).await.unwrap().len(), 6);

        // Acknowledging records who and when, once.
        let first = predictor::acknowledge(&db, alerts[0].id, &reviewer())
            .await
            .unwrap();
        assert_eq!(first.acknowledged_by.as_deref(), Some("rita.reviewer"));
        let again = predictor::acknowledge(&db, alerts[0].id, &Actor::system())
            .await
            .unwrap();
        assert_eq!(again.acknowledged_at, first.acknowledged_at);
        assert_eq!(again.acknowledged_by.as_deref(), Some("rita.reviewer"));
        assert!(matches!(
            predictor::acknowledge(&db, 999_999, &reviewer()).await,
            Err(StoreError::NotFound(_))
        ));
        // Unacknowledged alerts come first.
        let listed = predictor::alerts(&db, project, 100).await.unwrap();
        assert!(listed[0].acknowledged_at.is_none());
        assert!(listed.last().unwrap().acknowledged_at.is_some());
        assert!(predictor::alert_for_run(&db, ids[19])
            .await
            .unwrap()
            .is_some());
        assert!(predictor::alert_for_run(&db, ids[3])
            .await
            .unwrap()
            .is_none());

        // The report rows: finished runs only, with outcomes.
        let scored = predictor::scored_runs(&db, rows[0].model_id, 0, i64::MAX)
            .await
            .unwrap();
        assert_eq!(scored.len(), 20);
        assert_eq!(scored.iter().filter(|r| r.failed).count(), 7);
    }
}

#[tokio::test]
async fn versions_run_in_shadow_are_promoted_and_brought_back() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let project = shop(&db).await;
        let t0 = app::store::now_ms() - 60 * 24 * HOUR;
        runs::create_or_get(&db, project, &finished(0, t0, false, "ana", 5))
            .await
            .unwrap();

        let bad =
            predictor::create_rules_version(&db, project, "streak > 1 +0.5", 0.5, "", &reviewer())
                .await;
        match bad {
            Err(StoreError::Invalid(m)) => assert!(m.starts_with("rules line 1:"), "{m}"),
            other => panic!("{label}: {other:?}"),
        }
        let v2 = predictor::create_rules_version(
            &db,
            project,
            "failure_streak >= 1 +0.9\nbranch_pass_rate < 0.5 +0.1",
            0.5,
            "streaks predict failures",
            &reviewer(),
        )
        .await
        .unwrap();
        assert_eq!((v2.version, v2.state), (2, ModelState::Shadow), "{label}");
        match predictor::promote(&db, v2.id, &reviewer()).await {
            Err(StoreError::Conflict(m)) => assert!(m.contains("calibration period"), "{m}"),
            other => panic!("{label}: {other:?}"),
        }

        // Runs of alternating streaks: failures follow failures.
        for n in 1..=150 {
            let failed = (n / 3) % 2 == 0;
            runs::create_or_get(
                &db,
                project,
                &finished(n, t0, failed, if n % 2 == 0 { "ana" } else { "bo" }, 8),
            )
            .await
            .unwrap();
        }
        let v2 = predictor::model(&db, v2.id).await.unwrap();
        assert_eq!(
            v2.scored, 150,
            "{label}: a shadow version scores every new run"
        );
        assert!(v2.not_ready().is_none(), "{label}: {:?}", v2.not_ready());
        assert!(
            predictor::alerts(&db, project, 500)
                .await
                .unwrap()
                .iter()
                .all(|a| a.model_version == Some(1)),
            "{label}: shadow versions raise no alerts"
        );
        let v2 = predictor::promote(&db, v2.id, &reviewer()).await.unwrap();
        assert_eq!(v2.state, ModelState::Active);
        let models = predictor::models(&db, project).await.unwrap();
        assert_eq!(models.len(), 2);
        assert_eq!(models[1].state, ModelState::Retired, "{label}: v1 retired");
        // The previous version is one click away: no calibration period again.
        let v1 = predictor::promote(&db, models[1].id, &reviewer())
            .await
            .unwrap();
        assert_eq!(v1.state, ModelState::Active);
        assert_eq!(
            predictor::model(&db, v2.id).await.unwrap().state,
            ModelState::Retired
        );

        // Thresholds are checked and audited.
        assert!(matches!(
            predictor::set_threshold(&db, v1.id, 1.5, &reviewer()).await,
            Err(StoreError::Invalid(_))
        ));
        let v1 = predictor::set_threshold(&db, v1.id, 0.3, &reviewer())
            .await
            .unwrap();
        assert_eq!(v1.threshold, 0.3);
        let log = audit::list(&db, &AuditFilter::default()).await.unwrap();
        let actions: Vec<&str> = log.events.iter().map(|e| e.action.as_str()).collect();
        for want in [
            "predictor.threshold_saved",
            "predictor.model_promoted",
            "predictor.model_created",
        ] {
            assert!(actions.contains(&want), "{label}: {want} in {actions:?}");
        }
        let saved = log
            .events
            .iter()
            .find(|e| e.action == "predictor.threshold_saved")
            .unwrap();
        assert_eq!(saved.actor.as_deref(), Some("rita.reviewer"));
        assert!(saved.detail.as_deref().unwrap().contains("0.5 → 0.3"));

        // A learned version trains on the window and starts in shadow with held-out metrics.
        let now = app::store::now_ms();
        match predictor::train_learned(&db, project, t0, t0 + 10 * HOUR, 0.5, &reviewer(), now)
            .await
        {
            Err(StoreError::Invalid(m)) => assert!(m.contains("at least 50"), "{m}"),
            other => panic!("{label}: {other:?}"),
        }
        let v3 = predictor::train_learned(&db, project, t0, now, 0.5, &reviewer(), now)
            .await
            .unwrap();
        assert_eq!(
            (v3.version, v3.state, v3.kind()),
            (3, ModelState::Shadow, "learned")
        );
        let held = v3.held_out.clone().unwrap();
        assert_eq!(held.train + held.calibration + held.test, 151);
        assert!(
            held.auc.unwrap() > 0.6,
            "{label}: streaks are learnable: {held:?}"
        );
        assert_eq!(v3.train_from, Some(t0));
    }
}

/// The scores a report reads follow every change to a run's outcome and start, on a server
/// that read them before the change and on a second one sharing the database; the counts kept
/// with each version agree with the predictions themselves.
#[tokio::test]
async fn report_rows_follow_outcome_changes_on_every_replica() {
    use app::store::runs::RunUpdate;
    for backend in backends().await {
        let one = connect(&backend).await;
        let two = connect(&backend).await;
        let label = backend.label;
        let project = shop(&one).await;
        let t0 = app::store::now_ms() - 10 * 24 * HOUR;
        let mut ids = Vec::new();
        for n in 0..6 {
            let (run, _) = runs::create_or_get(&one, project, &finished(n, t0, n == 2, "ana", 5))
                .await
                .unwrap();
            ids.push(run.id);
        }
        let model = predictor::models(&one, project).await.unwrap()[0].clone();
        let read = |db: Db| async move {
            let rows = predictor::scored_runs(&db, model.id, 0, i64::MAX)
                .await
                .unwrap();
            let mut v: Vec<(i64, bool)> = rows.iter().map(|r| (r.run_id, r.failed)).collect();
            v.sort();
            v
        };
        let expect = |failed: &[usize], ids: &[i64], skip: &[usize]| -> Vec<(i64, bool)> {
            ids.iter()
                .enumerate()
                .filter(|(i, _)| !skip.contains(i))
                .map(|(i, id)| (*id, failed.contains(&i)))
                .collect()
        };
        assert_eq!(read(one.clone()).await, expect(&[2], &ids, &[]), "{label}");
        assert_eq!(read(two.clone()).await, expect(&[2], &ids, &[]), "{label}");

        // A run that starts (no outcome yet) is not in the report; when it fails, it is.
        let mut pending = finished(6, t0, false, "ana", 5);
        pending.status = RunStatus::Running;
        pending.finished_at = None;
        let (run, _) = runs::create_or_get(&two, project, &pending).await.unwrap();
        ids.push(run.id);
        assert_eq!(read(one.clone()).await, expect(&[2], &ids, &[6]), "{label}");
        let update = |status| RunUpdate {
            status: Some(status),
            finished_at: Some(t0 + 6 * HOUR + 9 * MIN),
            ..RunUpdate::default()
        };
        runs::update(&two, run.id, &update(RunStatus::Failure))
            .await
            .unwrap();
        assert_eq!(
            read(one.clone()).await,
            expect(&[2, 6], &ids, &[]),
            "{label}"
        );
        // Re-run green, then started again: the outcome moves, then leaves the report.
        runs::update(&one, ids[2], &update(RunStatus::Success))
            .await
            .unwrap();
        assert_eq!(read(two.clone()).await, expect(&[6], &ids, &[]), "{label}");
        runs::update(&one, ids[3], &update(RunStatus::Running))
            .await
            .unwrap();
        assert_eq!(read(two.clone()).await, expect(&[6], &ids, &[3]), "{label}");
        assert_eq!(read(one.clone()).await, expect(&[6], &ids, &[3]), "{label}");
        // A time range filters on the run's start.
        let early = predictor::scored_runs(&one, model.id, t0, t0 + 2 * HOUR)
            .await
            .unwrap();
        let mut early: Vec<i64> = early.iter().map(|r| r.run_id).collect();
        early.sort();
        assert_eq!(early, vec![ids[0], ids[1]], "{label}");

        let m = predictor::model(&two, model.id).await.unwrap();
        assert_eq!(
            (m.scored, m.scored_failed, m.scored_passed),
            (7, 1, 5),
            "{label}: seven scored, run 6 failed, run 3 has no outcome"
        );
    }
}
