-- Projects, their API tokens, and the CI runs they send: jobs, test reports and cases,
-- coverage. Times are epoch milliseconds UTC; rates and error rates are fractions in [0, 1].
create table project (
    project_id integer primary key,
    slug text not null,
    name text not null,
    default_branch text not null default 'main',
    -- e.g. https://github.com/acme/shop: commit links are built from it
    repository_url text,
    -- GitHub webhook secret: kept in clear because verifying an HMAC needs it; never shown
    webhook_secret text,
    created_at integer not null,
    updated_at integer not null,
    constraint project_slug_key unique (slug)
);

-- Deployment environments in promotion order (dev → staging → production by default).
create table environment (
    environment_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    name text not null,
    position integer not null,
    created_at integer not null,
    constraint environment_name_key unique (project_id, name)
);

-- Tokens for CI systems. Only a SHA-256 of the secret is stored: the secret is 256 random
-- bits, so a fast hash is safe and keeps every API call cheap.
create table api_token (
    api_token_id integer primary key,
    project_id integer not null references project (project_id) on delete cascade,
    name text not null,
    token_hash text not null,
    -- the first characters of the secret, to recognise a token in lists and logs
    prefix text not null,
    -- comma-separated, from: ingest, deploy, read
    scopes text not null,
    created_by integer references app_user (app_user_id),
    created_at integer not null,
    last_used_at integer,
    revoked_at integer,
    constraint api_token_hash_key unique (token_hash)
);
create index api_token_project_idx on api_token (project_id, api_token_id);

create table ci_run (
    ci_run_id integer primary key,
    project_id integer not null references project (project_id),
    provider text not null check (provider in ('github', 'gitlab', 'jenkins', 'generic')),
    external_id text not null,
    attempt integer not null default 1,
    workflow text not null default '',
    commit_sha text,
    branch text,
    author text,
    trigger text,
    url text,
    status text not null check (status in ('queued', 'running', 'success', 'failure', 'cancelled', 'error')),
    started_at integer,
    finished_at integer,
    -- totals over the run's test reports (one count per test case)
    tests integer not null default 0,
    passed integer not null default 0,
    failed integer not null default 0,
    errors integer not null default 0,
    skipped integer not null default 0,
    flaky integer not null default 0,
    test_time_s real not null default 0,
    -- coverage over the run's coverage reports
    line_rate real,
    branch_rate real,
    lines_covered integer,
    lines_valid integer,
    branches_covered integer,
    branches_valid integer,
    -- performance figures measured by the pipeline
    p50_ms real,
    p95_ms real,
    p99_ms real,
    error_rate real check (error_rate is null or (error_rate >= 0 and error_rate <= 1)),
    throughput_rps real,
    -- security findings by severity
    vuln_critical integer,
    vuln_high integer,
    vuln_medium integer,
    vuln_low integer,
    created_at integer not null,
    updated_at integer not null,
    constraint ci_run_external_key unique (project_id, provider, external_id, attempt)
);
create index ci_run_project_idx on ci_run (project_id, ci_run_id);
create index ci_run_branch_idx on ci_run (project_id, branch, ci_run_id);
create index ci_run_status_idx on ci_run (status, ci_run_id);
create index ci_run_commit_idx on ci_run (project_id, commit_sha);

create table ci_job (
    ci_job_id integer primary key,
    ci_run_id integer not null references ci_run (ci_run_id) on delete cascade,
    position integer not null,
    name text not null,
    status text not null,
    started_at integer,
    finished_at integer,
    constraint ci_job_name_key unique (ci_run_id, name)
);

-- One uploaded JUnit file; the digest makes a retried upload a no-op.
create table test_report (
    test_report_id integer primary key,
    ci_run_id integer not null references ci_run (ci_run_id) on delete cascade,
    digest text not null,
    tests integer not null,
    passed integer not null,
    failed integer not null,
    errors integer not null,
    skipped integer not null,
    flaky integer not null,
    time_s real not null,
    received_at integer not null,
    constraint test_report_digest_key unique (ci_run_id, digest)
);

-- A test as it lives across runs: identified within a project by a 64-bit key derived from
-- its class (or suite) and name.
create table test (
    test_id integer primary key,
    project_id integer not null references project (project_id),
    test_key integer not null,
    suite text not null,
    classname text not null,
    name text not null,
    file text,
    quarantined_at integer,
    quarantined_by text,
    quarantine_reason text,
    constraint test_key_key unique (project_id, test_key)
);

-- One <testcase> of a run. Status codes: 0 passed, 1 skipped, 2 failed, 3 error.
create table test_case (
    test_case_id integer primary key,
    ci_run_id integer not null references ci_run (ci_run_id) on delete cascade,
    test_report_id integer not null references test_report (test_report_id) on delete cascade,
    test_id integer not null references test (test_id),
    status smallint not null,
    retried integer not null,
    duration_s real,
    message text
);
create index test_case_run_idx on test_case (ci_run_id, status);
create index test_case_test_idx on test_case (test_id, ci_run_id);

create table coverage_report (
    coverage_report_id integer primary key,
    ci_run_id integer not null references ci_run (ci_run_id) on delete cascade,
    digest text not null,
    format text not null check (format in ('cobertura', 'lcov')),
    line_rate real,
    branch_rate real,
    lines_covered integer not null,
    lines_valid integer not null,
    branches_covered integer not null,
    branches_valid integer not null,
    received_at integer not null,
    constraint coverage_report_digest_key unique (ci_run_id, digest)
);

create table coverage_file (
    coverage_file_id integer primary key,
    coverage_report_id integer not null references coverage_report (coverage_report_id) on delete cascade,
    path text not null,
    lines_covered integer not null,
    lines_valid integer not null,
    branches_covered integer not null,
    branches_valid integer not null
);
create index coverage_file_report_idx on coverage_file (coverage_report_id);
