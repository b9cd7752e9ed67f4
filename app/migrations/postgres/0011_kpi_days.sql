-- The overview's alerts and deployments, one row per day (issue 6, speed). Each row holds the
-- day's items packed as text, in id order: ";"-separated entries of ","-separated fields, NULL
-- as empty. Triggers rebuild a day from its rows whenever one of them changes, at the writing
-- transaction's commit, so a day's pack always equals what the rows say (a test checks it). The
-- overview then reads about one row per day instead of one per alert and deployment.

-- Alerts by project and UTC day of opening. Entry: id, 1 for a risk alert (0 for drift),
-- opened_at, acknowledged_at, and whether the alerted run failed (1), passed (0) or has not
-- finished (empty).
create table alert_day (
    project_id bigint not null references project (project_id) on delete cascade,
    day bigint not null,
    pack text not null,
    primary key (project_id, day)
);

-- Finished deployments (succeeded, failed, rolled back) by environment and UTC day of
-- finishing. Entry: id, state, finished_at, the release's first commit, when it was rolled
-- back (the rollback's decision, else its request), the deployment it rolls back, and when
-- this deployment was decided (its rollback decision, else its request).
create table deployment_day (
    environment_id bigint not null references environment (environment_id) on delete cascade,
    day bigint not null,
    pack text not null,
    primary key (environment_id, day)
);

-- A pack is a few kilobytes of digits: stored out of line but uncompressed, since undoing the
-- default compression took more than half of the overview's reading time at 90 days.
alter table alert_day alter column pack set storage external;
alter table deployment_day alter column pack set storage external;

create index risk_alert_run_idx on risk_alert (ci_run_id);
create index deployment_rolled_back_by_idx on deployment (rolled_back_by);

create function alert_day_pack(p bigint, d bigint) returns text language sql stable as $$
    select coalesce(string_agg(a.risk_alert_id || ',' || case when a.kind = 'risk' then '1' else '0' end
            || ',' || a.opened_at || ',' || coalesce(a.acknowledged_at::text, '') || ',' ||
            coalesce(case r.status when 'success' then '0' when 'failure' then '1' when 'error' then '1' end, ''),
            ';' order by a.risk_alert_id), '')
    from risk_alert a left join ci_run r on r.ci_run_id = a.ci_run_id
    where a.project_id = p and a.opened_at >= d * 86400000 and a.opened_at < (d + 1) * 86400000
$$;

create function deployment_day_pack(e bigint, d bigint) returns text language sql stable as $$
    select coalesce(string_agg(dp.deployment_id || ',' || dp.state || ',' || dp.finished_at || ',' ||
            coalesce(rel.first_commit_at::text, '') || ',' ||
            coalesce(coalesce(rb.rollback_decided_at, rb.requested_at)::text, '') || ',' ||
            coalesce(dp.rollback_of::text, '') || ',' || coalesce(dp.rollback_decided_at, dp.requested_at),
            ';' order by dp.deployment_id), '')
    from deployment dp join release rel on rel.release_id = dp.release_id
    left join deployment rb on rb.deployment_id = dp.rolled_back_by
    where dp.environment_id = e and dp.finished_at >= d * 86400000 and dp.finished_at < (d + 1) * 86400000
        and dp.state in ('succeeded', 'failed', 'rolled_back')
$$;

insert into alert_day
select project_id, day, alert_day_pack(project_id, day)
from (select distinct project_id, opened_at / 86400000 as day from risk_alert) x;

insert into deployment_day
select environment_id, day, deployment_day_pack(environment_id, day)
from (select distinct environment_id, finished_at / 86400000 as day from deployment
      where finished_at is not null and state in ('succeeded', 'failed', 'rolled_back')) x;

-- Rebuilds one day. The day's row is locked first, and the pack is built by the next
-- statement, whose snapshot is taken after the lock: a transaction that changed the same day
-- and committed meanwhile is seen, so two writers cannot lose each other's change. The
-- triggers are deferred to commit, so a day's row is the last lock a transaction takes (taken
-- mid-transaction, it deadlocked with run ingestion, which locks `run_day` and `risk_model`).
create function alert_day_rebuild(p bigint, d bigint) returns void language plpgsql as $$
begin
    -- (nothing to keep for a project being deleted)
    insert into alert_day (project_id, day, pack)
    select p, d, '' where exists (select 1 from project where project_id = p)
    on conflict do nothing;
    perform 1 from alert_day where project_id = p and day = d for update;
    update alert_day set pack = alert_day_pack(p, d) where project_id = p and day = d;
end;
$$;

create function deployment_day_rebuild(e bigint, d bigint) returns void language plpgsql as $$
begin
    insert into deployment_day (environment_id, day, pack)
    select e, d, '' where exists (select 1 from environment where environment_id = e)
    on conflict do nothing;
    perform 1 from deployment_day where environment_id = e and day = d for update;
    update deployment_day set pack = deployment_day_pack(e, d) where environment_id = e and day = d;
end;
$$;

create function alert_day_trigger() returns trigger language plpgsql as $$
begin
    if tg_op = 'INSERT' then
        perform alert_day_rebuild(new.project_id, new.opened_at / 86400000);
        return null;
    end if;
    perform alert_day_rebuild(old.project_id, old.opened_at / 86400000);
    if tg_op = 'UPDATE' then
        if new.project_id <> old.project_id
            or new.opened_at / 86400000 <> old.opened_at / 86400000 then
            perform alert_day_rebuild(new.project_id, new.opened_at / 86400000);
        end if;
    end if;
    return null;
end;
$$;

create constraint trigger alert_day_insert after insert on risk_alert
deferrable initially deferred for each row execute function alert_day_trigger();
create constraint trigger alert_day_delete after delete on risk_alert
deferrable initially deferred for each row execute function alert_day_trigger();
create constraint trigger alert_day_update after update of project_id, kind, ci_run_id, opened_at,
    acknowledged_at on risk_alert
deferrable initially deferred for each row execute function alert_day_trigger();

-- A run that finishes (or changes its outcome) changes its alerts' entries.
create function alert_day_run_trigger() returns trigger language plpgsql as $$
begin
    perform alert_day_rebuild(x.project_id, x.day)
    from (select distinct project_id, opened_at / 86400000 as day from risk_alert
          where ci_run_id = new.ci_run_id) x
    order by x.project_id, x.day;
    return null;
end;
$$;

create constraint trigger alert_day_run_status after update of status on ci_run
deferrable initially deferred for each row when (old.status is distinct from new.status)
execute function alert_day_run_trigger();

create function deployment_day_trigger() returns trigger language plpgsql as $$
begin
    if tg_op <> 'INSERT' and old.finished_at is not null then
        perform deployment_day_rebuild(old.environment_id, old.finished_at / 86400000);
    end if;
    if tg_op = 'INSERT' then
        if new.finished_at is not null then
            perform deployment_day_rebuild(new.environment_id, new.finished_at / 86400000);
        end if;
    elsif tg_op = 'UPDATE' then
        if new.finished_at is not null and (old.finished_at is null
            or new.environment_id <> old.environment_id
            or new.finished_at / 86400000 <> old.finished_at / 86400000) then
            perform deployment_day_rebuild(new.environment_id, new.finished_at / 86400000);
        end if;
        -- the deployments this one rolled back carry its decision time
        if old.rollback_decided_at is distinct from new.rollback_decided_at
            or old.requested_at is distinct from new.requested_at then
            perform deployment_day_rebuild(x.environment_id, x.day)
            from (select distinct environment_id, finished_at / 86400000 as day from deployment
                  where rolled_back_by = new.deployment_id and finished_at is not null) x
            order by x.environment_id, x.day;
        end if;
    end if;
    return null;
end;
$$;

create constraint trigger deployment_day_insert after insert on deployment
deferrable initially deferred for each row execute function deployment_day_trigger();
create constraint trigger deployment_day_delete after delete on deployment
deferrable initially deferred for each row execute function deployment_day_trigger();
create constraint trigger deployment_day_update after update of environment_id, release_id, state,
    finished_at, rollback_of, rollback_decided_at, requested_at, rolled_back_by on deployment
deferrable initially deferred for each row execute function deployment_day_trigger();

create function deployment_day_release_trigger() returns trigger language plpgsql as $$
begin
    perform deployment_day_rebuild(x.environment_id, x.day)
    from (select distinct environment_id, finished_at / 86400000 as day from deployment
          where release_id = new.release_id and finished_at is not null) x
    order by x.environment_id, x.day;
    return null;
end;
$$;

create constraint trigger deployment_day_release after update of first_commit_at on release
deferrable initially deferred for each row when (old.first_commit_at is distinct from new.first_commit_at)
execute function deployment_day_release_trigger();
