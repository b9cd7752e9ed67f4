-- People, the audit log and login throttling. Times are epoch milliseconds UTC.
create table app_user (
    app_user_id integer primary key,
    username text not null,
    display_name text not null,
    role text not null check (role in ('viewer', 'reviewer', 'approver', 'admin')),
    password_hash text not null,
    disabled integer not null default 0,
    -- bumped whenever the password changes or the user is disabled: older sessions end
    credentials_version integer not null default 1,
    created_at integer not null,
    updated_at integer not null,
    last_login_at integer,
    constraint app_user_username_key unique (username)
);

create table audit_event (
    audit_event_id integer primary key,
    at integer not null,
    actor_user_id integer references app_user (app_user_id),
    actor text,
    action text not null,
    target text,
    detail text,
    ip text
);
create index audit_event_action_idx on audit_event (action, audit_event_id);
create index audit_event_actor_idx on audit_event (actor, audit_event_id);

-- The audit log is append-only.
create trigger audit_event_no_update before update on audit_event
begin
    select raise(abort, 'audit_event is append-only');
end;
create trigger audit_event_no_delete before delete on audit_event
begin
    select raise(abort, 'audit_event is append-only');
end;

create table login_failure (
    login_failure_id integer primary key,
    username text not null,
    ip text not null,
    at integer not null
);
create index login_failure_username_idx on login_failure (username, at);
create index login_failure_ip_idx on login_failure (ip, at);
