//! User administration: add, change role, disable/enable, reset password (admins only; the
//! server functions refuse everyone else).

use crate::api::users::{list_users, CreateUser, ResetUserPassword, SetUserDisabled, SetUserRole};
use crate::components::feedback::{refreshed, ActionResult, ErrorPanel};
use crate::logic::time::format_utc;
use crate::model::{Role, User, MIN_PASSWORD_LEN};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn UsersPage() -> impl IntoView {
    let users = Resource::new(|| (), |_| list_users());
    view! {
        <Title text="Users"/>
        <header class="page-header">
            <h1>"Users"</h1>
            <p class="muted">"Roles: viewer reads; reviewer also tunes the predictor; approver also approves deployments and quarantines tests; admin also manages users, tokens and settings."</p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading users…"</p> }>
            {move || Suspend::new(async move {
                match users.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(users) => view! { <UsersAdmin users/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Everything below the header runs in the browser: the table refreshes after each action.
#[island]
fn UsersAdmin(users: Vec<User>) -> impl IntoView {
    let create = ServerAction::<CreateUser>::new();
    let set_role = ServerAction::<SetUserRole>::new();
    let set_disabled = ServerAction::<SetUserDisabled>::new();
    let reset = ServerAction::<ResetUserPassword>::new();
    let users = refreshed(
        users,
        move || {
            create.version().track();
            set_role.version().track();
            set_disabled.version().track();
            reset.version().track();
        },
        list_users,
    );
    let reset_for = RwSignal::new(String::new());

    view! {
            {move || {
                let list = users.get();
                view! {
                        <ActionResult value=set_role.value() success="Role changed."/>
                        <ActionResult value=set_disabled.value() success="Account updated."/>
                        {move || reset.value().get().map(|r| match r {
                            Ok(password) => view! {
                                <p class="alert success" role="status">
                                    "New password for " <strong>{reset_for.get()}</strong> ": "
                                    <code class="secret">{password}</code>
                                    " — shown once; their other sessions have ended."
                                </p>
                            }.into_any(),
                            Err(e) => view! { <p class="alert error" role="alert">{e.to_string()}</p> }.into_any(),
                        })}
                        <section class="panel table-panel">
                            <table class="data" id="users-table">
                                <thead><tr>
                                    <th scope="col">"User"</th>
                                    <th scope="col">"Role"</th>
                                    <th scope="col">"Status"</th>
                                    <th scope="col">"Last sign-in"</th>
                                    <th scope="col">"Password"</th>
                                </tr></thead>
                                <tbody>
                                    {list.into_iter().map(|u| view! {
                                        <UserRow user=u set_role set_disabled reset reset_for/>
                                    }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                }
            }}
        <section class="panel narrow">
            <h2>"Add a user"</h2>
            <ActionForm action=create attr:class="stack" attr:id="add-user">
                <label for="new-username">"Username"</label>
                <input id="new-username" name="username" required autocapitalize="none" spellcheck="false"
                    pattern="[A-Za-z0-9._\\-]{2,64}" title="2–64 letters, digits, dots, dashes or underscores"/>
                <label for="new-display">"Display name"</label>
                <input id="new-display" name="display_name" maxlength="120"/>
                <label for="new-role">"Role"</label>
                <select id="new-role" name="role">
                    {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == Role::Viewer>{r.as_str()}</option> }).collect_view()}
                </select>
                <label for="new-password">"Initial password"</label>
                <input id="new-password" name="password" type="password" autocomplete="new-password"
                    minlength=MIN_PASSWORD_LEN required/>
                <button type="submit" class="primary">"Add user"</button>
            </ActionForm>
            <ActionResult value=create.value() success="User added."/>
        </section>
    }
}

#[component]
fn UserRow(
    user: User,
    set_role: ServerAction<SetUserRole>,
    set_disabled: ServerAction<SetUserDisabled>,
    reset: ServerAction<ResetUserPassword>,
    reset_for: RwSignal<String>,
) -> impl IntoView {
    let id = user.id.0.to_string();
    let (id1, id2, id3) = (id.clone(), id.clone(), id);
    let name = user.username.clone();
    let username = user.username.clone();
    let current = user.role;
    let on_reset = move |_| reset_for.set(name.clone());
    view! {
        <tr data-username=username class:disabled=user.disabled>
            <td>
                <strong>{user.display_name.clone()}</strong>
                <br/><code>{user.username.clone()}</code>
            </td>
            <td>
                <ActionForm action=set_role attr:class="inline">
                    <input type="hidden" name="user_id" value=id1/>
                    <select name="role" aria-label=format!("Role of {}", user.username)>
                        {Role::ALL.into_iter().map(|r| view! { <option value=r.as_str() selected=r == current>{r.as_str()}</option> }).collect_view()}
                    </select>
                    <button type="submit" class="small">"Save"</button>
                </ActionForm>
            </td>
            <td>
                <ActionForm action=set_disabled attr:class="inline">
                    <input type="hidden" name="user_id" value=id2/>
                    <input type="hidden" name="disabled" value=(!user.disabled).to_string()/>
                    <span class=if user.disabled { "status-pill off" } else { "status-pill on" }>
                        {if user.disabled { "disabled" } else { "active" }}
                    </span>
                    <button type="submit" class="small">{if user.disabled { "Enable" } else { "Disable" }}</button>
                </ActionForm>
            </td>
            <td>{user.last_login_at.map(format_utc).unwrap_or_else(|| "never".into())}</td>
            <td>
                <ActionForm action=reset attr:class="inline">
                    <input type="hidden" name="user_id" value=id3/>
                    <button type="submit" class="small" on:click=on_reset>"Reset"</button>
                </ActionForm>
            </td>
        </tr>
    }
}
