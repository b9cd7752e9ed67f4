-- GitHub webhook deliveries (deduplicated by X-GitHub-Delivery) and the commits pushes bring.
create table webhook_delivery (
    webhook_delivery_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    delivery_id text not null,
    event text not null,
    action text,
    received_at integer not null,
    -- what Gatehouse did with it, in words
    outcome text not null,
    -- the payload, kept for deployment events (read by the deployments area)
    payload text,
    constraint webhook_delivery_key unique (project_id, delivery_id)
);
create index webhook_delivery_event_idx on webhook_delivery (project_id, event, webhook_delivery_id);

create table git_commit (
    git_commit_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    sha text not null,
    message text not null,
    author text,
    committed_at integer,
    branch text,
    url text,
    constraint git_commit_key unique (project_id, sha)
);
create index git_commit_time_idx on git_commit (project_id, committed_at);
