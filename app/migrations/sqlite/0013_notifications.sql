-- The notification hub (issue 7): channels, routing rules, and a durable outbox. A
-- notification is stored in the transaction of the change that raised it, with one delivery
-- per channel its rules route it to; a background job on any replica claims due deliveries
-- (Postgres: `for update skip locked`), sends them, and records the answer.

-- Where notifications go. `settings` (a JSON object) holds what may be shown; `secret` (a JSON
-- object: a Slack webhook URL, a Telegram bot token, an SMTP or MQTT password, a webhook's
-- HMAC key and Authorization header) is never shown again nor logged.
create table notify_channel (
    notify_channel_id integer primary key,
    name text not null,
    kind text not null check (kind in ('slack', 'telegram', 'email', 'mqtt', 'webhook')),
    settings text not null default '{}',
    secret text not null default '{}',
    enabled integer not null default 1,
    created_at integer not null,
    created_by text,
    updated_at integer not null,
    constraint notify_channel_name_key unique (name)
);

-- Events of these kinds (comma-separated, or '*'), at or above a severity, of one project (or
-- any) go to a channel. In quiet hours (minutes of the UTC day) all but critical ones wait for
-- the end; repeats of one kind and project within the group window go out as one message.
create table notify_rule (
    notify_rule_id integer primary key,
    notify_channel_id integer not null references notify_channel (notify_channel_id) on delete cascade,
    project_id integer references project (project_id) on delete cascade,
    events text not null default '*',
    min_severity text not null default 'warning' check (min_severity in ('info', 'warning', 'critical')),
    quiet_from integer check (quiet_from between 0 and 1439),
    quiet_to integer check (quiet_to between 0 and 1439),
    group_window_s integer not null default 0 check (group_window_s between 0 and 86400),
    enabled integer not null default 1,
    created_at integer not null,
    created_by text
);
create index notify_rule_channel_idx on notify_rule (notify_channel_id);

create table notification (
    notification_id integer primary key,
    project_id integer references project (project_id) on delete cascade,
    kind text not null,
    severity text not null check (severity in ('info', 'warning', 'critical')),
    title text not null,
    body text not null default '',
    -- a path of the console (`/deployments/12`)
    link text,
    created_at integer not null
);

-- One notification to one channel, delivered at most once. pending: waits for next_at;
-- sending: a replica holds it until lease_until (after that another may take it); grouped:
-- carried by the delivery grouped_into.
create table delivery (
    delivery_id integer primary key,
    notification_id integer not null references notification (notification_id) on delete cascade,
    notify_channel_id integer not null references notify_channel (notify_channel_id) on delete cascade,
    status text not null check (status in ('pending', 'sending', 'delivered', 'failed', 'grouped')),
    attempts integer not null default 0,
    -- attempts before the last "retry now" (waits grow again from there); attempts only grows,
    -- so a sender whose lease ran out cannot record over a later try
    retry_base integer not null default 0,
    next_at integer not null,
    -- tries stop here (a day after it was raised, or after a "retry now")
    give_up_at integer not null,
    lease_until integer,
    last_code integer,
    last_error text,
    delivered_at integer,
    group_key text,
    grouped_into integer references delivery (delivery_id) on delete set null,
    folded integer not null default 0,
    created_at integer not null,
    constraint delivery_once unique (notification_id, notify_channel_id)
);
create index delivery_due_idx on delivery (status, next_at);
create index delivery_group_idx on delivery (group_key, created_at);
create index delivery_log_idx on delivery (created_at);
