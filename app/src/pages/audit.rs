//! The audit log browser (admins only). Filters live in the URL so a view can be shared.

use crate::api::audit::list_audit;
use crate::components::feedback::ErrorPanel;
use crate::logic::time::format_utc;
use crate::logic::url::encode_query_value;
use crate::model::AuditFilter;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn AuditPage() -> impl IntoView {
    let query = use_query_map();
    let filter = move || {
        let q = query.read();
        AuditFilter {
            actor: q.get("actor").filter(|s| !s.is_empty()),
            action: q.get("action").filter(|s| !s.is_empty()),
            before_id: q.get("before").and_then(|b| b.parse().ok()),
            limit: Some(50),
        }
    };
    let page = Resource::new(filter, list_audit);
    view! {
        <Title text="Audit log"/>
        <header class="page-header">
            <h1>"Audit log"</h1>
            <p class="muted">"Append-only: entries can be read, never changed."</p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                let f = filter();
                match page.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(page) => {
                        let next = page.next_before_id.map(|id| {
                            let mut q = vec![format!("before={id}")];
                            if let Some(a) = &f.actor { q.push(format!("actor={}", encode_query_value(a))); }
                            if let Some(a) = &f.action { q.push(format!("action={}", encode_query_value(a))); }
                            format!("/settings/audit?{}", q.join("&"))
                        });
                        let selected = f.action.clone().unwrap_or_default();
                        view! {
                            <form method="get" action="/settings/audit" class="filters panel">
                                <label for="actor">"Who"</label>
                                <input id="actor" name="actor" value=f.actor.clone().unwrap_or_default() placeholder="any user"/>
                                <label for="action">"Action"</label>
                                <select id="action" name="action">
                                    <option value="">"any action"</option>
                                    {page.actions.iter().map(|a| view! {
                                        <option value=a.clone() selected=*a == selected>{a.clone()}</option>
                                    }).collect_view()}
                                </select>
                                <button type="submit">"Filter"</button>
                                <a href="/settings/audit">"Clear"</a>
                            </form>
                            <section class="panel table-panel">
                                <table class="data" id="audit-table">
                                    <thead><tr>
                                        <th scope="col">"When"</th>
                                        <th scope="col">"Who"</th>
                                        <th scope="col">"Action"</th>
                                        <th scope="col">"On"</th>
                                        <th scope="col">"Detail"</th>
                                        <th scope="col">"From"</th>
                                    </tr></thead>
                                    <tbody>
                                        {page.events.is_empty().then(|| view! {
                                            <tr><td colspan="6" class="muted">"No events match."</td></tr>
                                        })}
                                        {page.events.into_iter().map(|e| view! {
                                            <tr>
                                                <td class="nowrap">{format_utc(e.at)}</td>
                                                <td>{match (e.actor, &e.ip) {
                                                    (Some(a), _) => a,
                                                    (None, Some(_)) => "anonymous".into(),
                                                    (None, None) => "system".into(),
                                                }}</td>
                                                <td><code>{e.action}</code></td>
                                                <td>{e.target.unwrap_or_default()}</td>
                                                <td>{e.detail.unwrap_or_default()}</td>
                                                <td>{e.ip.unwrap_or_default()}</td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                            </section>
                            {next.map(|href| view! { <p><a href=href>"Older entries →"</a></p> })}
                        }.into_any()
                    }
                }
            })}
        </Suspense>
    }
}
