-- Search terms of one or two characters are run numbers (the CI system's external id).
create index ci_run_external_idx on ci_run (external_id);
