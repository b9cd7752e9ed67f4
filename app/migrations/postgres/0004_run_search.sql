-- Substring search over runs (workflow, branch, author, commit, external id) without scanning
-- them all: a trigram index on the same text the runs list searches (pg_trgm ships with
-- PostgreSQL and is a trusted extension: the database owner may create it).
create extension if not exists pg_trgm;

create index ci_run_search_idx on ci_run using gin ((lower(
    coalesce(workflow, '') || ' ' || coalesce(branch, '') || ' ' || coalesce(author, '')
    || ' ' || coalesce(commit_sha, '') || ' ' || external_id
)) gin_trgm_ops);
