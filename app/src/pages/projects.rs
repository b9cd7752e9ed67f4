//! Projects and API tokens (admins): create projects, set webhook secrets, create tokens
//! (shown once) and revoke them. The server functions refuse everyone else.

use crate::api::projects::{
    list_projects, list_tokens, CreateProject, CreateToken, RevokeToken, SetWebhookSecret,
};
use crate::components::feedback::{refreshed, ActionResult, ErrorPanel};
use crate::logic::time::format_utc;
use crate::model::{ApiToken, Project, Scope};
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn ProjectsPage() -> impl IntoView {
    let data = Resource::new(
        || (),
        |_| async { Ok::<_, crate::AppError>((list_projects().await?, list_tokens().await?)) },
    );
    view! {
        <Title text="Projects and tokens"/>
        <header class="page-header">
            <h1>"Projects and tokens"</h1>
            <p class="muted">
                "CI systems send runs, test reports and coverage with a project's token. "
                <a href="/api/v1/openapi.json">"API reference (OpenAPI)"</a>
            </p>
        </header>
        <Suspense fallback=|| view! { <p class="muted">"Loading projects…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok((projects, tokens)) => view! { <ProjectsAdmin projects tokens/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// Everything below the header runs in the browser: forms and tables refresh after each action.
#[island]
fn ProjectsAdmin(projects: Vec<Project>, tokens: Vec<ApiToken>) -> impl IntoView {
    let create = ServerAction::<CreateProject>::new();
    let secret = ServerAction::<SetWebhookSecret>::new();
    let new_token = ServerAction::<CreateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let projects = refreshed(
        projects,
        move || {
            create.version().track();
            secret.version().track();
        },
        list_projects,
    );
    let tokens = refreshed(
        tokens,
        move || {
            create.version().track();
            new_token.version().track();
            revoke.version().track();
        },
        list_tokens,
    );

    view! {
            {move || {
                let (projects, tokens) = (projects.get(), tokens.get());
                view! {
                        <ActionResult value=secret.value() success="Webhook secret saved."/>
                        <ActionResult value=revoke.value() success="Token revoked."/>
                        <section class="panel table-panel">
                            <table class="data" id="projects-table">
                                <caption class="visually-hidden">"Projects"</caption>
                                <thead><tr>
                                    <th scope="col">"Project"</th>
                                    <th scope="col">"Default branch"</th>
                                    <th scope="col">"Environments"</th>
                                    <th scope="col">"GitHub webhook"</th>
                                </tr></thead>
                                <tbody>
                                    {projects.clone().into_iter().map(|p| view! { <ProjectRow project=p secret/> }).collect_view()}
                                </tbody>
                            </table>
                            {projects.is_empty().then(|| view! { <p class="empty">"No projects yet: add one below."</p> })}
                        </section>
                        <NewTokenResult action=new_token/>
                        <section class="panel table-panel">
                            <h2>"API tokens"</h2>
                            <table class="data" id="tokens-table">
                                <thead><tr>
                                    <th scope="col">"Token"</th>
                                    <th scope="col">"Project"</th>
                                    <th scope="col">"Scopes"</th>
                                    <th scope="col">"Created"</th>
                                    <th scope="col">"Last used"</th>
                                    <th scope="col">"State"</th>
                                </tr></thead>
                                <tbody>
                                    {tokens.is_empty().then(|| view! { <tr><td colspan="6" class="muted">"No tokens yet: create one below and store it as a secret of your CI."</td></tr> })}
                                    {tokens.into_iter().map(|t| view! { <TokenRow token=t revoke/> }).collect_view()}
                                </tbody>
                            </table>
                        </section>
                        <section class="panel narrow">
                            <h2>"Create a token"</h2>
                            <ActionForm action=new_token attr:class="stack" attr:id="create-token">
                                <label for="token-project">"Project"</label>
                                <select id="token-project" name="project" required>
                                    {projects.into_iter().map(|p| view! { <option value=p.slug.clone()>{p.slug.clone()}</option> }).collect_view()}
                                </select>
                                <label for="token-name">"Name"</label>
                                <input id="token-name" name="name" required maxlength="100" placeholder="github actions"/>
                                <fieldset class="checks">
                                    <legend>"Scopes"</legend>
                                    {Scope::ALL.into_iter().map(|s| view! {
                                        <label><input type="checkbox" name=s.as_str() value="on" checked=s == Scope::Ingest/>" " {s.as_str()}</label>
                                    }).collect_view()}
                                </fieldset>
                                <button type="submit" class="primary">"Create token"</button>
                            </ActionForm>
                        </section>
                }
            }}
        <section class="panel narrow">
            <h2>"Add a project"</h2>
            <ActionForm action=create attr:class="stack" attr:id="add-project">
                <label for="project-slug">"Slug"</label>
                <input id="project-slug" name="slug" required pattern="[a-z0-9][a-z0-9\\-]{0,63}"
                    title="lowercase letters, digits and -" autocapitalize="none" spellcheck="false"/>
                <label for="project-name">"Name"</label>
                <input id="project-name" name="name" maxlength="120"/>
                <label for="project-branch">"Default branch"</label>
                <input id="project-branch" name="default_branch" value="main" required/>
                <label for="project-repo">"Repository URL"</label>
                <input id="project-repo" name="repository_url" type="url" placeholder="https://github.com/acme/shop"/>
                <label for="project-envs">"Environments, in promotion order"</label>
                <input id="project-envs" name="environments" placeholder="dev, staging, production"/>
                <button type="submit" class="primary">"Add project"</button>
            </ActionForm>
            <ActionResult value=create.value() success="Project added."/>
        </section>
    }
}

#[component]
fn ProjectRow(project: Project, secret: ServerAction<SetWebhookSecret>) -> impl IntoView {
    let slug = project.slug.clone();
    view! {
        <tr data-project=project.slug.clone()>
            <td>
                <strong>{project.name.clone()}</strong><br/><code>{project.slug.clone()}</code>
                {project.repository_url.clone().map(|u| { let text = u.clone(); view! { <br/><a href=u rel="noopener noreferrer">{text}</a> } })}
            </td>
            <td><code>{project.default_branch.clone()}</code></td>
            <td>{project.environments.join(" → ")}</td>
            <td>
                <span class=if project.has_webhook_secret { "status-pill on" } else { "status-pill off" }>
                    {if project.has_webhook_secret { "secret set" } else { "no secret" }}
                </span>
                <ActionForm action=secret attr:class="inline">
                    <input type="hidden" name="project" value=slug.clone()/>
                    <input type="password" name="secret" autocomplete="new-password" minlength="16"
                        aria-label=format!("Webhook secret of {slug}") placeholder="new secret"/>
                    <button type="submit" class="small">"Save"</button>
                </ActionForm>
            </td>
        </tr>
    }
}

#[component]
fn TokenRow(token: ApiToken, revoke: ServerAction<RevokeToken>) -> impl IntoView {
    let revoked = token.revoked_at.is_some();
    view! {
        <tr data-token=token.name.clone() class:disabled=revoked>
            <td><strong>{token.name.clone()}</strong><br/><code>{format!("{}…", token.prefix)}</code></td>
            <td><code>{token.project.clone()}</code></td>
            <td>{Scope::join(&token.scopes).replace(',', ", ")}</td>
            <td>{format_utc(token.created_at)}{token.created_by.clone().map(|u| format!(" by {u}"))}</td>
            <td>{token.last_used_at.map(format_utc).unwrap_or_else(|| "never".into())}</td>
            <td>
                {if revoked {
                    view! { <span class="status-pill off">"revoked"</span> }.into_any()
                } else {
                    view! {
                        <ActionForm action=revoke attr:class="inline">
                            <input type="hidden" name="token_id" value=token.id.to_string()/>
                            <span class="status-pill on">"active"</span>
                            <button type="submit" class="small danger">"Revoke"</button>
                        </ActionForm>
                    }.into_any()
                }}
            </td>
        </tr>
    }
}

/// The new token's secret, shown once, with how to use it.
#[component]
fn NewTokenResult(action: ServerAction<CreateToken>) -> impl IntoView {
    move || {
        action.value().get().map(|r| match r {
            Ok(created) => view! {
                <div class="alert success" role="status" id="new-token">
                    <p>"Token " <strong>{created.token.name.clone()}</strong> " for " <code>{created.token.project.clone()}</code>
                        " — copy it now, it is shown only once:"</p>
                    <p><code class="secret">{created.secret.clone()}</code></p>
                    <p class="muted">"Send it as " <code>"Authorization: Bearer <token>"</code> "."</p>
                </div>
            }.into_any(),
            Err(e) => view! { <p class="alert error" role="alert">{e.to_string()}</p> }.into_any(),
        })
    }
}
