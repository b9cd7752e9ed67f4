-- Retention per kind of data (issue 8), with the seeds' defaults, and a lease table so one
-- replica runs each periodic job at a time.

-- How long each kind of data is kept; days null = kept forever.
create table retention_policy (
    kind text primary key,
    days bigint check (days is null or days between 1 and 36500),
    updated_at bigint not null,
    updated_by text,
    -- the last purge of this kind: when, and how many rows it removed
    last_purge_at bigint,
    last_purged bigint not null default 0,
    total_purged bigint not null default 0
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
    expires_at bigint not null,
    last_started_at bigint not null
);

-- Runs whose failure output and per-file coverage were purged (the run itself stays).
alter table ci_run add column detail_purged_at bigint;
create index ci_run_detail_idx on ci_run (finished_at) where detail_purged_at is null;
-- A run's age, as the KPIs count it: when it started, else when it was received.
create index ci_run_age_idx on ci_run ((coalesce(started_at, created_at)));
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
alter table risk_model add column epoch bigint not null default 0;

-- A purge transaction runs `set local gatehouse.purge = 'on'`: deleting runs, alerts and
-- health samples then keeps the daily roll-ups (the KPIs of a purged day stay as they were).
-- SQLite marks it with a row in a table instead; the table exists here too, unused, so both
-- schemas hold the same tables.
create table retention_purge (started_at bigint not null);

create function gatehouse_purging() returns boolean language sql stable as $$
    select coalesce(current_setting('gatehouse.purge', true), '') = 'on'
$$;

drop trigger run_day_insert_delete on ci_run;
create trigger run_day_insert after insert on ci_run
for each row execute function run_day_trigger();
create trigger run_day_delete after delete on ci_run
for each row when (not gatehouse_purging()) execute function run_day_trigger();

drop trigger health_day_insert_delete on health_sample;
create trigger health_day_insert after insert on health_sample
for each row execute function health_day_trigger();
create trigger health_day_delete after delete on health_sample
for each row when (not gatehouse_purging()) execute function health_day_trigger();

drop trigger alert_day_delete on risk_alert;
create constraint trigger alert_day_delete after delete on risk_alert
deferrable initially deferred for each row when (not gatehouse_purging())
execute function alert_day_trigger();

-- The audit log stays append-only, except for the purge of entries past their retention
-- (none by default: the audit log is kept forever unless an admin sets a number of days).
drop trigger audit_event_no_change on audit_event;
create trigger audit_event_no_update before update on audit_event
for each row execute function audit_event_append_only();
create trigger audit_event_no_delete before delete on audit_event
for each row when (not gatehouse_purging()) execute function audit_event_append_only();
