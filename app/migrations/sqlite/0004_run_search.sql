-- Substring search over runs (workflow, branch, author, commit, external id) without scanning
-- them all: a trigram full-text index (case-insensitive), kept by triggers. The runs list
-- uses it for search terms of three characters or more.
create virtual table ci_run_search using fts5 (
    doc,
    tokenize = 'trigram',
    content = '',
    contentless_delete = 1
);

insert into ci_run_search (rowid, doc)
select ci_run_id, coalesce(workflow, '') || ' ' || coalesce(branch, '') || ' ' || coalesce(author, '')
    || ' ' || coalesce(commit_sha, '') || ' ' || external_id
from ci_run;

create trigger ci_run_search_insert after insert on ci_run begin
    insert into ci_run_search (rowid, doc) values (new.ci_run_id,
        coalesce(new.workflow, '') || ' ' || coalesce(new.branch, '') || ' ' || coalesce(new.author, '')
        || ' ' || coalesce(new.commit_sha, '') || ' ' || new.external_id);
end;

create trigger ci_run_search_update after update of workflow, branch, author, commit_sha, external_id
on ci_run begin
    delete from ci_run_search where rowid = old.ci_run_id;
    insert into ci_run_search (rowid, doc) values (new.ci_run_id,
        coalesce(new.workflow, '') || ' ' || coalesce(new.branch, '') || ' ' || coalesce(new.author, '')
        || ' ' || coalesce(new.commit_sha, '') || ' ' || new.external_id);
end;

create trigger ci_run_search_delete after delete on ci_run begin
    delete from ci_run_search where rowid = old.ci_run_id;
end;
