-- Rollout plans (issue 6): phased roadmaps with deliverables, go-live checklists and success
-- criteria that may be linked to a KPI or a quality gate and are judged live when read.

create table rollout_plan (
    rollout_plan_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    -- where the plan's KPI criteria are measured (null: the project's last environment)
    environment_id integer references environment (environment_id) on delete set null,
    title text not null,
    -- the template it was created from ('roadmap'), or null
    template text,
    -- the caller's key for retries: the same key returns the same plan
    plan_key text,
    created_by text not null,
    created_at integer not null,
    updated_at integer not null,
    constraint rollout_plan_key unique (project_id, plan_key)
);
create index rollout_plan_project_idx on rollout_plan (project_id, created_at);

create table plan_phase (
    plan_phase_id integer primary key,
    rollout_plan_id integer not null references rollout_plan (rollout_plan_id) on delete cascade,
    position integer not null,
    title text not null,
    objective text not null default '',
    -- UTC day numbers (days since 1970-01-01); the due day is included
    starts_on integer,
    due_on integer,
    status text not null default 'not_started'
        check (status in ('not_started', 'in_progress', 'done', 'blocked')),
    status_note text not null default '',
    status_at integer,
    status_by text,
    check (due_on is null or starts_on is null or due_on >= starts_on)
);
create index plan_phase_plan_idx on plan_phase (rollout_plan_id, position);

-- deliverables and go-live checklist items: a phase is done only when its checklist is
create table plan_item (
    plan_item_id integer primary key,
    plan_phase_id integer not null references plan_phase (plan_phase_id) on delete cascade,
    kind text not null check (kind in ('deliverable', 'checklist')),
    position integer not null,
    title text not null,
    owner text not null default '',
    done_at integer,
    done_by text
);
create index plan_item_phase_idx on plan_item (plan_phase_id, position);

-- a success criterion: linked to a KPI (kpi, comparator, threshold in the KPI's unit), to a
-- quality gate of an environment (gate_metric null: the whole evaluation), or confirmed by a
-- person (met_at)
create table plan_criterion (
    plan_criterion_id integer primary key,
    plan_phase_id integer not null references plan_phase (plan_phase_id) on delete cascade,
    position integer not null,
    title text not null,
    link text not null default 'manual' check (link in ('manual', 'kpi', 'gate')),
    kpi text,
    comparator text check (comparator is null or comparator in ('lt', 'le', 'gt', 'ge')),
    threshold real,
    gate_environment_id integer references environment (environment_id) on delete set null,
    gate_metric text,
    met_at integer,
    met_by text,
    check ((link = 'kpi') = (kpi is not null) and (kpi is null) = (comparator is null)
           and (kpi is null) = (threshold is null))
);
create index plan_criterion_phase_idx on plan_criterion (plan_phase_id, position);
