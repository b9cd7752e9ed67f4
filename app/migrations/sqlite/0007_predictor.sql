-- The CI failure-risk predictor: each project's model versions, the features every run had
-- when it started, the score each model gave it, and the alerts people acknowledge.
-- Times are epoch ms UTC; scores, thresholds and rates are fractions in [0, 1].

-- What the CI system says about the size of the change (optional; a feature when present).
alter table ci_run add column change_lines integer;
alter table ci_run add column change_files integer;
create index ci_run_author_idx on ci_run (project_id, author, ci_run_id);

create table risk_model (
    risk_model_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    version integer not null,
    kind text not null check (kind in ('rules', 'learned')),
    -- shadow: scores stored, no alerts; active: alerts (one per project); retired
    state text not null check (state in ('shadow', 'active', 'retired')),
    -- JSON: logic::predictor::ModelParams (rules, or coefficients and calibrator)
    params text not null,
    threshold real not null check (threshold >= 0 and threshold <= 1),
    -- runs a version scores before it may alert or be promoted
    calibration_runs integer not null default 14 check (calibration_runs >= 0),
    -- learned: the runs it trained on, and its held-out metrics (JSON)
    train_from integer,
    train_to integer,
    metrics text,
    note text not null default '',
    created_by text not null,
    created_at integer not null,
    promoted_at integer,
    retired_at integer,
    constraint risk_model_version_key unique (project_id, version)
);
create index risk_model_project_idx on risk_model (project_id, state);

-- The features a run had when it started (JSON object name → value; unknown ones absent).
create table run_features (
    ci_run_id integer primary key references ci_run (ci_run_id) on delete cascade,
    features text not null,
    computed_at integer not null
);

create table risk_prediction (
    risk_model_id integer not null references risk_model (risk_model_id) on delete cascade,
    ci_run_id integer not null references ci_run (ci_run_id) on delete cascade,
    score real not null check (score >= 0 and score <= 1),
    scored_at integer not null,
    primary key (risk_model_id, ci_run_id)
);
create index risk_prediction_run_idx on risk_prediction (ci_run_id);

create table risk_alert (
    risk_alert_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    -- risk: a run scored at or above the threshold; drift: a feature or the failure rate moved
    kind text not null check (kind in ('risk', 'drift')),
    ci_run_id integer references ci_run (ci_run_id) on delete cascade,
    risk_model_id integer references risk_model (risk_model_id) on delete cascade,
    -- what raised it, so a repeat is recognised: the run, or the drift check and its week
    dedup_key text not null,
    score real,
    threshold real,
    message text not null,
    opened_at integer not null,
    acknowledged_at integer,
    acknowledged_by text,
    constraint risk_alert_dedup_key unique (project_id, dedup_key)
);
create index risk_alert_open_idx on risk_alert (project_id, acknowledged_at, risk_alert_id);

-- When each project was last retrained (by the schedule or on demand), so replicas claim a
-- due retraining once.
create table predictor_schedule (
    project_id integer primary key references project (project_id) on delete cascade,
    last_attempt_at integer not null,
    last_result text not null
);
