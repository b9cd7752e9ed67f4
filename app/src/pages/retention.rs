//! Retention (`/settings/retention`, admins): how long each kind of data is kept, what the
//! last purge removed, and a button to purge now.

use crate::api::retention::{retention_page, PurgeNow, SaveRetention};
use crate::components::feedback::ErrorPanel;
use crate::logic::time::{format_utc, humanize_ms};
use crate::model::{RetentionPageData, RetentionPolicy, MAX_RETENTION_DAYS};
use crate::pages::deployment::{action_error, reload_on_success};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn RetentionPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| retention_page());
    view! {
        <Title text="Retention"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading retention…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <RetentionView data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

fn days_text(days: Option<i64>) -> String {
    match days {
        None => "forever".into(),
        Some(1) => "1 day".into(),
        Some(d) => format!("{d} days"),
    }
}

fn last_purge(p: &RetentionPolicy, now: i64) -> String {
    match p.last_purge_at {
        None => "not purged yet".into(),
        Some(at) => format!(
            "{} removed {} ago ({} in all)",
            p.last_purged,
            humanize_ms(now - at),
            p.total_purged
        ),
    }
}

#[component]
fn RetentionView(data: RetentionPageData) -> impl IntoView {
    let now = data.now;
    let job = match &data.last_job {
        None => "The purge job has not run yet: it runs an hour after the server starts, then hourly, on one replica at a time.".to_string(),
        Some((holder, at)) => format!(
            "The purge job last started {} ago ({}) on {holder}; it runs hourly on one replica at a time.",
            humanize_ms(now - at),
            format_utc(*at)
        ),
    };
    let rows = data
        .policies
        .iter()
        .map(|p| {
            let kind = p.kind;
            let default = days_text(kind.default_days());
            view! {
                <tr id=format!("retention-{}", kind.key())>
                    <th scope="row">{kind.label()}<br/><span class="muted small">{kind.what()}</span></th>
                    <td class="num">{days_text(p.days)}</td>
                    <td class="num muted">{default}</td>
                    <td class="small">{last_purge(p, now)}</td>
                </tr>
            }
        })
        .collect_view();
    let form_rows: Vec<(String, String, String)> = data
        .policies
        .iter()
        .map(|p| {
            (
                p.kind.key().to_string(),
                p.kind.label().to_string(),
                p.days.map(|d| d.to_string()).unwrap_or_default(),
            )
        })
        .collect();
    view! {
        <header class="page-header">
            <h1>"Retention"</h1>
            <p class="muted">"How long each kind of data is kept. Deployment history is never purged: DORA figures, rollback targets and approvals read it. Daily KPI roll-ups keep the figures of purged runs and health samples."</p>
        </header>
        <section class="panel">
            <table class="table" id="retention-table">
                <thead><tr><th>"Data"</th><th class="num">"Kept"</th><th class="num">"Default"</th><th>"Last purge"</th></tr></thead>
                <tbody>{rows}</tbody>
            </table>
            <p class="muted small" id="purge-job">{job}</p>
        </section>
        <section class="panel">
            <h2>"Change retention"</h2>
            <RetentionForm rows=form_rows/>
        </section>
    }
}

#[island]
fn RetentionForm(rows: Vec<(String, String, String)>) -> impl IntoView {
    let save = ServerAction::<SaveRetention>::new();
    reload_on_success(save.value().into());
    let purge = ServerAction::<PurgeNow>::new();
    reload_on_success(purge.value().into());
    let max = MAX_RETENTION_DAYS.to_string();
    let inputs = rows
        .into_iter()
        .map(|(key, label, value)| {
            let id = format!("days-{key}");
            let for_id = id.clone();
            view! {
                <label for=for_id>{label}</label>
                <input id=id name=format!("days[{key}]") type="number" min="1" max=max.clone()
                    value=value placeholder="forever"/>
            }
        })
        .collect_view();
    view! {
        {action_error(save.value().into())}
        <ActionForm action=save attr:class="stack" attr:id="retention-form">
            <p class="muted small">"Days to keep; leave a box empty to keep that kind forever."</p>
            {inputs}
            <button type="submit" class="primary" id="retention-save">"Save retention"</button>
        </ActionForm>
        {action_error(purge.value().into())}
        <ActionForm action=purge attr:class="inline">
            <button type="submit" id="purge-now">"Purge now"</button>
        </ActionForm>
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::RetentionKind;

    #[test]
    fn days_read_as_words() {
        assert_eq!(days_text(None), "forever");
        assert_eq!(days_text(Some(1)), "1 day");
        assert_eq!(days_text(RetentionKind::Runs.default_days()), "90 days");
    }
}
