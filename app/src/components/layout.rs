//! The console's frame: top bar with navigation, the signed-in user and the theme toggle.

use super::theme::ThemeToggle;
use crate::api::session::current_user;
use crate::model::{Role, User};
use crate::AppError;
use leptos::prelude::*;
use leptos_router::components::{Outlet, A};

/// The current user, loaded once per page load and shared with pages through context.
pub type Me = Resource<Result<Option<User>, AppError>>;

/// Shows its children only to a signed-in user whose role allows `needs`. This only hides
/// what the role cannot do; the server refuses it regardless.
#[component]
pub fn IfRole(needs: Role, children: ChildrenFn) -> impl IntoView {
    let me = use_context::<Me>();
    view! {
        <Transition fallback=|| ()>
            {move || {
                let children = children.clone();
                me.map(|me| Suspend::new(async move {
                    match me.await {
                        Ok(Some(user)) if user.role.allows(needs) => Some(children()),
                        _ => None,
                    }
                }))
            }}
        </Transition>
    }
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
        href: "/plans",
        label: "Plans",
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

/// How many deployments wait for the signed-in person's decision, beside "Approvals".
#[component]
fn ApprovalBadge() -> impl IntoView {
    let count = Resource::new(|| (), |_| crate::api::deployments::approval_count());
    view! {
        <Transition fallback=|| ()>
            {move || Suspend::new(async move {
                match count.await {
                    Ok(n) if n > 0 => Some(view! {
                        " " <span class="nav-badge" id="approvals-badge" title=format!("{n} waiting for your decision")>{n}</span>
                    }),
                    _ => None,
                }
            })}
        </Transition>
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
    view! {
        <a class="skip-link" href="#main">"Skip to content"</a>
        <header class="topbar">
            <a class="brand" href="/"><Logo/><span>"Gatehouse"</span></a>
            <nav class="nav" aria-label="Main">
                <ul>
                    {NAV
                        .iter()
                        .map(|item| {
                            let link = move || {
                                let badge = (item.href == "/approvals").then(|| view! { <ApprovalBadge/> });
                                view! { <li><A href=item.href exact=true>{item.label}{badge}</A></li> }
                            };
                            if item.needs == Role::Viewer {
                                link().into_any()
                            } else {
                                view! { <IfRole needs=item.needs>{link()}</IfRole> }.into_any()
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
