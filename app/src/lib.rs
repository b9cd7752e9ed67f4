//! Gatehouse's web console: pages, components, server functions and the types shared by the
//! browser and the server. With the `ssr` feature it also holds the store and auth code.

#![recursion_limit = "256"]

pub mod api;
pub mod components;
pub mod error;
pub mod logic;
pub mod model;
pub mod pages;

#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

pub use error::AppError;

use components::layout::{Frame, Layout};
use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, Meta, MetaTags, Title};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{path, SsrMode};
use pages::*;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    let theme = components::theme::theme_from_request();
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <link id="leptos" rel="stylesheet" href=stylesheet_href(&options)/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The stylesheet's URL, with the content hash cargo-leptos wrote to `hash.txt` beside the
/// binary. Read once: `leptos_meta::HashedStylesheet` reads the file on every page, which cost
/// 7% of the sign-in page's CPU.
fn stylesheet_href(options: &LeptosOptions) -> &'static str {
    static HREF: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HREF.get_or_init(|| {
        let name = &options.output_name;
        let pkg = &options.site_pkg_dir;
        let hash = options
            .hash_files
            .then(|| {
                let exe = std::env::current_exe().ok()?;
                let text =
                    std::fs::read_to_string(exe.parent()?.join(options.hash_file.as_ref())).ok()?;
                text.lines()
                    .find_map(|l| l.trim().strip_prefix("css:").map(|h| h.trim().to_string()))
            })
            .flatten();
        match hash {
            Some(h) => format!("/{pkg}/{name}.{h}.css"),
            None => format!("/{pkg}/{name}.css"),
        }
    })
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    // Effects run only in the browser: mark the page as hydrated (tests and CSS can tell).
    Effect::new(|_| {
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Gatehouse: where teams decide what ships"/>
        <Title formatter=|t: String| if t.is_empty() { "Gatehouse".to_string() } else { format!("{t} · Gatehouse") }/>
        <Router>
            <Routes fallback=|| view! { <Frame><NotFound/></Frame> }>
                <Route path=path!("/login") view=LoginPage/>
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=OverviewPage/>
                    <Route path=path!("/runs") view=|| view! { <NotBuilt area=Area::Runs/> }/>
                    <Route path=path!("/releases") view=|| view! { <NotBuilt area=Area::Releases/> }/>
                    <Route path=path!("/deployments") view=|| view! { <NotBuilt area=Area::Deployments/> }/>
                    <Route path=path!("/approvals") view=|| view! { <NotBuilt area=Area::Approvals/> }/>
                    <Route path=path!("/calibration") view=|| view! { <NotBuilt area=Area::Calibration/> }/>
                    <Route path=path!("/flags") view=|| view! { <NotBuilt area=Area::Flags/> }/>
                    <Route path=path!("/account") view=AccountPage/>
                    <Route path=path!("/settings") view=SettingsPage/>
                    <Route path=path!("/settings/users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/audit") view=AuditPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The browser entry point: hydrates the server-rendered page.
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(App);
}
