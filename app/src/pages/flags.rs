//! Feature flags: the matrix of a project's flags × environments (`/flags`), and a flag's page
//! (`/flags/:id`) where team leads turn it on per environment, set its rollout or a ramp that
//! raises it over days, keep allow and deny lists, check which environments give a key the
//! flag, and read its history.

use crate::api::flags::{flag_page, flags_page, CreateFlag, DeleteFlag, SetFlag};
use crate::components::feedback::ErrorPanel;
use crate::logic::flags::{rollout_at, share, Reason};
use crate::logic::time::{format_utc, to_rfc3339};
use crate::logic::url::encode_query_value;
use crate::model::{Flag, FlagPageData, FlagSetting, FlagsPageData, KeyCheck, RampShape};
use crate::pages::deployment::{action_error, reload_on_success};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// A setting as one short badge: `off`, `on`, `30%`, `42% ↗` (ramping).
fn badge(s: &FlagSetting, now: i64) -> (String, &'static str, String) {
    let rollout = rollout_at(s, now);
    let (text, class) = match (s.enabled, &s.ramp) {
        (false, _) => ("off".to_string(), "badge"),
        (true, Some(r)) if now < r.ends_at => {
            let arrow = if r.to >= r.from { "↗" } else { "↘" };
            (format!("{} {arrow}", share(rollout)), "badge busy")
        }
        (true, _) if rollout >= 1.0 => ("on".to_string(), "badge good"),
        (true, _) => (share(rollout), "badge busy"),
    };
    (text, class, summary(s, now))
}

/// A setting in a sentence.
fn summary(s: &FlagSetting, now: i64) -> String {
    let mut out = match (s.enabled, &s.ramp) {
        (false, _) => "Off: no key gets it".to_string(),
        (true, Some(r)) => format!(
            "On, ramping {} (now {})",
            r.describe(),
            share(rollout_at(s, now))
        ),
        (true, None) if s.rollout >= 1.0 => "On for every key".to_string(),
        (true, None) => format!("On for {} of keys", share(s.rollout)),
    };
    if !s.allow.is_empty() {
        out.push_str(&format!("; {} always in", s.allow.len()));
    }
    if !s.deny.is_empty() {
        out.push_str(&format!("; {} always out", s.deny.len()));
    }
    out
}

fn reason_words(r: Reason) -> &'static str {
    match r {
        Reason::Off => "the flag is off here",
        Reason::Denied => "on the deny list",
        Reason::Allowed => "on the allow list",
        Reason::InRollout => "its bucket is below the rollout",
        Reason::OutOfRollout => "its bucket is at or above the rollout",
    }
}

#[component]
pub fn FlagsPage() -> impl IntoView {
    let query = use_query_map();
    let project = query.read_untracked().get("project");
    let data = Resource::new(|| (), move |_| flags_page(project.clone()));
    view! {
        <Title text="Feature flags"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading flags…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <FlagMatrix data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FlagMatrix(data: FlagsPageData) -> impl IntoView {
    let chosen = data.project.clone().unwrap_or_default();
    let chips = data
        .projects
        .iter()
        .map(|p| {
            let current = *p == chosen;
            let class = if current { "chip current" } else { "chip" };
            view! {
                <a href=format!("/flags?project={}", encode_query_value(p)) class=class aria-current=current.then_some("page")>{p.clone()}</a>
            }
        })
        .collect_view();
    let now = data.now;
    let new_form = (data.can_edit && !chosen.is_empty())
        .then(|| view! { <NewFlagForm project=chosen.clone()/> });
    let api_env = data
        .environments
        .last()
        .cloned()
        .unwrap_or_else(|| "staging".into());
    let envs = data.environments.clone();
    let table = if data.flags.is_empty() {
        view! { <p class="muted" id="no-flags">"No flag in this project yet. Team leads create one here; it starts off in every environment."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="data" id="flag-matrix">
                    <thead><tr>
                        <th scope="col">"Flag"</th>
                        {envs.iter().map(|e| view! { <th scope="col">{e.clone()}</th> }).collect_view()}
                    </tr></thead>
                    <tbody>
                        {data.flags.into_iter().map(|f| view! { <MatrixRow flag=f now=now/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    view! {
        <header class="page-header">
            <h1>"Feature flags"</h1>
            <p class="muted">"Each flag per environment: on or off, the share of keys that get it, ramps that raise it over days, and keys always in or out."</p>
        </header>
        <nav class="chips" aria-label="Projects">{chips}</nav>
        {new_form}
        <section class="panel" aria-labelledby="matrix-h">
            <h2 id="matrix-h">{format!("Flags of {chosen}")}</h2>
            {table}
        </section>
        <section class="panel" aria-labelledby="api-h">
            <h2 id="api-h">"Reading flags from a service"</h2>
            <p>"Services poll " <code>{format!("GET /api/v1/projects/{chosen}/flags/{api_env}")}</code>
               " with a project token of scope " <code>"read"</code> " (made under Settings → Projects and tokens). "
               "Add " <code>"?key=<user or tenant id>"</code> " to have every flag decided for that key. "
               "Answers carry an " <code>"ETag"</code> "; send it back in " <code>"If-None-Match"</code> " and an unchanged answer is a bodyless 304."</p>
            <p class="muted small">"A key's bucket is the first 8 bytes of SHA-256(\"flag:key\") as a big-endian integer over 2^64; the key gets the flag when its bucket is below the rollout, so raising a rollout never takes the flag from a key that had it."</p>
        </section>
    }
}

#[component]
fn MatrixRow(flag: Flag, now: i64) -> impl IntoView {
    let cells = flag
        .settings
        .iter()
        .map(|s| {
            let (text, class, title) = badge(s, now);
            let lists = (!s.allow.is_empty() || !s.deny.is_empty()).then(|| {
                view! { <span class="muted small">{format!(" +{} −{}", s.allow.len(), s.deny.len())}</span> }
            });
            view! {
                <td data-env=s.environment.clone()>
                    <a href=format!("/flags/{}#env-{}", flag.id, s.environment) class=class title=title>{text}</a>
                    {lists}
                </td>
            }
        })
        .collect_view();
    view! {
        <tr data-flag=flag.key.clone()>
            <td>
                <a href=format!("/flags/{}", flag.id)><code>{flag.key.clone()}</code></a>
                <div class="muted small">{flag.description.clone()}</div>
            </td>
            {cells}
        </tr>
    }
}

#[island]
fn NewFlagForm(project: String) -> impl IntoView {
    let act = ServerAction::<CreateFlag>::new();
    Effect::new(move |_| {
        if let Some(Ok(_id)) = act.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().set_href(&format!("/flags/{_id}"));
        }
    });
    view! {
        <section class="panel" id="new-flag" aria-labelledby="new-flag-h">
            <h2 id="new-flag-h">"New flag"</h2>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="inline-form">
                <input type="hidden" name="project" value=project/>
                <label for="nf-key">"Name"</label>
                <input id="nf-key" name="key" required=true maxlength="64" pattern="[a-z0-9][a-z0-9._\\-]*" placeholder="checkout-v2" title="lowercase letters, digits, '-', '_' and '.'"/>
                <label for="nf-description">"What it does"</label>
                <input id="nf-description" name="description" maxlength="500" placeholder="The new checkout flow"/>
                <button type="submit" class="primary" id="flag-create">"Create flag"</button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn FlagPage() -> impl IntoView {
    let params = use_params_map();
    let id = params
        .read_untracked()
        .get("id")
        .and_then(|s| s.parse::<i64>().ok())
        .unwrap_or(0);
    let key = use_query_map().read_untracked().get("key");
    let data = Resource::new(|| (), move |_| flag_page(id, key.clone()));
    view! {
        <Suspense fallback=|| view! { <p class="muted">"Loading the flag…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <Title text="Flag"/><ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <FlagView data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
fn FlagView(data: FlagPageData) -> impl IntoView {
    let flag = data.flag.clone();
    let now = data.now;
    let back = format!("/flags?project={}", encode_query_value(&flag.project));
    let created = format!(
        "Created {}{}",
        format_utc(flag.created_at),
        flag.created_by
            .as_ref()
            .map(|b| format!(" by {b}"))
            .unwrap_or_default()
    );
    let delete = data
        .can_edit
        .then(|| view! { <DeleteFlagButton id=flag.id back=back.clone()/> });
    let environments = flag
        .settings
        .iter()
        .map(|s| {
            let (text, class, _) = badge(s, now);
            let changed = match (&s.updated_at, &s.updated_by) {
                (Some(at), Some(by)) => format!("Changed {} by {by}", format_utc(*at)),
                (Some(at), None) => format!("Changed {}", format_utc(*at)),
                _ => "Never set: off".to_string(),
            };
            let lists = (!s.allow.is_empty() || !s.deny.is_empty()).then(|| {
                view! {
                    <dl class="facts">
                        <dt>"Always in"</dt><dd>{if s.allow.is_empty() { "nobody".to_string() } else { s.allow.join(", ") }}</dd>
                        <dt>"Always out"</dt><dd>{if s.deny.is_empty() { "nobody".to_string() } else { s.deny.join(", ") }}</dd>
                    </dl>
                }
            });
            let form = data.can_edit.then(|| {
                let r = s.ramp;
                let (shape, steps) = match r.map(|r| r.shape) {
                    None => ("none", 4),
                    Some(RampShape::Linear) => ("linear", 4),
                    Some(RampShape::Steps(n)) => ("steps", n),
                };
                let pct = |x: f64| format!("{}", (x * 10_000.0).round() / 100.0);
                view! {
                    <FlagSettingForm
                        id=flag.id
                        environment=s.environment.clone()
                        enabled=s.enabled
                        rollout=pct(s.rollout)
                        ramp=shape.to_string()
                        steps=steps.to_string()
                        from=pct(r.map(|r| r.from).unwrap_or(0.0))
                        to=pct(r.map(|r| r.to).unwrap_or(1.0))
                        start=r.map(|r| to_rfc3339(r.starts_at)[..19].to_string()).unwrap_or_default()
                        days=r.map(|r| format!("{}", (r.ends_at - r.starts_at) as f64 / 86_400_000.0)).unwrap_or_else(|| "7".into())
                        allow=s.allow.join("\n")
                        deny=s.deny.join("\n")
                    />
                }
            });
            view! {
                <section class="panel" id=format!("env-{}", s.environment) aria-labelledby=format!("env-{}-h", s.environment)>
                    <h2 id=format!("env-{}-h", s.environment)>{s.environment.clone()} " " <span class=class>{text}</span></h2>
                    <p class="setting-summary">{summary(s, now)}</p>
                    <p class="muted small">{changed}</p>
                    {lists}
                    {form}
                </section>
            }
        })
        .collect_view();
    let check = data.check.clone();
    let key_value = check.as_ref().map(|c| c.key.clone()).unwrap_or_default();
    view! {
        <Title text=flag.key.clone()/>
        <header class="page-header">
            <p class="crumbs"><a href="/flags">"Feature flags"</a> " / " <a href=back.clone()>{flag.project.clone()}</a></p>
            <h1><code>{flag.key.clone()}</code></h1>
            <p>{flag.description.clone()}</p>
            <p class="muted small">{created}</p>
        </header>
        <section class="panel" aria-labelledby="check-h">
            <h2 id="check-h">"Who gets it"</h2>
            <form method="get" class="inline-form" id="key-check">
                <label for="check-key">"Key"</label>
                <input id="check-key" name="key" value=key_value maxlength="200" placeholder="user-42"/>
                <button type="submit">"Check"</button>
            </form>
            {check.map(|c| view! { <KeyCheckTable check=c/> })}
        </section>
        <div class="grid">{environments}</div>
        <History events=data.history.clone()/>
        {delete}
    }
}

#[component]
fn KeyCheckTable(check: KeyCheck) -> impl IntoView {
    view! {
        <p class="muted small">{format!("`{}` has bucket {:.4} for this flag: it is in wherever the rollout is above {}.", check.key, check.bucket, share(check.bucket))}</p>
        <table class="data" id="key-verdicts">
            <thead><tr><th>"Environment"</th><th>"Rollout now"</th><th>"Gets it"</th><th>"Why"</th></tr></thead>
            <tbody>
                {check.environments.into_iter().map(|v| {
                    let class = if v.on { "badge good" } else { "badge" };
                    view! {
                        <tr data-env=v.environment.clone()>
                            <td>{v.environment.clone()}</td>
                            <td>{share(v.rollout)}</td>
                            <td><span class=class>{if v.on { "yes" } else { "no" }}</span></td>
                            <td>{reason_words(v.reason)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
}

#[component]
fn History(events: Vec<crate::model::AuditEvent>) -> impl IntoView {
    view! {
        <section class="panel" aria-labelledby="history-h">
            <h2 id="history-h">"History"</h2>
            {if events.is_empty() {
                view! { <p class="muted">"No change recorded."</p> }.into_any()
            } else {
                view! {
                    <table class="data" id="flag-history">
                        <thead><tr><th>"When"</th><th>"Who"</th><th>"What"</th><th>"Change"</th></tr></thead>
                        <tbody>
                            {events.into_iter().map(|e| view! {
                                <tr>
                                    <td class="nowrap">{format_utc(e.at)}</td>
                                    <td>{e.actor.clone().unwrap_or_else(|| "system".into())}</td>
                                    <td>{e.action.trim_start_matches("flag.").to_string()}</td>
                                    <td>{e.detail.clone().unwrap_or_default()}</td>
                                </tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }.into_any()
            }}
        </section>
    }
}

#[island]
#[allow(clippy::too_many_arguments)]
fn FlagSettingForm(
    id: i64,
    environment: String,
    enabled: bool,
    rollout: String,
    ramp: String,
    steps: String,
    from: String,
    to: String,
    start: String,
    days: String,
    allow: String,
    deny: String,
) -> impl IntoView {
    let act = ServerAction::<SetFlag>::new();
    reload_on_success(act.value().into());
    let id_allow = format!("allow-{environment}");
    let id_days = format!("days-{environment}");
    let id_deny = format!("deny-{environment}");
    let id_enabled = format!("enabled-{environment}");
    let id_flag_form = format!("flag-form-{environment}");
    let id_from = format!("from-{environment}");
    let id_ramp = format!("ramp-{environment}");
    let id_rollout = format!("rollout-{environment}");
    let id_save = format!("save-{environment}");
    let id_start = format!("start-{environment}");
    let id_steps = format!("steps-{environment}");
    let id_to = format!("to-{environment}");
    let ramps = [
        ("none", "No ramp"),
        ("linear", "Linear"),
        ("steps", "Steps"),
    ];
    view! {
        <details class="setting-form" open=false>
            <summary>{format!("Change {environment}")}</summary>
            {action_error(act.value().into())}
            <ActionForm action=act attr:class="stacked" attr:id=id_flag_form.clone()>
                <input type="hidden" name="id" value=id.to_string()/>
                <input type="hidden" name="environment" value=environment.clone()/>
                <label for=id_enabled.clone()>"State"</label>
                <select id=id_enabled.clone() name="enabled">
                    <option value="true" selected=enabled>"On"</option>
                    <option value="false" selected=!enabled>"Off"</option>
                </select>
                <label for=id_rollout.clone()>"Rollout (% of keys, used when there is no ramp)"</label>
                <input id=id_rollout.clone() name="rollout" type="number" min="0" max="100" step="0.01" value=rollout required=true/>
                <fieldset class="ramp">
                    <legend>"Ramp: raise (or lower) the rollout over time"</legend>
                    <label for=id_ramp.clone()>"Shape"</label>
                    <select id=id_ramp.clone() name="ramp">
                        {ramps.into_iter().map(|(v, label)| {
                            let selected = v == ramp;
                            view! { <option value=v selected=selected>{label}</option> }
                        }).collect_view()}
                    </select>
                    <label for=id_steps.clone()>"Steps (for a stepped ramp)"</label>
                    <input id=id_steps.clone() name="ramp_steps" type="number" min="1" max="100" value=steps/>
                    <label for=id_from.clone()>"From %"</label>
                    <input id=id_from.clone() name="ramp_from" type="number" min="0" max="100" step="0.01" value=from/>
                    <label for=id_to.clone()>"To %"</label>
                    <input id=id_to.clone() name="ramp_to" type="number" min="0" max="100" step="0.01" value=to/>
                    <label for=id_start.clone()>"Starts (UTC; empty: now)"</label>
                    <input id=id_start.clone() name="ramp_start" type="datetime-local" step="1" value=start/>
                    <label for=id_days.clone()>"Over (days)"</label>
                    <input id=id_days.clone() name="ramp_days" type="number" min="0.01" max="365" step="any" value=days/>
                </fieldset>
                <label for=id_allow.clone()>"Always in (keys, one per line)"</label>
                <textarea id=id_allow.clone() name="allow" rows="2">{allow}</textarea>
                <label for=id_deny.clone()>"Always out (keys, one per line; wins over always in)"</label>
                <textarea id=id_deny.clone() name="deny" rows="2">{deny}</textarea>
                <button type="submit" class="primary" id=id_save.clone()>{format!("Save {environment}")}</button>
            </ActionForm>
        </details>
    }
}

#[island]
fn DeleteFlagButton(id: i64, back: String) -> impl IntoView {
    let act = ServerAction::<DeleteFlag>::new();
    let _ = &back;
    Effect::new(move |_| {
        if let Some(Ok(())) = act.value().get() {
            #[cfg(feature = "hydrate")]
            let _ = window().location().set_href(&back);
        }
    });
    view! {
        <section class="panel danger-zone">
            {action_error(act.value().into())}
            <details>
                <summary>"Delete this flag"</summary>
                <ActionForm action=act attr:class="inline-form">
                    <input type="hidden" name="id" value=id.to_string()/>
                    <span class="muted small">"Services asking for it will be told it does not exist; its history stays in the audit log."</span>
                    <button type="submit" class="danger" id="flag-delete">"Delete it"</button>
                </ActionForm>
            </details>
        </section>
    }
}
