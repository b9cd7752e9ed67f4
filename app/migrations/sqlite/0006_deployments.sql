-- Releases, deployments and what guards them: protection rules, quality gates, freeze windows
-- and checklists per environment; approvals, gate evaluations, transitions and health samples
-- per deployment; domain events for notifications. Times are epoch ms UTC; rates are fractions.

-- One row per environment (created with it): who approves, what else must hold.
create table environment_policy (
    environment_id integer primary key references environment (environment_id) on delete cascade,
    required_approvals integer not null default 0 check (required_approvals between 0 and 20),
    -- comma-separated roles and usernames; both empty means approvers and admins
    approver_roles text not null default '',
    approver_users text not null default '',
    allow_self_approval integer not null default 0,
    wait_timer_s integer not null default 0 check (wait_timer_s between 0 and 2592000),
    -- comma-separated globs of branches and tags allowed to deploy; empty allows any
    ref_pattern text not null default '',
    require_previous integer not null default 0,
    min_soak_s integer not null default 0 check (min_soak_s >= 0),
    monitoring_window_s integer not null default 3600 check (monitoring_window_s between 0 and 2592000),
    auto_rollback integer not null default 1,
    updated_at integer not null,
    updated_by text
);

create table quality_gate (
    quality_gate_id integer primary key,
    environment_id integer not null references environment (environment_id) on delete cascade,
    position integer not null,
    -- test_pass_rate, line_coverage, …, custom:<name>; the list is open
    metric text not null,
    higher_is_better integer not null,
    warn_threshold real not null,
    fail_threshold real not null,
    weight real not null default 1 check (weight > 0),
    key_gate integer not null default 0,
    constraint quality_gate_metric_key unique (environment_id, metric)
);

create table freeze_window (
    freeze_window_id integer primary key,
    environment_id integer not null references environment (environment_id) on delete cascade,
    kind text not null check (kind in ('once', 'weekly')),
    -- once: epoch ms; weekly: minutes since Monday 00:00 UTC (end < start wraps the week)
    starts_at integer not null,
    ends_at integer not null,
    reason text not null,
    created_by text,
    created_at integer not null
);
create index freeze_window_env_idx on freeze_window (environment_id);

create table checklist_item (
    checklist_item_id integer primary key,
    environment_id integer not null references environment (environment_id) on delete cascade,
    position integer not null,
    title text not null,
    -- removed items stay for the deployments that ticked them
    archived_at integer
);
create index checklist_item_env_idx on checklist_item (environment_id, position);

-- Named figures a pipeline attaches to a run, read by custom gates.
create table ci_run_metric (
    ci_run_id integer not null references ci_run (ci_run_id) on delete cascade,
    name text not null,
    value real not null,
    primary key (ci_run_id, name)
);

create table release (
    release_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    version text not null,
    commit_sha text not null,
    git_ref text,
    -- the run that built and tested it: test results, coverage and figures come from it
    ci_run_id integer references ci_run (ci_run_id) on delete set null,
    created_by text not null,
    created_at integer not null,
    constraint release_version_key unique (project_id, version)
);
create index release_commit_idx on release (project_id, commit_sha);

create table release_artifact (
    release_artifact_id integer primary key,
    release_id integer not null references release (release_id) on delete cascade,
    kind text not null,
    name text not null,
    url text not null
);
create index release_artifact_release_idx on release_artifact (release_id);

create table deployment (
    deployment_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    environment_id integer not null references environment (environment_id) on delete cascade,
    release_id integer not null references release (release_id) on delete cascade,
    state text not null check (state in ('requested', 'evaluating', 'awaiting_approval', 'waiting',
        'in_progress', 'succeeded', 'failed', 'cancelled', 'rejected', 'rolled_back')),
    strategy text not null check (strategy in ('rolling', 'blue_green', 'canary')),
    -- JSON array of {traffic, pause_s} for canaries
    canary_steps text,
    canary_step integer,
    step_since integer,
    traffic real not null default 0 check (traffic >= 0 and traffic <= 1),
    -- why it is held (gates, approvals, timer, freeze), in words; null when not held
    hold text,
    requested_by text not null,
    requested_by_user_id integer references app_user (app_user_id),
    requested_at integer not null,
    -- the caller's key for retries: the same key returns the same deployment
    request_key text,
    waiting_since integer,
    started_at integer,
    finished_at integer,
    -- a rollback names the deployment it replaces, and when someone decided to roll back
    rollback_of integer references deployment (deployment_id),
    rollback_decided_at integer,
    rolled_back_by integer references deployment (deployment_id),
    monitor_until integer,
    failure_reason text,
    github_deployment_id integer,
    updated_at integer not null,
    constraint deployment_request_key unique (project_id, request_key)
);
create index deployment_env_idx on deployment (environment_id, deployment_id);
create index deployment_state_idx on deployment (state, deployment_id);
create index deployment_release_idx on deployment (release_id);
create index deployment_project_idx on deployment (project_id, deployment_id);
create unique index deployment_github_idx on deployment (project_id, github_deployment_id);

create table deployment_transition (
    deployment_transition_id integer primary key,
    deployment_id integer not null references deployment (deployment_id) on delete cascade,
    from_state text,
    to_state text not null,
    actor text not null,
    reason text not null,
    at integer not null
);
create index deployment_transition_idx on deployment_transition (deployment_id, deployment_transition_id);

create table approval (
    approval_id integer primary key,
    deployment_id integer not null references deployment (deployment_id) on delete cascade,
    app_user_id integer not null references app_user (app_user_id),
    approve integer not null,
    comment text,
    at integer not null,
    constraint approval_once_key unique (deployment_id, app_user_id)
);

create table gate_evaluation (
    gate_evaluation_id integer primary key,
    deployment_id integer not null references deployment (deployment_id) on delete cascade,
    at integer not null,
    score real not null,
    result text not null check (result in ('pass', 'warn', 'fail')),
    ci_run_id integer references ci_run (ci_run_id) on delete set null,
    summary text not null,
    -- every gate with its measured value and band, as JSON (the record of why)
    gates text not null
);
create index gate_evaluation_idx on gate_evaluation (deployment_id, gate_evaluation_id);

create table gate_override (
    gate_override_id integer primary key,
    deployment_id integer not null references deployment (deployment_id) on delete cascade,
    gate_evaluation_id integer not null references gate_evaluation (gate_evaluation_id),
    app_user_id integer references app_user (app_user_id),
    by_name text not null,
    reason text not null,
    at integer not null
);
create index gate_override_idx on gate_override (deployment_id);

create table checklist_tick (
    deployment_id integer not null references deployment (deployment_id) on delete cascade,
    checklist_item_id integer not null references checklist_item (checklist_item_id) on delete cascade,
    ticked_by text not null,
    ticked_at integer not null,
    primary key (deployment_id, checklist_item_id)
);

create table health_sample (
    health_sample_id integer primary key,
    deployment_id integer not null references deployment (deployment_id) on delete cascade,
    at integer not null,
    error_rate real check (error_rate is null or (error_rate >= 0 and error_rate <= 1)),
    p95_ms real check (p95_ms is null or p95_ms >= 0),
    availability real check (availability is null or (availability >= 0 and availability <= 1)),
    smoke_pass_rate real check (smoke_pass_rate is null or (smoke_pass_rate >= 0 and smoke_pass_rate <= 1)),
    healthy integer,
    -- a retried post with the same key is stored once
    sample_key text,
    constraint health_sample_key unique (deployment_id, sample_key)
);
create index health_sample_idx on health_sample (deployment_id, at);

-- Things that happened, for notifications (a later area delivers them from here).
create table domain_event (
    domain_event_id integer primary key,
    project_id integer references project (project_id) on delete cascade,
    kind text not null,
    severity text not null check (severity in ('info', 'warning', 'critical')),
    subject text not null,
    detail text,
    at integer not null
);
create index domain_event_idx on domain_event (project_id, domain_event_id);

-- Environments that exist already keep working as before: no approvals, no gates.
insert into environment_policy (environment_id, updated_at)
select environment_id, created_at from environment;
