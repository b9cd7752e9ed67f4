//! Gatehouse's web console: pages, components, server functions and the types shared by the
//! browser and the server. With the `ssr` feature it also holds the store and auth code.

#![recursion_limit = "256"]

pub mod api;
#[cfg(feature = "ssr")]
pub mod charts;
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
    let files = site_files(&options);
    // Islands mode: the page outside islands never hydrates, so its resources must not be
    // serialised into it (leptos' own `HydrationScripts` says so; this shell replaces it).
    // Islands switch hydration on for themselves. Without this, every page carried its data
    // twice: the calibration page at 82,000 runs weighed 5.3 MB instead of 1.7 MB.
    if let Some(sc) = Owner::current_shared_context() {
        sc.set_is_hydrating(false);
    }
    // Scripts run only with this response's nonce (leptos adds it to its own inline scripts).
    let nonce = leptos::nonce::use_nonce();
    #[cfg(feature = "ssr")]
    if let (Some(n), Some(res)) = (&nonce, use_context::<leptos_axum::ResponseOptions>()) {
        if let Ok(v) = http::HeaderValue::from_str(&page_csp(&n.to_string())) {
            res.insert_header(http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
    view! {
        <!DOCTYPE html>
        <html lang="en" data-theme=theme>
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light dark"/>
                <AutoReload options=options.clone()/>
                <link id="leptos" rel="stylesheet" href=files.css.as_str()/>
                <link rel="modulepreload" href=files.js.as_str() crossorigin=""/>
                <link rel="preload" href=files.wasm.as_str() r#as="fetch" r#type="application/wasm" crossorigin=""/>
                <script type="module" nonce=nonce>{files.loader.as_str()}</script>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

/// The Content-Security-Policy of a page: scripts from this origin or carrying the page's
/// nonce, WebAssembly compiled (`'wasm-unsafe-eval'`, never `'unsafe-eval'`), no framing, forms
/// posted here only. Inline style attributes stay allowed (bars and charts size with them).
pub fn page_csp(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// URLs of the built stylesheet, JS glue and WebAssembly, with the content hashes cargo-leptos
/// wrote to `hash.txt` beside the binary. Read once per process: `leptos_meta::HashedStylesheet`
/// and `leptos::HydrationScripts` read that file on every page, which cost 7% and 8.6% of the
/// sign-in page's CPU.
struct SiteFiles {
    css: String,
    js: String,
    wasm: String,
    /// The module script that loads the JS glue and hydrates the body.
    loader: String,
}

fn site_files(options: &LeptosOptions) -> &'static SiteFiles {
    static FILES: std::sync::OnceLock<SiteFiles> = std::sync::OnceLock::new();
    FILES.get_or_init(|| {
        let hashes = options
            .hash_files
            .then(|| {
                let exe = std::env::current_exe().ok()?;
                std::fs::read_to_string(exe.parent()?.join(options.hash_file.as_ref())).ok()
            })
            .flatten()
            .unwrap_or_default();
        let hash_of = |kind: &str| {
            hashes.lines().find_map(|l| {
                l.trim()
                    .strip_prefix(kind)
                    .and_then(|rest| rest.strip_prefix(':'))
                    .map(|h| format!(".{}", h.trim()))
            })
        };
        let name = &options.output_name;
        let pkg = &options.site_pkg_dir;
        // Outside cargo-leptos, wasm-bindgen names the module `<name>_bg.wasm`.
        let wasm_suffix = if option_env!("LEPTOS_OUTPUT_NAME").is_none() {
            "_bg".to_string()
        } else {
            String::new()
        };
        let css = format!("/{pkg}/{name}{}.css", hash_of("css").unwrap_or_default());
        let js = format!("/{pkg}/{name}{}.js", hash_of("js").unwrap_or_default());
        let wasm = format!(
            "/{pkg}/{name}{}.wasm",
            hash_of("wasm").unwrap_or(wasm_suffix)
        );
        // Islands mode: only `#[island]` components hydrate. Each `<leptos-island>` element is
        // handed to the exported function of its component (islands do not nest here); the body is
        // marked hydrated once all of them are (tests and CSS can tell).
        let loader = format!(
            r#"const hydrateAll = async (m) => {{
  const walk = async (node) => {{
    for (const el of node.children) {{
      if (el.tagName === "LEPTOS-ISLAND") {{
        const f = m[el.dataset.component];
        if (f) {{ const r = f(el); if (r && r.then) await r; }}
        else console.warn("no WebAssembly function for island", el.dataset.component);
      }} else await walk(el);
    }}
  }};
  await walk(document.body);
  document.body.setAttribute("data-hydrated", "true");
}};
import("{js}").then(m => m.default({{module_or_path: "{wasm}"}}).then(() => {{ m.hydrate(); return hydrateAll(m); }}));"#
        );
        SiteFiles { css, js, wasm, loader }
    })
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Link rel="icon" type_="image/svg+xml" href="/favicon.svg"/>
        <Meta name="description" content="Gatehouse: where teams decide what ships"/>
        <Title formatter=|t: String| if t.is_empty() { "Gatehouse".to_string() } else { format!("{t} · Gatehouse") }/>
        <Router>
            <Routes fallback=|| view! { <Frame><NotFound/></Frame> }>
                <Route path=path!("/login") view=LoginPage/>
                <ParentRoute path=path!("") view=Layout>
                    <Route path=path!("") view=OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/kpis/:id") view=KpiDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("/runs") view=RunsPage/>
                    <Route path=path!("/runs/:id") view=RunPage ssr=SsrMode::Async/>
                    <Route path=path!("/tests/flaky") view=FlakyPage ssr=SsrMode::Async/>
                    <Route path=path!("/tests/:id") view=TestPage ssr=SsrMode::Async/>
                    <Route path=path!("/releases") view=ReleasesPage ssr=SsrMode::Async/>
                    <Route path=path!("/deployments") view=DeploymentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/deployments/:id") view=DeploymentPage ssr=SsrMode::Async/>
                    <Route path=path!("/approvals") view=ApprovalsPage ssr=SsrMode::Async/>
                    <Route path=path!("/calibration") view=CalibrationPage/>
                    <Route path=path!("/plans") view=PlansPage ssr=SsrMode::Async/>
                    <Route path=path!("/plans/:id") view=PlanPage ssr=SsrMode::Async/>
                    <Route path=path!("/flags") view=FlagsPage ssr=SsrMode::Async/>
                    <Route path=path!("/flags/:id") view=FlagPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=AccountPage/>
                    <Route path=path!("/settings") view=SettingsPage/>
                    <Route path=path!("/settings/users") view=UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/audit") view=AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/notifications") view=NotifyPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/projects") view=ProjectsPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/retention") view=RetentionPage ssr=SsrMode::Async/>
                    <Route path=path!("/settings/environments") view=RulesPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

/// The browser entry point: sets up the reactive runtime; the loader script then hydrates each
/// island (see `site_files`).
#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_islands();
}
