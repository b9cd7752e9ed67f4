//! How pages show errors, empty states and success.

use crate::AppError;
use leptos::prelude::*;

/// An error from a server function, worded for the person looking at the page.
#[component]
pub fn ErrorPanel(error: AppError) -> impl IntoView {
    match error {
        AppError::Unauthorized => view! {
            <section class="panel error-page" role="alert">
                <h1>"Signed out"</h1>
                <p>"Your session has ended. " <a href="/login">"Sign in again"</a> " to continue."</p>
            </section>
        }
        .into_any(),
        AppError::Forbidden(msg) => view! {
            <section class="panel error-page" role="alert">
                <p class="status-code">"403"</p>
                <h1>"Not allowed"</h1>
                <p>"Your role cannot open this page: " {msg} "."</p>
                <p><a href="/">"Back to the overview"</a></p>
            </section>
        }
        .into_any(),
        other => view! {
            <section class="panel error-page" role="alert">
                <h1>"Something went wrong"</h1>
                <p>{other.to_string()}</p>
            </section>
        }
        .into_any(),
    }
}

/// A one-line result of an action: an error in red, or a success message.
#[component]
pub fn ActionResult<T: Clone + Send + Sync + 'static>(
    #[prop(into)] value: Signal<Option<Result<T, AppError>>>,
    #[prop(into)] success: Signal<String>,
) -> impl IntoView {
    move || match value.get() {
        None => ().into_any(),
        Some(Ok(_)) => {
            view! { <p class="alert success" role="status">{success.get()}</p> }.into_any()
        }
        Some(Err(e)) => {
            view! { <p class="alert error" role="alert">{e.to_string()}</p> }.into_any()
        }
    }
}

/// Data an island got with its props from the server render, fetched again in the browser
/// whenever `trigger` changes (e.g. the versions of the island's actions). Islands take their
/// data as props instead of awaiting resources, so what they hydrate is exactly what the
/// server rendered.
pub fn refreshed<T, Fut>(
    initial: T,
    trigger: impl Fn() + Send + Sync + 'static,
    fetch: impl Fn() -> Fut + Send + Sync + 'static,
) -> ReadSignal<T>
where
    T: Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<T, AppError>> + 'static,
{
    let data = RwSignal::new(initial);
    Effect::new(move |ran: Option<()>| {
        trigger();
        // Not on hydration: the props are fresh then.
        if ran.is_some() {
            let next = fetch();
            leptos::task::spawn_local(async move {
                if let Ok(value) = next.await {
                    data.set(value);
                }
            });
        }
    });
    data.read_only()
}
