-- Calibration reports read a model's finished predictions without joining ci_run: each
-- prediction carries its run's start time and outcome, kept in line in the run's own write
-- transaction. Every change to a version's finished set takes the version's next revision
-- (risk_model.rev, under the model row's lock, so revisions commit in order) and stamps the
-- changed prediction with it: a server's in-memory copy catches up by reading `rev > seen`.

alter table risk_model add column rev bigint not null default 0;
-- predictions of the version, and those with a known outcome (kept on write, for the list)
alter table risk_model add column scored bigint not null default 0;
alter table risk_model add column scored_failed bigint not null default 0;
alter table risk_model add column scored_passed bigint not null default 0;

-- the run's start (or creation) time, epoch ms UTC
alter table risk_prediction add column run_at bigint;
-- 1 failed (failure, error), 0 passed (success), null while the run has no outcome
alter table risk_prediction add column outcome bigint check (outcome in (0, 1));
alter table risk_prediction add column rev bigint not null default 0;

update risk_prediction set
    run_at = (select coalesce(r.started_at, r.created_at) from ci_run r
              where r.ci_run_id = risk_prediction.ci_run_id),
    outcome = (select case when r.status = 'success' then 0
                           when r.status in ('failure', 'error') then 1 end
               from ci_run r where r.ci_run_id = risk_prediction.ci_run_id);
update risk_prediction set rev = 1 where outcome is not null;
update risk_model set
    rev = 1,
    scored = (select count(*) from risk_prediction x where x.risk_model_id = risk_model.risk_model_id),
    scored_failed = (select count(*) from risk_prediction x
                     where x.risk_model_id = risk_model.risk_model_id and x.outcome = 1),
    scored_passed = (select count(*) from risk_prediction x
                     where x.risk_model_id = risk_model.risk_model_id and x.outcome = 0);

create index risk_prediction_rev_idx
    on risk_prediction (risk_model_id, rev, ci_run_id, run_at, score, outcome);
