//! The sign-in page. A plain HTML form posting to `/login`, so it works before (and without)
//! the WebAssembly bundle.

use crate::components::layout::Logo;
use crate::model::LoginRefusal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn LoginPage() -> impl IntoView {
    let query = use_query_map();
    let next = move || {
        query
            .read()
            .get("next")
            .filter(|n| n.starts_with('/'))
            .unwrap_or_default()
    };
    let error = move || {
        let q = query.read();
        let code = q.get("error")?;
        LoginRefusal::from_query(&code, q.get("retry").as_deref()).map(|r| r.message())
    };
    let signed_out = move || query.read().get("signed_out").is_some();
    view! {
        <Title text="Sign in"/>
        <main class="login-page" id="main">
            <div class="login-card panel">
                <div class="brand"><Logo/><span>"Gatehouse"</span></div>
                <h1>"Sign in"</h1>
                <p class="muted">"Where your team decides what ships."</p>
                {move || error().map(|m| view! { <p class="alert error" role="alert" id="login-error">{m}</p> })}
                <Show when=signed_out>
                    <p class="alert success" role="status">"You have signed out."</p>
                </Show>
                <form method="post" action="/login" class="stack">
                    <input type="hidden" name="next" value=next/>
                    <label for="username">"Username"</label>
                    <input id="username" name="username" type="text" autocomplete="username"
                        autocapitalize="none" spellcheck="false" required autofocus/>
                    <label for="password">"Password"</label>
                    <input id="password" name="password" type="password"
                        autocomplete="current-password" required/>
                    <button type="submit" class="primary">"Sign in"</button>
                </form>
            </div>
        </main>
    }
}
