-- Feature flags (issue 7): flags per project, set per environment (on/off, a rollout fraction,
-- an optional ramp that raises it over time, allow and deny lists of keys). Applications read
-- them through GET /api/v1/projects/{project}/flags/{environment}.

create table feature_flag (
    feature_flag_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    -- the name applications ask for: lowercase letters, digits, '-', '_' and '.'
    key text not null,
    description text not null default '',
    created_at integer not null,
    created_by text,
    constraint feature_flag_key unique (project_id, key)
);

-- A flag in one environment; no row means off at 0.
create table flag_setting (
    feature_flag_id integer not null references feature_flag (feature_flag_id) on delete cascade,
    environment_id integer not null references environment (environment_id) on delete cascade,
    enabled integer not null default 0,
    -- the share of keys that get the flag, 0..1 (ignored while a ramp is set)
    rollout real not null default 0 check (rollout >= 0 and rollout <= 1),
    -- a ramp from ramp_from at ramp_start to ramp_to at ramp_end: 'linear', or 'steps' in
    -- ramp_steps equal steps; null: no ramp
    ramp text check (ramp in ('linear', 'steps')),
    ramp_steps integer check (ramp_steps is null or ramp_steps between 1 and 100),
    ramp_from real check (ramp_from is null or (ramp_from >= 0 and ramp_from <= 1)),
    ramp_to real check (ramp_to is null or (ramp_to >= 0 and ramp_to <= 1)),
    ramp_start integer,
    ramp_end integer,
    -- keys, one per line
    allow_keys text not null default '',
    deny_keys text not null default '',
    updated_at integer not null,
    updated_by text,
    primary key (feature_flag_id, environment_id),
    check (ramp is null or (ramp_from is not null and ramp_to is not null
        and ramp_start is not null and ramp_end is not null and ramp_end > ramp_start))
);
create index flag_setting_environment_idx on flag_setting (environment_id);

-- Taken by every change to a project's flags, so each server replica's cache can tell in one
-- read whether what it holds is current.
create table flag_revision (
    project_id integer primary key references project (project_id) on delete cascade,
    revision integer not null
);

-- A flag's page shows its history from the audit log.
create index audit_event_target_idx on audit_event (target, audit_event_id);
