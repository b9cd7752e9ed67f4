//! The overview. Delivery KPIs and DORA's four keys arrive with the KPI work; until then it
//! says so and shows who you are in the console.

use crate::components::layout::Me;
use crate::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn OverviewPage() -> impl IntoView {
    let me = use_context::<Me>();
    view! {
        <Title text="Overview"/>
        <header class="page-header">
            <h1>"Overview"</h1>
            <p class="muted">"Delivery KPIs and the DORA four keys, per project and environment."</p>
        </header>
        <div class="grid">
            <section class="panel">
                <h2>"You"</h2>
                <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
                    {move || me.map(|me| Suspend::new(async move {
                        match me.await {
                            Ok(Some(user)) => view! {
                                <p>"Signed in as " <strong>{user.display_name.clone()}</strong>
                                   " (" <code>{user.username.clone()}</code> ")."</p>
                                <p>"Your role, " <span class=format!("role-badge role-{}", user.role)>{user.role.to_string()}</span>
                                   ", " {user.role.describe()} "."</p>
                                <Show when=move || user.role == Role::Admin>
                                    <p><a href="/settings/users">"Manage users"</a> " · " <a href="/settings/audit">"Audit log"</a></p>
                                </Show>
                            }.into_any(),
                            _ => view! { <p>"Not signed in."</p> }.into_any(),
                        }
                    }))}
                </Transition>
            </section>
            <section class="panel not-built">
                <h2>"Delivery KPIs"</h2>
                <p class="tag">"Not built yet"</p>
                <p>"Failure detection, false alerts, alert response time, CI/CD uptime, rollback time against its SLA, MTTR, MTBF, test pass rate and coverage, and DORA's four keys will appear here once CI runs and deployments flow in."</p>
            </section>
        </div>
    }
}
