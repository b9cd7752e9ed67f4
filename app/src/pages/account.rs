//! The signed-in user's own account: change password.

use crate::api::session::ChangeOwnPassword;
use crate::components::feedback::ActionResult;
use crate::model::MIN_PASSWORD_LEN;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn AccountPage() -> impl IntoView {
    view! {
        <Title text="Your account"/>
        <header class="page-header"><h1>"Your account"</h1></header>
        <ChangePassword/>
    }
}

#[island]
fn ChangePassword() -> impl IntoView {
    let change = ServerAction::<ChangeOwnPassword>::new();
    view! {
        <section class="panel narrow">
            <h2>"Change password"</h2>
            <p class="muted">"Signing in elsewhere ends when you change it; this browser stays signed in."</p>
            <ActionForm action=change attr:class="stack">
                <label for="current">"Current password"</label>
                <input id="current" name="current" type="password" autocomplete="current-password" required/>
                <label for="new_password">"New password"</label>
                <input id="new_password" name="new_password" type="password" autocomplete="new-password"
                    minlength=MIN_PASSWORD_LEN required/>
                <label for="confirm">"Repeat the new password"</label>
                <input id="confirm" name="confirm" type="password" autocomplete="new-password"
                    minlength=MIN_PASSWORD_LEN required/>
                <button type="submit" class="primary">"Change password"</button>
            </ActionForm>
            <ActionResult value=change.value() success="Password changed."/>
        </section>
    }
}
