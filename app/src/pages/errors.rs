//! The 404 page (403 and 500 come through [`ErrorPanel`](crate::components::feedback::ErrorPanel)).

use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(res) = use_context::<leptos_axum::ResponseOptions>() {
        res.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text="Not found"/>
        <section class="panel error-page">
            <p class="status-code">"404"</p>
            <h1>"Page not found"</h1>
            <p>"Nothing lives at this address. " <a href="/">"Go to the overview"</a>"."</p>
        </section>
    }
}
