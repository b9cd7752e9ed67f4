//! The console's frame: top bar with navigation, the signed-in user and the theme toggle.

use super::theme::ThemeToggle;
use crate::api::session::current_user;
use crate::model::{Role, User};
use crate::AppError;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// The current user, loaded once per page load and shared with pages through context.
pub type Me = Resource<Result<Option<User>, AppError>>;

/// The signed-in user's role if known yet (pages use it to hide what the role cannot do).
pub fn use_role() -> Signal<Option<Role>> {
    let me = use_context::<Me>();
    Signal::derive(move || {
        me.and_then(|m| m.get())
            .and_then(|r| r.ok())
            .flatten()
            .map(|u| u.role)
    })
}

struct NavItem {
    href: &'static str,
    label: &'static str,
    needs: Role,
}

const NAV: &[NavItem] = &[
    NavItem {
        href: "/",
        label: "Overview",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/runs",
        label: "Runs",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/releases",
        label: "Releases",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/deployments",
        label: "Deployments",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/approvals",
        label: "Approvals",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/calibration",
        label: "Calibration",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/flags",
        label: "Flags",
        needs: Role::Viewer,
    },
    NavItem {
        href: "/settings",
        label: "Settings",
        needs: Role::Admin,
    },
];

#[component]
pub fn Logo() -> impl IntoView {
    view! {
        <svg class="logo" viewBox="0 0 32 32" width="28" height="28" aria-hidden="true">
            <rect x="2" y="2" width="28" height="28" rx="7" fill="var(--accent)"/>
            <path d="M9 25V14l7-5 7 5v11h-4.5v-6.5h-5V25z" fill="var(--on-accent)"/>
        </svg>
    }
}

/// The frame around the nested routes.
#[component]
pub fn Layout() -> impl IntoView {
    view! { <Frame><Outlet/></Frame> }
}

/// The frame around any content (also used by the 404 page).
#[component]
pub fn Frame(children: Children) -> impl IntoView {
    let me: Me = Resource::new(|| (), |_| current_user());
    provide_context(me);
    let role = use_role();
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/"><Logo/><span>"Gatehouse"</span></a>
            <nav class="nav" aria-label="Main">
                <ul>
                    {NAV
                        .iter()
                        .map(|item| {
                            let needs = item.needs;
                            let visible = move || needs == Role::Viewer || role.get().is_some_and(|r| r.allows(needs));
                            view! {
                                <Show when=visible>
                                    <li><A href=item.href exact=true>{item.label}</A></li>
                                </Show>
                            }
                        })
                        .collect_view()}
                </ul>
            </nav>
            <div class="who">
                <Transition fallback=|| ()>
                    {move || Suspend::new(async move {
                        match me.await {
                            Ok(Some(user)) => view! {
                                <a class="user" href="/account" title="Your account">
                                    <span class="user-name">{user.display_name.clone()}</span>
                                    <span class=format!("role-badge role-{}", user.role)>{user.role.to_string()}</span>
                                </a>
                                <form method="post" action="/logout" class="inline">
                                    <button type="submit" class="link-button">"Sign out"</button>
                                </form>
                            }.into_any(),
                            _ => view! { <a href="/login" class="button">"Sign in"</a> }.into_any(),
                        }
                    })}
                </Transition>
                <ThemeToggle/>
            </div>
        </header>
        <main id="main" class="content" tabindex="-1">{children()}</main>
        <footer class="footer">
            <span>"Gatehouse " {env!("CARGO_PKG_VERSION")}</span>
        </footer>
    }
}
