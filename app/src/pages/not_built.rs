//! Areas of the console that are planned but not built yet say so plainly.

use leptos::prelude::*;
use leptos_meta::Title;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Area {
    Runs,
}

impl Area {
    fn title(self) -> &'static str {
        match self {
            Area::Runs => "Runs",
        }
    }

    fn plan(self) -> &'static str {
        match self {
            Area::Runs => "CI runs pushed by GitHub, GitLab, Jenkins or any CI through the REST API, with their JUnit test reports, coverage, durations and flaky tests.",
        }
    }
}

#[component]
pub fn NotBuilt(area: Area) -> impl IntoView {
    view! {
        <Title text=area.title()/>
        <header class="page-header"><h1>{area.title()}</h1></header>
        <section class="panel not-built">
            <p class="tag">"Not built yet"</p>
            <p>{area.plan()}</p>
            <p class="muted">"This area is on the roadmap and has no data yet; nothing on this page is simulated."</p>
        </section>
    }
}
