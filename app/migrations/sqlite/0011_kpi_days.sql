-- The overview's alerts and deployments, one row per day (issue 6, speed). Each row holds the
-- day's items packed as text: ";"-separated entries of ","-separated fields, NULL as empty, in
-- no set order (`group_concat(… order by …)` would make the schema unreadable to sqlite3
-- shells before 3.44, such as Debian 12's; the reader sorts). Triggers rebuild a day from its
-- rows whenever one of them changes, in the writing transaction, so a day's pack always
-- equals what the rows say (a test checks it). The overview then reads about one row per day
-- instead of one per alert and deployment.

-- Alerts by project and UTC day of opening. Entry: id, 1 for a risk alert (0 for drift),
-- opened_at, acknowledged_at, and whether the alerted run failed (1), passed (0) or has not
-- finished (empty).
create table alert_day (
    project_id integer not null references project (project_id) on delete cascade,
    day integer not null,
    pack text not null,
    primary key (project_id, day)
);

-- Finished deployments (succeeded, failed, rolled back) by environment and UTC day of
-- finishing. Entry: id, state, finished_at, the release's first commit, when it was rolled
-- back (the rollback's decision, else its request), the deployment it rolls back, and when
-- this deployment was decided (its rollback decision, else its request).
create table deployment_day (
    environment_id integer not null references environment (environment_id) on delete cascade,
    day integer not null,
    pack text not null,
    primary key (environment_id, day)
);

create index risk_alert_run_idx on risk_alert (ci_run_id);
create index deployment_rolled_back_by_idx on deployment (rolled_back_by);

insert into alert_day
select a.project_id, a.opened_at / 86400000,
    group_concat(a.risk_alert_id || ',' || (a.kind = 'risk') || ',' || a.opened_at || ',' ||
        coalesce(a.acknowledged_at, '') || ',' ||
        coalesce(case r.status when 'success' then 0 when 'failure' then 1 when 'error' then 1 end, ''),
        ';')
from risk_alert a left join ci_run r on r.ci_run_id = a.ci_run_id
group by a.project_id, a.opened_at / 86400000;

insert into deployment_day
select d.environment_id, d.finished_at / 86400000,
    group_concat(d.deployment_id || ',' || d.state || ',' || d.finished_at || ',' ||
        coalesce(rel.first_commit_at, '') || ',' ||
        coalesce(rb.rollback_decided_at, rb.requested_at, '') || ',' ||
        coalesce(d.rollback_of, '') || ',' || coalesce(d.rollback_decided_at, d.requested_at),
        ';')
from deployment d join release rel on rel.release_id = d.release_id
left join deployment rb on rb.deployment_id = d.rolled_back_by
where d.state in ('succeeded', 'failed', 'rolled_back') and d.finished_at is not null
group by d.environment_id, d.finished_at / 86400000;

-- SQLite has no functions to call from a trigger: a trigger names a day to rebuild by
-- inserting it here, and the insert's own trigger rebuilds that day and empties the table.
create table alert_day_dirty (project_id integer not null, day integer not null);
create table deployment_day_dirty (environment_id integer not null, day integer not null);

create trigger alert_day_rebuild after insert on alert_day_dirty
begin
    insert into alert_day (project_id, day, pack)
    select new.project_id, new.day, (
        select coalesce(group_concat(a.risk_alert_id || ',' || (a.kind = 'risk') || ',' ||
            a.opened_at || ',' || coalesce(a.acknowledged_at, '') || ',' ||
            coalesce(case r.status when 'success' then 0 when 'failure' then 1 when 'error' then 1 end, ''),
            ';'), '')
        from risk_alert a left join ci_run r on r.ci_run_id = a.ci_run_id
        where a.project_id = new.project_id and a.opened_at >= new.day * 86400000
            and a.opened_at < (new.day + 1) * 86400000)
    -- (nothing to keep for a project being deleted)
    where exists (select 1 from project where project_id = new.project_id)
    on conflict (project_id, day) do update set pack = excluded.pack;
    delete from alert_day_dirty;
end;

create trigger deployment_day_rebuild after insert on deployment_day_dirty
begin
    insert into deployment_day (environment_id, day, pack)
    select new.environment_id, new.day, (
        select coalesce(group_concat(d.deployment_id || ',' || d.state || ',' ||
            d.finished_at || ',' || coalesce(rel.first_commit_at, '') || ',' ||
            coalesce(rb.rollback_decided_at, rb.requested_at, '') || ',' ||
            coalesce(d.rollback_of, '') || ',' || coalesce(d.rollback_decided_at, d.requested_at),
            ';'), '')
        from deployment d join release rel on rel.release_id = d.release_id
        left join deployment rb on rb.deployment_id = d.rolled_back_by
        where d.environment_id = new.environment_id and d.finished_at >= new.day * 86400000
            and d.finished_at < (new.day + 1) * 86400000
            and d.state in ('succeeded', 'failed', 'rolled_back'))
    where exists (select 1 from environment where environment_id = new.environment_id)
    on conflict (environment_id, day) do update set pack = excluded.pack;
    delete from deployment_day_dirty;
end;

create trigger alert_day_insert after insert on risk_alert
begin
    insert into alert_day_dirty values (new.project_id, new.opened_at / 86400000);
end;

create trigger alert_day_update after update of project_id, kind, ci_run_id, opened_at,
    acknowledged_at on risk_alert
begin
    insert into alert_day_dirty values (old.project_id, old.opened_at / 86400000);
    insert into alert_day_dirty select new.project_id, new.opened_at / 86400000
        where new.project_id <> old.project_id or new.opened_at / 86400000 <> old.opened_at / 86400000;
end;

create trigger alert_day_delete after delete on risk_alert
begin
    insert into alert_day_dirty values (old.project_id, old.opened_at / 86400000);
end;

-- A run that finishes (or changes its outcome) changes its alerts' entries.
create trigger alert_day_run_status after update of status on ci_run
when old.status is not new.status
begin
    insert into alert_day_dirty
    select distinct project_id, opened_at / 86400000 from risk_alert where ci_run_id = new.ci_run_id;
end;

create trigger deployment_day_insert after insert on deployment
when new.finished_at is not null
begin
    insert into deployment_day_dirty values (new.environment_id, new.finished_at / 86400000);
end;

create trigger deployment_day_update after update of environment_id, release_id, state, finished_at,
    rollback_of, rollback_decided_at, requested_at, rolled_back_by on deployment
begin
    insert into deployment_day_dirty select old.environment_id, old.finished_at / 86400000
        where old.finished_at is not null;
    insert into deployment_day_dirty select new.environment_id, new.finished_at / 86400000
        where new.finished_at is not null and (old.finished_at is null
            or new.environment_id <> old.environment_id
            or new.finished_at / 86400000 <> old.finished_at / 86400000);
    -- the deployments this one rolled back carry its decision time
    insert into deployment_day_dirty
    select distinct environment_id, finished_at / 86400000 from deployment
    where rolled_back_by = new.deployment_id and finished_at is not null
        and (old.rollback_decided_at is not new.rollback_decided_at
            or old.requested_at is not new.requested_at);
end;

create trigger deployment_day_delete after delete on deployment
when old.finished_at is not null
begin
    insert into deployment_day_dirty values (old.environment_id, old.finished_at / 86400000);
end;

create trigger deployment_day_release after update of first_commit_at on release
begin
    insert into deployment_day_dirty
    select distinct environment_id, finished_at / 86400000 from deployment
    where release_id = new.release_id and finished_at is not null;
end;
