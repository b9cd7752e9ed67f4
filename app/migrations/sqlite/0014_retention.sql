-- Retention per kind of data (issue 8), with the seeds' defaults, and a lease table so one
-- replica runs each periodic job at a time.

-- How long each kind of data is kept; days null = kept forever.
create table retention_policy (
    kind text primary key,
    days integer check (days is null or days between 1 and 36500),
    updated_at integer not null,
    updated_by text,
    -- the last purge of this kind: when, and how many rows it removed
    last_purge_at integer,
    last_purged integer not null default 0,
    total_purged integer not null default 0
);
insert into retention_policy (kind, days, updated_at) values
    ('ci_artifacts', 7, 0),
    ('runs', 90, 0),
    ('staging_artifacts', 30, 0),
    ('production_artifacts', 90, 0),
    ('rollback_results', 365, 0),
    ('notifications', 90, 0),
    ('webhook_log', 30, 0),
    ('events', 365, 0),
    ('audit_log', null, 0);

-- A periodic job's lease: the replica named holder runs it until expires_at.
create table job_lease (
    name text primary key,
    holder text not null,
    expires_at integer not null,
    last_started_at integer not null
);

-- Runs whose failure output and per-file coverage were purged (the run itself stays).
alter table ci_run add column detail_purged_at integer;
create index ci_run_detail_idx on ci_run (finished_at) where detail_purged_at is null;
-- A run's age, as the KPIs count it: when it started, else when it was received.
create index ci_run_age_idx on ci_run (coalesce(started_at, created_at));
create index health_sample_at_idx on health_sample (at);
create index notification_created_idx on notification (created_at);
create index webhook_delivery_received_idx on webhook_delivery (received_at) where payload is not null;
create index domain_event_at_idx on domain_event (at);
create index audit_event_at_idx on audit_event (at);
-- Deleting a run looks up the rows that reference it (and its reports) by these.
create index test_case_report_idx on test_case (test_report_id);
create index gate_evaluation_run_idx on gate_evaluation (ci_run_id);
create index release_run_idx on release (ci_run_id);
create index delivery_grouped_idx on delivery (grouped_into);

-- A purge that deletes predictions bumps the epoch: a copy of the scores (score_cache) made
-- at another epoch is read again in full.
alter table risk_model add column epoch integer not null default 0;

-- While a purge transaction holds a row here, deleting runs, alerts and health samples keeps
-- the daily roll-ups: the KPIs of a purged day stay as they were.
create table retention_purge (started_at integer not null);

drop trigger run_day_delete;
create trigger run_day_delete after delete on ci_run
when old.status in ('success', 'failure', 'error') and not exists (select 1 from retention_purge)
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

drop trigger health_day_delete;
create trigger health_day_delete after delete on health_sample
when not exists (select 1 from retention_purge)
begin
    update health_day set
        availability_sum = availability_sum - coalesce(old.availability, old.healthy, 0),
        availability_n = availability_n - (coalesce(old.availability, old.healthy) is not null),
        error_sum = error_sum - coalesce(old.error_rate, 0), error_n = error_n - (old.error_rate is not null)
    where environment_id = (select environment_id from deployment where deployment_id = old.deployment_id)
        and day = old.at / 86400000;
end;

drop trigger alert_day_delete;
create trigger alert_day_delete after delete on risk_alert
when not exists (select 1 from retention_purge)
begin
    insert into alert_day_dirty values (old.project_id, old.opened_at / 86400000);
end;

-- The audit log stays append-only, except for the purge of entries past their retention
-- (none by default: the audit log is kept forever unless an admin sets a number of days).
drop trigger audit_event_no_delete;
create trigger audit_event_no_delete before delete on audit_event
when not exists (select 1 from retention_purge)
begin
    select raise(abort, 'audit_event is append-only');
end;
