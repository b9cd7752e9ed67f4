-- Delivery KPIs (issue 6): incidents, per-project KPI targets, satisfaction ratings, each
-- release's first commit, and daily roll-ups kept by triggers in the writing transaction, so
-- the overview reads a row per day instead of scanning runs and health samples.

create table incident (
    incident_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    environment_id integer not null references environment (environment_id) on delete cascade,
    -- the deployment that caused it, when known: that deployment is a failed change
    deployment_id integer references deployment (deployment_id) on delete set null,
    title text not null,
    severity text not null check (severity in ('info', 'warning', 'critical')),
    started_at integer not null,
    resolved_at integer check (resolved_at is null or resolved_at >= started_at),
    -- the caller's key for retries: the same key returns the same incident
    incident_key text,
    created_by text not null,
    created_at integer not null,
    updated_at integer not null,
    constraint incident_key_key unique (project_id, incident_key)
);
create index incident_env_idx on incident (environment_id, started_at);

-- a project's own target and at-risk boundary for a KPI; a KPI without a row uses the seeds'
create table kpi_target (
    project_id integer not null references project (project_id) on delete cascade,
    kpi text not null,
    target real not null,
    at_risk real not null,
    updated_by text not null,
    updated_at integer not null,
    primary key (project_id, kpi)
);

create table satisfaction_rating (
    satisfaction_rating_id integer primary key,
    app_user_id integer not null references app_user (app_user_id) on delete cascade,
    -- the project the person was looking at when asked
    project_id integer not null references project (project_id) on delete cascade,
    -- 'YYYY-MM' in UTC: at most one rating per person per month
    month text not null,
    rating integer not null check (rating between 1 and 5),
    comment text not null default '',
    at integer not null,
    constraint satisfaction_once_key unique (app_user_id, month)
);
create index satisfaction_project_idx on satisfaction_rating (project_id, at);

-- when the change a release ships was first committed: the earliest commit the deployment
-- request listed, else the release commit's own time, else the first CI run seen for it.
-- Lead time for changes starts here.
alter table release add column first_commit_at integer;
update release set first_commit_at = coalesce(
    (select g.committed_at from git_commit g
     where g.project_id = release.project_id and g.sha = release.commit_sha),
    (select min(coalesce(r.started_at, r.created_at)) from ci_run r
     where r.project_id = release.project_id and r.commit_sha = release.commit_sha));

create index deployment_env_finished_idx on deployment (environment_id, finished_at);
create index risk_alert_opened_idx on risk_alert (project_id, opened_at);

-- Finished runs (success, failure, error) per project and UTC day of their start.
create table run_day (
    project_id integer not null references project (project_id) on delete cascade,
    day integer not null,
    finished integer not null default 0,
    -- failure or error (the predictor's "failed")
    failed integer not null default 0,
    -- error: the infrastructure failed, not the change
    errored integer not null default 0,
    -- test cases that ran (passed + failed + errors) and passed
    tests_ran integer not null default 0,
    tests_passed integer not null default 0,
    coverage_sum real not null default 0,
    coverage_n integer not null default 0,
    p50_sum real not null default 0,
    p50_n integer not null default 0,
    p99_sum real not null default 0,
    p99_n integer not null default 0,
    primary key (project_id, day)
);

insert into run_day
select project_id, coalesce(started_at, created_at) / 86400000, count(*),
       sum(status <> 'success'), sum(status = 'error'),
       sum(passed + failed + errors), sum(passed),
       coalesce(sum(line_rate), 0), count(line_rate),
       coalesce(sum(p50_ms), 0), count(p50_ms), coalesce(sum(p99_ms), 0), count(p99_ms)
from ci_run where status in ('success', 'failure', 'error')
group by project_id, coalesce(started_at, created_at) / 86400000;

create trigger run_day_insert after insert on ci_run
when new.status in ('success', 'failure', 'error')
begin
    insert into run_day values (new.project_id, coalesce(new.started_at, new.created_at) / 86400000,
        1, new.status <> 'success', new.status = 'error',
        new.passed + new.failed + new.errors, new.passed,
        coalesce(new.line_rate, 0), new.line_rate is not null,
        coalesce(new.p50_ms, 0), new.p50_ms is not null,
        coalesce(new.p99_ms, 0), new.p99_ms is not null)
    on conflict (project_id, day) do update set
        finished = finished + excluded.finished, failed = failed + excluded.failed,
        errored = errored + excluded.errored, tests_ran = tests_ran + excluded.tests_ran,
        tests_passed = tests_passed + excluded.tests_passed,
        coverage_sum = coverage_sum + excluded.coverage_sum, coverage_n = coverage_n + excluded.coverage_n,
        p50_sum = p50_sum + excluded.p50_sum, p50_n = p50_n + excluded.p50_n,
        p99_sum = p99_sum + excluded.p99_sum, p99_n = p99_n + excluded.p99_n;
end;

create trigger run_day_update after update of project_id, status, started_at, created_at, passed,
    failed, errors, line_rate, p50_ms, p99_ms on ci_run
begin
    update run_day set
        finished = finished - 1, failed = failed - (old.status <> 'success'),
        errored = errored - (old.status = 'error'),
        tests_ran = tests_ran - (old.passed + old.failed + old.errors),
        tests_passed = tests_passed - old.passed,
        coverage_sum = coverage_sum - coalesce(old.line_rate, 0),
        coverage_n = coverage_n - (old.line_rate is not null),
        p50_sum = p50_sum - coalesce(old.p50_ms, 0), p50_n = p50_n - (old.p50_ms is not null),
        p99_sum = p99_sum - coalesce(old.p99_ms, 0), p99_n = p99_n - (old.p99_ms is not null)
    where old.status in ('success', 'failure', 'error') and project_id = old.project_id
        and day = coalesce(old.started_at, old.created_at) / 86400000;
    insert into run_day
    select new.project_id, coalesce(new.started_at, new.created_at) / 86400000,
        1, new.status <> 'success', new.status = 'error',
        new.passed + new.failed + new.errors, new.passed,
        coalesce(new.line_rate, 0), new.line_rate is not null,
        coalesce(new.p50_ms, 0), new.p50_ms is not null,
        coalesce(new.p99_ms, 0), new.p99_ms is not null
    where new.status in ('success', 'failure', 'error')
    on conflict (project_id, day) do update set
        finished = finished + excluded.finished, failed = failed + excluded.failed,
        errored = errored + excluded.errored, tests_ran = tests_ran + excluded.tests_ran,
        tests_passed = tests_passed + excluded.tests_passed,
        coverage_sum = coverage_sum + excluded.coverage_sum, coverage_n = coverage_n + excluded.coverage_n,
        p50_sum = p50_sum + excluded.p50_sum, p50_n = p50_n + excluded.p50_n,
        p99_sum = p99_sum + excluded.p99_sum, p99_n = p99_n + excluded.p99_n;
end;

create trigger run_day_delete after delete on ci_run
when old.status in ('success', 'failure', 'error')
begin
    update run_day set
        finished = finished - 1, failed = failed - (old.status <> 'success'),
        errored = errored - (old.status = 'error'),
        tests_ran = tests_ran - (old.passed + old.failed + old.errors),
        tests_passed = tests_passed - old.passed,
        coverage_sum = coverage_sum - coalesce(old.line_rate, 0),
        coverage_n = coverage_n - (old.line_rate is not null),
        p50_sum = p50_sum - coalesce(old.p50_ms, 0), p50_n = p50_n - (old.p50_ms is not null),
        p99_sum = p99_sum - coalesce(old.p99_ms, 0), p99_n = p99_n - (old.p99_ms is not null)
    where project_id = old.project_id and day = coalesce(old.started_at, old.created_at) / 86400000;
end;

-- Health samples per environment and UTC day: availability (or healthy as 0/1) and error rate.
create table health_day (
    environment_id integer not null references environment (environment_id) on delete cascade,
    day integer not null,
    availability_sum real not null default 0,
    availability_n integer not null default 0,
    error_sum real not null default 0,
    error_n integer not null default 0,
    primary key (environment_id, day)
);

insert into health_day
select d.environment_id, h.at / 86400000,
       coalesce(sum(coalesce(h.availability, h.healthy)), 0), count(coalesce(h.availability, h.healthy)),
       coalesce(sum(h.error_rate), 0), count(h.error_rate)
from health_sample h join deployment d on d.deployment_id = h.deployment_id
group by d.environment_id, h.at / 86400000;

create trigger health_day_insert after insert on health_sample
begin
    insert into health_day
    select d.environment_id, new.at / 86400000,
        coalesce(new.availability, new.healthy, 0), coalesce(new.availability, new.healthy) is not null,
        coalesce(new.error_rate, 0), new.error_rate is not null
    from deployment d where d.deployment_id = new.deployment_id
    on conflict (environment_id, day) do update set
        availability_sum = availability_sum + excluded.availability_sum,
        availability_n = availability_n + excluded.availability_n,
        error_sum = error_sum + excluded.error_sum, error_n = error_n + excluded.error_n;
end;

create trigger health_day_delete after delete on health_sample
begin
    update health_day set
        availability_sum = availability_sum - coalesce(old.availability, old.healthy, 0),
        availability_n = availability_n - (coalesce(old.availability, old.healthy) is not null),
        error_sum = error_sum - coalesce(old.error_rate, 0), error_n = error_n - (old.error_rate is not null)
    where environment_id = (select environment_id from deployment where deployment_id = old.deployment_id)
        and day = old.at / 86400000;
end;
