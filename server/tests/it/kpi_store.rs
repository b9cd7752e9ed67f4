//! Delivery KPIs in the store, on SQLite and Postgres: the daily roll-ups the triggers keep
//! equal what the runs and health samples say, and the overview's figures for a hand-built
//! week of runs, deployments, a rollback, an incident and a rating.

use crate::deploy_store::{ci, simple_project};
use crate::helpers::{backends, connect};
use crate::runs_store::new_run;
use app::logic::dora::{DAY_MS, HOUR_MS};
use app::logic::kpi::{Band, Kpi, Target};
use app::model::{DeployState, HealthSample, PastDeployment, Performance, RunStatus, Strategy};
use app::on_pool;
use app::store::audit::Actor;
use app::store::deploy_views::record_past;
use app::store::kpis::{self, NewIncident};
use app::store::runs::{self, RunUpdate};
use app::store::{now_ms, Db, StoreError};

const MIN: i64 = 60_000;

fn past(version: &str, sha: &str, at: i64, outcome: DeployState) -> PastDeployment {
    PastDeployment {
        environment: "production".into(),
        version: version.into(),
        commit_sha: sha.into(),
        git_ref: Some("main".into()),
        strategy: Strategy::Rolling,
        requested_by: "noor".into(),
        requested_at: at - 5 * MIN,
        approvals: Vec::new(),
        started_at: Some(at - 4 * MIN),
        finished_at: Some(at),
        outcome,
        failure_reason: None,
        health: Vec::new(),
        rollback_of: None,
        github_deployment_id: None,
        commits: Vec::new(),
    }
}

/// The roll-up recomputed from the runs themselves.
async fn run_days_recomputed(db: &Db, project_id: i64) -> Vec<(i64, i64, i64, i64, i64, i64)> {
    on_pool!(db, pool => sqlx::query_as(
        "select coalesce(started_at, created_at) / 86400000 as day, cast(count(*) as bigint), \
         cast(sum(case when status <> 'success' then 1 else 0 end) as bigint), \
         cast(sum(case when status = 'error' then 1 else 0 end) as bigint), \
         cast(count(p50_ms) as bigint), cast(count(p99_ms) as bigint) \
         from ci_run where project_id = $1 and status in ('success', 'failure', 'error') \
         group by coalesce(started_at, created_at) / 86400000 order by day"
    ).bind(project_id).fetch_all(pool).await.unwrap())
}

async fn run_days_stored(db: &Db, project_id: i64) -> Vec<(i64, i64, i64, i64, i64, i64)> {
    on_pool!(db, pool => sqlx::query_as(
        "select day, cast(finished as bigint), cast(failed as bigint), cast(errored as bigint), \
         cast(p50_n as bigint), cast(p99_n as bigint) from run_day \
         where project_id = $1 and finished <> 0 order by day"
    ).bind(project_id).fetch_all(pool).await.unwrap())
}

#[tokio::test]
async fn kpis_follow_runs_deployments_incidents_and_ratings() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let pid = simple_project(&db, "kpis", "production", 0).await;
        let today = now_ms() / DAY_MS;
        let base = (today - 3) * DAY_MS;

        // Runs: three pass, one fails, one breaks on infrastructure, one is cancelled.
        let mut ids = Vec::new();
        for (i, (status, hour)) in [
            (RunStatus::Success, 1),
            (RunStatus::Success, 2),
            (RunStatus::Failure, 3),
            (RunStatus::Error, 4),
            (RunStatus::Running, 5),
            (RunStatus::Success, 6),
            (RunStatus::Cancelled, 7),
        ]
        .into_iter()
        .enumerate()
        {
            let mut run = new_run(&format!("k{i}"));
            run.status = status;
            run.started_at = Some(base + hour * HOUR_MS);
            run.finished_at = (status != RunStatus::Running).then_some(base + hour * HOUR_MS + MIN);
            run.performance = Performance {
                p50_ms: Some(80.0),
                p99_ms: Some(150.0 + 10.0 * i as f64),
                ..Performance::default()
            };
            ids.push(runs::create_or_get(&db, pid, &run).await.unwrap().0.id);
        }
        // The running one fails later; the last success moves to the day before.
        runs::update(
            &db,
            ids[4],
            &RunUpdate {
                status: Some(RunStatus::Failure),
                finished_at: Some(base + 6 * HOUR_MS),
                performance: Performance {
                    p99_ms: Some(400.0),
                    ..Performance::default()
                },
                ..RunUpdate::default()
            },
        )
        .await
        .unwrap();
        runs::update(
            &db,
            ids[5],
            &RunUpdate {
                started_at: Some(base - DAY_MS + HOUR_MS),
                ..RunUpdate::default()
            },
        )
        .await
        .unwrap();
        let stored = run_days_stored(&db, pid).await;
        assert_eq!(stored, run_days_recomputed(&db, pid).await, "{label}");
        assert_eq!(
            stored,
            vec![(today - 4, 1, 0, 0, 1, 1), (today - 3, 5, 3, 1, 5, 5)],
            "{label}"
        );

        // Deployments to production: A, B fails, C recovers, D rolled back by E; an incident
        // caused by C.
        let mut a = past(
            "1.0.0",
            &"a".repeat(40),
            base + HOUR_MS,
            DeployState::Succeeded,
        );
        a.commits = vec![("a".repeat(40), "first".into(), None, base - 2 * HOUR_MS)];
        a.health = vec![
            HealthSample {
                at: base + HOUR_MS + MIN,
                error_rate: Some(0.001),
                p95_ms: None,
                availability: Some(1.0),
                smoke_pass_rate: None,
                healthy: None,
            },
            HealthSample {
                at: base + HOUR_MS + 2 * MIN,
                error_rate: Some(0.003),
                p95_ms: None,
                availability: None,
                smoke_pass_rate: None,
                healthy: Some(false),
            },
        ];
        let (a_id, _) = record_past(&db, "kpis", &a).await.unwrap();
        let (b_id, _) = record_past(
            &db,
            "kpis",
            &past(
                "1.0.1",
                &"b".repeat(40),
                base + 2 * HOUR_MS,
                DeployState::Failed,
            ),
        )
        .await
        .unwrap();
        let mut c = past(
            "1.0.2",
            &"c".repeat(40),
            base + 3 * HOUR_MS,
            DeployState::Succeeded,
        );
        c.commits = vec![("c".repeat(40), "fix".into(), None, base + HOUR_MS)];
        let (c_id, _) = record_past(&db, "kpis", &c).await.unwrap();
        let (d_id, _) = record_past(
            &db,
            "kpis",
            &past(
                "1.0.3",
                &"d".repeat(40),
                base + 4 * HOUR_MS,
                DeployState::Succeeded,
            ),
        )
        .await
        .unwrap();
        let mut e = past(
            "1.0.2",
            &"c".repeat(40),
            base + 5 * HOUR_MS + 10 * MIN,
            DeployState::Succeeded,
        );
        e.rollback_of = Some((d_id, base + 5 * HOUR_MS));
        let (e_id, _) = record_past(&db, "kpis", &e).await.unwrap();

        let incident = NewIncident {
            environment: "production".into(),
            title: "checkout errors after 1.0.2".into(),
            severity: "critical".into(),
            started_at: base + 6 * HOUR_MS,
            resolved_at: None,
            deployment_id: Some(c_id),
            incident_key: Some("pd-1".into()),
        };
        let (i1, created) = kpis::record_incident(&db, "kpis", &incident, &ci())
            .await
            .unwrap();
        assert!(created);
        // A retry with the same key returns the same incident.
        let (again, created) = kpis::record_incident(&db, "kpis", &incident, &ci())
            .await
            .unwrap();
        assert_eq!((again.id, created), (i1.id, false), "{label}");
        // Bad input is refused with what and where; nothing is stored.
        let bad = NewIncident {
            deployment_id: Some(999_999),
            incident_key: Some("pd-2".into()),
            ..incident.clone()
        };
        let err = kpis::record_incident(&db, "kpis", &bad, &ci())
            .await
            .unwrap_err();
        assert!(err.to_string().starts_with("deployment_id:"), "{err}");
        let err = kpis::resolve_incident(&db, pid, i1.id, base, &ci())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{label}: {err}");
        let resolved =
            kpis::resolve_incident(&db, pid, i1.id, base + 6 * HOUR_MS + 30 * MIN, &ci())
                .await
                .unwrap();
        assert_eq!(resolved.resolved_at, Some(base + 6 * HOUR_MS + 30 * MIN));
        // Resolving again keeps the first resolution.
        let kept = kpis::resolve_incident(&db, pid, i1.id, now_ms(), &ci())
            .await
            .unwrap();
        assert_eq!(kept.resolved_at, resolved.resolved_at, "{label}");

        // A rating, once a month.
        let user = crate::deploy_store::person(&db, "mara", app::model::Role::Viewer).await;
        assert!(!kpis::rated_this_month(&db, user.user_id).await.unwrap());
        kpis::rate(
            &db,
            user.user_id,
            pid,
            4,
            "faster approvals please",
            now_ms(),
        )
        .await
        .unwrap();
        assert!(kpis::rated_this_month(&db, user.user_id).await.unwrap());
        let again = kpis::rate(&db, user.user_id, pid, 5, "", now_ms()).await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{label}");
        assert!(matches!(
            kpis::rate(&db, user.user_id, pid, 6, "", now_ms()).await,
            Err(StoreError::Invalid(_))
        ));

        // A project target, checked before it is written.
        let actor = Actor::system();
        let err = kpis::save_targets(
            &db,
            pid,
            &[
                Target {
                    kpi: Kpi::Coverage,
                    target: 0.7,
                    at_risk: 0.6,
                    custom: true,
                },
                Target {
                    kpi: Kpi::TestPassRate,
                    target: 95.0,
                    at_risk: 90.0,
                    custom: true,
                },
            ],
            &[],
            &actor,
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("fractions"), "{err}");
        let uptime = Target {
            kpi: Kpi::Uptime,
            target: 0.8,
            at_risk: 0.5,
            custom: true,
        };
        kpis::save_targets(&db, pid, &[uptime], &[], &actor)
            .await
            .unwrap();
        let targets = kpis::targets(&db, pid).await.unwrap();
        assert_eq!(targets.iter().filter(|t| t.custom).count(), 1, "{label}");

        // The overview of the last 7 days.
        let scope = kpis::scope(&db, "kpis", None).await.unwrap();
        assert_eq!(scope.environment, "production");
        let o = kpis::overview(&db, scope, today - 6, today + 1)
            .await
            .unwrap();
        let card = |k: Kpi| o.report.cards.iter().find(|c| c.kpi == k).unwrap().clone();
        let k = &o.report.dora.current;
        assert_eq!(k.finished, vec![a_id, b_id, c_id, d_id, e_id], "{label}");
        assert_eq!(k.successful, vec![a_id, c_id, d_id, e_id]);
        assert!((k.deployment_frequency.unwrap() - 4.0 / 7.0).abs() < 1e-12);
        // Leads: A 3 h 5 min... from base-2h to base+1h = 3 h; C 2 h; D knows no commit; E is a
        // rollback (no new change).
        assert_eq!(k.lead_time_samples, 2, "{label}");
        assert_eq!(k.lead_time_ms, Some(2.5 * HOUR_MS as f64));
        // Failed changes: B failed, C caused the incident, D was rolled back.
        assert_eq!(k.failed_changes, vec![b_id, c_id, d_id], "{label}");
        assert_eq!(k.change_failure_rate, Some(0.6));
        // Recoveries: B 1 h (to C), D 10 min (to E), the incident 30 min.
        assert_eq!(k.recovery_ms, Some(30.0 * MIN as f64), "{label}");
        let mttr = card(Kpi::Mttr);
        assert!((mttr.current.value.unwrap() - 100.0 / 3.0 * MIN as f64).abs() < 1e-6);
        assert_eq!(mttr.current.sources.deployments, vec![b_id, d_id]);
        assert_eq!(mttr.current.sources.incidents, vec![i1.id]);
        let mtbf = card(Kpi::Mtbf);
        assert!((mtbf.current.value.unwrap() - 7.0 * DAY_MS as f64 / 3.0).abs() < 1e-6);
        let rollback = card(Kpi::RollbackTime);
        assert_eq!(rollback.current.value, Some(10.0 * MIN as f64), "{label}");
        assert_eq!(rollback.current.secondary, Some(1.0));
        assert_eq!(rollback.current.sources.deployments, vec![e_id]);
        // Uptime: 5 of 6 finished runs up, plus samples 1.0 and unhealthy 0.
        let up = card(Kpi::Uptime);
        assert!(
            (up.current.value.unwrap() - 6.0 / 8.0).abs() < 1e-12,
            "{label}"
        );
        assert_eq!(
            up.band,
            Band::AtRisk,
            "the project's own target: 0.8, at risk to 0.5"
        );
        assert!((card(Kpi::ErrorRate).current.value.unwrap() - 0.002).abs() < 1e-12);
        assert_eq!(card(Kpi::LatencyP50).current.value, Some(80.0));
        assert_eq!(card(Kpi::Satisfaction).current.value, Some(4.0), "{label}");
        // Failure detection and false alerts agree with the alerts the predictor raised.
        let raised: Vec<(i64, String)> = on_pool!(&db, pool => sqlx::query_as(
            "select a.risk_alert_id, r.status from risk_alert a join ci_run r on r.ci_run_id = a.ci_run_id \
             where a.project_id = $1 and a.kind = 'risk'"
        ).bind(pid).fetch_all(pool).await.unwrap());
        let caught = raised
            .iter()
            .filter(|(_, s)| s == "failure" || s == "error")
            .count();
        assert_eq!(
            card(Kpi::FailureDetection).current.value,
            Some(caught as f64 / 3.0),
            "{label}"
        );
        // The items behind MTTR, for the drill-down.
        let items = kpis::source_items(&db, &mttr.current.sources, 100)
            .await
            .unwrap();
        let kinds: Vec<(&str, i64)> = items.iter().map(|i| (i.kind.as_str(), i.id)).collect();
        assert_eq!(
            kinds,
            vec![
                ("incident", i1.id),
                ("deployment", d_id),
                ("deployment", b_id)
            ],
            "{label}"
        );
        assert_eq!(items[1].href, format!("/deployments/{d_id}"));
        // An unknown environment names the ones there are.
        let err = kpis::scope(&db, "kpis", Some("moon")).await.unwrap_err();
        assert!(err.to_string().contains("staging"), "{label}: {err}");
    }
}

async fn exec(db: &Db, sql: &str) {
    on_pool!(db, pool => { sqlx::query(sql).execute(pool).await.unwrap(); });
}

/// Opens an alert on a run (or a drift alert without one), as the predictor would.
async fn open_alert(db: &Db, pid: i64, run: Option<i64>, key: &str, at: i64) -> i64 {
    on_pool!(db, pool => {
        let (id,): (i64,) = sqlx::query_as(
            "insert into risk_alert (project_id, kind, ci_run_id, dedup_key, score, threshold, \
             message, opened_at) values ($1, $2, $3, $4, 0.8, 0.5, 'test', $5) \
             returning risk_alert_id",
        )
        .bind(pid)
        .bind(if run.is_some() { "risk" } else { "drift" })
        .bind(run)
        .bind(key)
        .bind(at)
        .fetch_one(pool)
        .await
        .unwrap();
        id
    })
}

/// The alerts and deployments the overview reads from the daily packs are exactly those its
/// rows give, after every kind of change the triggers must follow.
#[tokio::test]
async fn daily_packs_say_what_the_rows_say() {
    for backend in backends().await {
        let db = connect(&backend).await;
        let label = backend.label;
        let pid = simple_project(&db, "packs", "production", 0).await;
        let today = now_ms() / DAY_MS;
        let base = (today - 3) * DAY_MS;
        let scope = kpis::scope(&db, "packs", None).await.unwrap();
        let check = |what: &'static str| {
            let (db, scope) = (db.clone(), scope.clone());
            async move {
                let packed = kpis::load_facts(&db, &scope, today - 40, today + 1)
                    .await
                    .unwrap();
                let rows = kpis::load_facts_by_rows(&db, &scope, today - 40, today + 1)
                    .await
                    .unwrap();
                assert_eq!(packed, rows, "{label}: {what}");
                packed
            }
        };

        // Alerts on running runs, a drift alert, one acknowledged.
        let mut runs_ids = Vec::new();
        let mut alerts = Vec::new();
        for i in 0..4 {
            let mut run = new_run(&format!("p{i}"));
            run.started_at = Some(base + i * HOUR_MS);
            let id = runs::create_or_get(&db, pid, &run).await.unwrap().0.id;
            runs_ids.push(id);
            exec(
                &db,
                &format!("delete from risk_alert where ci_run_id = {id}"),
            )
            .await;
            alerts
                .push(open_alert(&db, pid, Some(id), &format!("t:{i}"), base + i * HOUR_MS).await);
        }
        let drift = open_alert(&db, pid, None, "drift:1", base + 5 * HOUR_MS).await;
        app::store::predictor::acknowledge_at(&db, alerts[0], &Actor::system(), base + 4 * MIN)
            .await
            .unwrap();
        let f = check("alerts opened, one acknowledged").await;
        assert_eq!(f.alerts.len(), 5, "{label}");
        assert_eq!(f.alerts[0].acknowledged_at, Some(base + 4 * MIN));
        assert!(f.alerts.iter().all(|a| a.run_failed.is_none()));

        // Runs finish: one fails, one passes, one breaks on infrastructure.
        for (i, status) in [
            (0, RunStatus::Failure),
            (1, RunStatus::Success),
            (2, RunStatus::Error),
        ] {
            runs::update(
                &db,
                runs_ids[i],
                &RunUpdate {
                    status: Some(status),
                    finished_at: Some(base + i as i64 * HOUR_MS + 10 * MIN),
                    ..RunUpdate::default()
                },
            )
            .await
            .unwrap();
        }
        let f = check("runs finished").await;
        let failed: Vec<Option<bool>> = f.alerts.iter().map(|a| a.run_failed).collect();
        assert_eq!(
            failed,
            vec![Some(true), Some(false), Some(true), None, None],
            "{label}"
        );

        // An alert moves to another day, one is deleted, the drift alert is acknowledged.
        exec(
            &db,
            &format!(
                "update risk_alert set opened_at = opened_at - {DAY_MS} where risk_alert_id = {}",
                alerts[1]
            ),
        )
        .await;
        exec(
            &db,
            &format!("delete from risk_alert where risk_alert_id = {}", alerts[2]),
        )
        .await;
        app::store::predictor::acknowledge_at(&db, drift, &Actor::system(), base + 6 * HOUR_MS)
            .await
            .unwrap();
        let f = check("an alert moved, one deleted, one acknowledged").await;
        assert_eq!(f.alerts.len(), 4, "{label}");

        // Deployments: A live, B failed, C live and then rolled back by D.
        let (a_id, _) = record_past(
            &db,
            "packs",
            &past(
                "2.0.0",
                &"a".repeat(40),
                base + HOUR_MS,
                DeployState::Succeeded,
            ),
        )
        .await
        .unwrap();
        record_past(
            &db,
            "packs",
            &past(
                "2.0.1",
                &"b".repeat(40),
                base + 2 * HOUR_MS,
                DeployState::Failed,
            ),
        )
        .await
        .unwrap();
        let (c_id, _) = record_past(
            &db,
            "packs",
            &past(
                "2.0.2",
                &"c".repeat(40),
                base + 3 * HOUR_MS,
                DeployState::Succeeded,
            ),
        )
        .await
        .unwrap();
        let mut d = past(
            "2.0.0",
            &"a".repeat(40),
            base + 4 * HOUR_MS,
            DeployState::Succeeded,
        );
        d.rollback_of = Some((c_id, base + 3 * HOUR_MS + 30 * MIN));
        record_past(&db, "packs", &d).await.unwrap();
        let f = check("deployments and a rollback").await;
        assert_eq!(f.deployments.len(), 4, "{label}");
        assert_eq!(f.rollbacks.len(), 1, "{label}");
        let c = f.deployments.iter().find(|x| x.id == c_id).unwrap();
        assert_eq!(
            c.rolled_back_at,
            Some(base + 3 * HOUR_MS + 30 * MIN),
            "{label}"
        );

        // The release learns its first commit later; a deployment's finish moves a day.
        exec(
            &db,
            &format!(
                "update release set first_commit_at = {} where version = '2.0.0'",
                base - DAY_MS
            ),
        )
        .await;
        exec(&db, &format!("update deployment set finished_at = finished_at - {DAY_MS} where deployment_id = {a_id}")).await;
        let f = check("first commit learnt, a finish moved").await;
        let a = f.deployments.iter().find(|x| x.id == a_id).unwrap();
        assert_eq!(a.first_commit_at, Some(base - DAY_MS), "{label}");
        assert_eq!(a.finished_at, base + HOUR_MS - DAY_MS);

        // Two writers on one day: the second waits for the first and keeps both alerts.
        if let Db::Postgres(pool) = &db {
            let mut first = pool.begin().await.unwrap();
            sqlx::query(
                "insert into risk_alert (project_id, kind, dedup_key, message, opened_at) \
                 values ($1, 'drift', 'drift:first', 'first', $2)",
            )
            .bind(pid)
            .bind(base + 7 * HOUR_MS)
            .execute(&mut *first)
            .await
            .unwrap();
            // The day's rebuild waits for commit; fire it now, so the first holds the day.
            sqlx::query("set constraints all immediate")
                .execute(&mut *first)
                .await
                .unwrap();
            let second = {
                let pool = pool.clone();
                tokio::spawn(async move {
                    sqlx::query(
                        "insert into risk_alert (project_id, kind, dedup_key, message, opened_at) \
                         values ($1, 'drift', 'drift:second', 'second', $2)",
                    )
                    .bind(pid)
                    .bind(base + 8 * HOUR_MS)
                    .execute(&pool)
                    .await
                    .unwrap();
                })
            };
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(
                !second.is_finished(),
                "the second writer waits for the day's lock"
            );
            first.commit().await.unwrap();
            second.await.unwrap();
            let f = check("two writers on one day").await;
            assert_eq!(f.alerts.len(), 6, "{label}");
        }

        // Deleting a project takes its days along (the rebuilds keep nothing for it).
        let gone = simple_project(&db, "gone", "production", 0).await;
        open_alert(&db, gone, None, "drift:gone", base).await;
        record_past(
            &db,
            "gone",
            &past("1.0.0", &"e".repeat(40), base, DeployState::Succeeded),
        )
        .await
        .unwrap();
        exec(
            &db,
            &format!("delete from project where project_id = {gone}"),
        )
        .await;
        let left: Vec<(i64,)> = on_pool!(&db, pool => sqlx::query_as(
            "select cast(count(*) as bigint) from alert_day where project_id = $1 union all \
             select cast(count(*) as bigint) from deployment_day d join environment e \
             on e.environment_id = d.environment_id where e.project_id = $1"
        ).bind(gone).fetch_all(pool).await.unwrap());
        assert_eq!(left, vec![(0,), (0,)], "{label}");
    }
}
