//! Notifications (`/settings/notifications`, admins): the channels events go to (Slack,
//! Telegram, email, MQTT, signed webhooks) with a test button each, the rules that route
//! events to them, and the delivery log with "retry now".

use crate::api::notify::{
    notify_page, CreateChannel, CreateRule, DeleteChannel, DeleteRule, RetryDelivery, TestChannel,
    UpdateChannel,
};
use crate::components::feedback::ErrorPanel;
use crate::logic::notify::{ChannelKind, EventKind, Field, Severity};
use crate::logic::time::{format_utc, humanize_ms};
use crate::model::{Channel, DeliveryEntry, DeliveryStatus, NotifyPageData, Rule};
use crate::pages::deployment::{action_error, reload_on_success};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_query_map;

#[component]
pub fn NotifyPage() -> impl IntoView {
    let query = use_query_map();
    let q = query.read_untracked();
    let channel = q.get("channel").and_then(|c| c.parse::<i64>().ok());
    let status = q.get("status");
    let before = q.get("before").and_then(|b| b.parse::<i64>().ok());
    let data = Resource::new(|| (), move |_| notify_page(channel, status.clone(), before));
    view! {
        <Title text="Notifications"/>
        <Suspense fallback=|| view! { <p class="muted">"Loading notifications…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Err(e) => view! { <ErrorPanel error=e/> }.into_any(),
                    Ok(d) => view! { <NotifyView data=d/> }.into_any(),
                }
            })}
        </Suspense>
    }
}

/// The log's address with one filter changed.
fn log_href(channel: Option<i64>, status: Option<DeliveryStatus>) -> String {
    let mut parts = Vec::new();
    if let Some(c) = channel {
        parts.push(format!("channel={c}"));
    }
    if let Some(s) = status {
        parts.push(format!("status={}", s.as_str()));
    }
    if parts.is_empty() {
        "/settings/notifications#log".into()
    } else {
        format!("/settings/notifications?{}#log", parts.join("&"))
    }
}

fn status_class(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Delivered => "badge good",
        DeliveryStatus::Failed => "badge bad",
        DeliveryStatus::Pending | DeliveryStatus::Sending => "badge busy",
        DeliveryStatus::Grouped => "badge",
    }
}

fn severity_class(s: Severity) -> &'static str {
    match s {
        Severity::Info => "badge",
        Severity::Warning => "badge warn",
        Severity::Critical => "badge bad",
    }
}

/// What a channel's visible settings say, in one line.
fn settings_line(c: &Channel) -> String {
    c.settings
        .iter()
        .filter(|(k, _)| k.as_str() != "template")
        .map(|(k, v)| format!("{k}: {v}"))
        .collect::<Vec<_>>()
        .join(" · ")
}

fn quiet_text(r: &Rule) -> String {
    match (r.quiet_from, r.quiet_to) {
        (Some(f), Some(t)) => format!(
            "{:02}:{:02}–{:02}:{:02} UTC",
            f / 60,
            f % 60,
            t / 60,
            t % 60
        ),
        _ => "—".into(),
    }
}

#[component]
fn NotifyView(data: NotifyPageData) -> impl IntoView {
    let now = data.now;
    let channel_choices: Vec<(i64, String)> = data
        .channels
        .iter()
        .map(|c| (c.id, c.name.clone()))
        .collect();
    let channels = if data.channels.is_empty() {
        view! { <p class="muted" id="no-channels">"No channel yet: add one below, then send it a test."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="data" id="channels">
                    <thead><tr>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Kind"</th>
                        <th scope="col">"Settings"</th>
                        <th scope="col">"Secrets"</th>
                        <th scope="col">"Actions"</th>
                    </tr></thead>
                    <tbody>
                        {data.channels.iter().cloned().map(|c| view! { <ChannelRow channel=c/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let rules = if data.rules.is_empty() {
        view! { <p class="muted" id="no-rules">"No rule yet: events reach no channel until a rule routes them."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="data" id="rules">
                    <thead><tr>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Project"</th>
                        <th scope="col">"Events"</th>
                        <th scope="col">"At least"</th>
                        <th scope="col">"Quiet hours"</th>
                        <th scope="col">"Grouping"</th>
                        <th scope="col"><span class="visually-hidden">"Delete"</span></th>
                    </tr></thead>
                    <tbody>
                        {data.rules.iter().cloned().map(|r| {
                            let events = if r.events.is_empty() {
                                "every event".to_string()
                            } else {
                                r.events.iter().map(|k| k.label()).collect::<Vec<_>>().join(", ")
                            };
                            let grouping = if r.group_window_s == 0 {
                                "—".to_string()
                            } else {
                                format!("repeats within {} min", r.group_window_s / 60)
                            };
                            view! {
                                <tr data-rule=r.id>
                                    <td>{r.channel.clone()}</td>
                                    <td>{r.project.clone().unwrap_or_else(|| "every project".into())}</td>
                                    <td>{events}</td>
                                    <td><span class=severity_class(r.min_severity)>{r.min_severity.as_str()}</span></td>
                                    <td>{quiet_text(&r)}</td>
                                    <td>{grouping}</td>
                                    <td><RuleDelete id=r.id/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let filter_channel = data.channel;
    let filter_status = data.status;
    let status_chips = std::iter::once(None)
        .chain(DeliveryStatus::ALL.into_iter().map(Some))
        .map(|s| {
            let current = s == filter_status;
            view! {
                <a href=log_href(filter_channel, s) class=if current { "chip current" } else { "chip" }
                   aria-current=current.then_some("page")>{s.map(|s| s.as_str()).unwrap_or("all")}</a>
            }
        })
        .collect_view();
    let channel_chips = std::iter::once((None, "every channel".to_string()))
        .chain(channel_choices.iter().map(|(id, n)| (Some(*id), n.clone())))
        .map(|(id, name)| {
            let current = id == filter_channel;
            view! {
                <a href=log_href(id, filter_status) class=if current { "chip current" } else { "chip" }
                   aria-current=current.then_some("page")>{name}</a>
            }
        })
        .collect_view();
    let log = if data.log.is_empty() {
        view! { <p class="muted" id="no-deliveries">"No delivery here yet."</p> }.into_any()
    } else {
        view! {
            <div class="table-scroll">
                <table class="data" id="deliveries">
                    <thead><tr>
                        <th scope="col">"#"</th>
                        <th scope="col">"Raised"</th>
                        <th scope="col">"Channel"</th>
                        <th scope="col">"Event"</th>
                        <th scope="col">"Status"</th>
                        <th scope="col">"Tries"</th>
                        <th scope="col">"Last answer"</th>
                        <th scope="col"><span class="visually-hidden">"Retry"</span></th>
                    </tr></thead>
                    <tbody>
                        {data.log.into_iter().map(|e| view! { <LogRow entry=e now=now/> }).collect_view()}
                    </tbody>
                </table>
            </div>
        }
        .into_any()
    };
    let older = data.more.map(|before| {
        let mut href = log_href(filter_channel, filter_status).replace("#log", "");
        href.push(if href.contains('?') { '&' } else { '?' });
        href.push_str(&format!("before={before}#log"));
        view! { <p><a href=href id="older">"Older deliveries →"</a></p> }
    });
    view! {
        <header class="page-header">
            <h1>"Notifications"</h1>
            <p class="muted">"Where Gatehouse tells people about approvals, failing gates, deployments, rollbacks and the predictor's alerts. Each event is stored with the change that raised it and delivered by a background job, tried again with growing waits for a day."</p>
        </header>
        <section class="panel" aria-labelledby="channels-h">
            <h2 id="channels-h">"Channels"</h2>
            <p class="muted small">"Secrets (webhook URLs of Slack, bot tokens, passwords, signing keys) are never shown again: leave them empty to keep them."</p>
            {channels}
            <details class="panel-sub">
                <summary id="add-channel">"Add a channel"</summary>
                <NewChannelForm/>
            </details>
        </section>
        <section class="panel" aria-labelledby="rules-h">
            <h2 id="rules-h">"Routing rules"</h2>
            <p class="muted small">"An event goes to a channel when a rule of that channel takes its kind, severity and project. In quiet hours only critical events go out at once; the rest wait for the end. Repeats of one event kind and project within the grouping window go out as one message."</p>
            {rules}
            {(!channel_choices.is_empty()).then(|| view! {
                <details class="panel-sub">
                    <summary id="add-rule">"Add a rule"</summary>
                    <NewRuleForm channels=channel_choices.clone() projects=data.projects.clone()/>
                </details>
            })}
        </section>
        <section class="panel" aria-labelledby="log-h" id="log">
            <h2 id="log-h">"Delivery log"</h2>
            <nav class="chips" aria-label="Status">{status_chips}</nav>
            <nav class="chips" aria-label="Channel">{channel_chips}</nav>
            {log}
            {older}
        </section>
    }
}

#[component]
fn ChannelRow(channel: Channel) -> impl IntoView {
    let secrets = if channel.secrets_set.is_empty() {
        "none".to_string()
    } else {
        format!("{} set", channel.secrets_set.join(", "))
    };
    let state = (!channel.enabled).then(|| view! { <span class="badge">"disabled"</span> });
    let id = channel.id;
    let name = channel.name.clone();
    view! {
        <tr data-channel=name.clone()>
            <td><strong>{name.clone()}</strong>" "{state}</td>
            <td>{channel.kind.label()}</td>
            <td class="small">{settings_line(&channel)}</td>
            <td class="small">{secrets}</td>
            <td>
                <ChannelActions id=id name=name.clone()/>
                <details>
                    <summary>"Edit"</summary>
                    <EditChannelForm channel=channel/>
                </details>
            </td>
        </tr>
    }
}

/// One field of a channel's form: a setting (shown) or a secret (write-only, with "clear").
fn field_input(f: &Field, prefix: &str, current: Option<String>, is_set: bool) -> impl IntoView {
    let id = format!("{prefix}-{}", f.name);
    let name = if f.secret {
        format!("secrets[{}]", f.name)
    } else {
        format!("settings[{}]", f.name)
    };
    let label = format!("{}{}", f.name, if f.required { " (required)" } else { "" });
    let input = if f.name == "template" {
        view! { <textarea id=id.clone() name=name rows="4">{current.unwrap_or_default()}</textarea> }.into_any()
    } else if f.secret {
        let placeholder = if is_set {
            "set: leave empty to keep"
        } else {
            ""
        };
        view! { <input id=id.clone() name=name type="password" autocomplete="new-password" placeholder=placeholder/> }.into_any()
    } else {
        view! { <input id=id.clone() name=name value=current.unwrap_or_default()/> }.into_any()
    };
    let clear = (f.secret && is_set).then(|| {
        let cid = format!("{id}-clear");
        let for_cid = cid.clone();
        view! {
            <label class="small" for=for_cid>
                <input type="checkbox" id=cid name=format!("clear[{}]", f.name)/>
                {format!(" clear the stored {}", f.name)}
            </label>
        }
    });
    view! {
        <label for=id>{label}</label>
        <span class="muted small">{f.about}</span>
        {input}
        {clear}
    }
}

#[island]
fn NewChannelForm() -> impl IntoView {
    let act = ServerAction::<CreateChannel>::new();
    reload_on_success(act.value().into());
    let (kind, set_kind) = signal(ChannelKind::Webhook);
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="stack" attr:id="channel-form">
            <label for="nc-name">"Name"</label>
            <input id="nc-name" name="name" required=true maxlength="100" placeholder="release-bot"/>
            <label for="nc-kind">"Kind"</label>
            <select id="nc-kind" name="kind" on:change=move |ev| {
                if let Ok(k) = ChannelKind::parse(&event_target_value(&ev)) {
                    set_kind.set(k);
                }
            }>
                {ChannelKind::ALL.into_iter().map(|k| view! {
                    <option value=k.as_str() selected=k == ChannelKind::Webhook>{k.label()}</option>
                }).collect_view()}
            </select>
            {move || kind.get().fields().iter().map(|f| field_input(f, "nc", None, false)).collect_view()}
            <button type="submit" class="primary" id="channel-create">"Add channel"</button>
        </ActionForm>
    }
}

#[island]
fn EditChannelForm(channel: Channel) -> impl IntoView {
    let act = ServerAction::<UpdateChannel>::new();
    reload_on_success(act.value().into());
    let prefix = format!("ch{}", channel.id);
    let fields = channel
        .kind
        .fields()
        .iter()
        .map(|f| {
            let current = channel.settings.get(f.name).cloned();
            let is_set = channel.secrets_set.iter().any(|s| s == f.name);
            field_input(f, &prefix, current, is_set)
        })
        .collect_view();
    let enabled_id = format!("{prefix}-enabled");
    let enabled_for = enabled_id.clone();
    let (channel_id, enabled) = (channel.id, channel.enabled);
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="stack">
            <input type="hidden" name="id" value=channel_id/>
            {fields}
            <label for=enabled_for>
                <input type="checkbox" id=enabled_id name="enabled" checked=enabled/>
                " enabled"
            </label>
            <button type="submit">"Save"</button>
        </ActionForm>
    }
}

#[island]
fn ChannelActions(id: i64, name: String) -> impl IntoView {
    let test = ServerAction::<TestChannel>::new();
    reload_on_success(test.value().into());
    let delete = ServerAction::<DeleteChannel>::new();
    reload_on_success(delete.value().into());
    let confirm = format!("Delete the channel {name} with its rules and deliveries?");
    view! {
        {action_error(test.value().into())}
        {action_error(delete.value().into())}
        <ActionForm action=test attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button type="submit" class="send-test">"Send test"</button>
        </ActionForm>
        <ActionForm action=delete attr:class="inline">
            <input type="hidden" name="id" value=id/>
            // Asked before the form submits (ActionForm sends on submit).
            <button type="submit" class="danger" on:click=move |ev| {
                #[cfg(feature = "hydrate")]
                if !window().confirm_with_message(&confirm).unwrap_or(false) {
                    ev.prevent_default();
                }
                #[cfg(not(feature = "hydrate"))]
                let _ = (&ev, &confirm);
            }>"Delete"</button>
        </ActionForm>
    }
}

#[island]
fn RuleDelete(id: i64) -> impl IntoView {
    let act = ServerAction::<DeleteRule>::new();
    reload_on_success(act.value().into());
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button type="submit" class="link">"delete"</button>
        </ActionForm>
    }
}

#[island]
fn NewRuleForm(channels: Vec<(i64, String)>, projects: Vec<String>) -> impl IntoView {
    let act = ServerAction::<CreateRule>::new();
    reload_on_success(act.value().into());
    let kinds = EventKind::ALL
        .into_iter()
        .filter(|k| *k != EventKind::Test)
        .map(|k| {
            let id = format!("nr-ev-{}", k.as_str().replace('.', "-"));
            let for_id = id.clone();
            view! {
                <label for=for_id>
                    <input type="checkbox" id=id name=format!("events[{}]", k.as_str())/>
                    {k.label()}
                </label>
            }
        })
        .collect_view();
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="stack" attr:id="rule-form">
            <label for="nr-channel">"Channel"</label>
            <select id="nr-channel" name="channel_id">
                {channels.into_iter().map(|(id, n)| view! { <option value=id>{n}</option> }).collect_view()}
            </select>
            <label for="nr-project">"Project"</label>
            <select id="nr-project" name="project">
                <option value="">"every project"</option>
                {projects.into_iter().map(|p| view! { <option value=p.clone()>{p.clone()}</option> }).collect_view()}
            </select>
            <fieldset class="checks">
                <legend>"Events (none ticked: every kind)"</legend>
                {kinds}
            </fieldset>
            <label for="nr-severity">"At least"</label>
            <select id="nr-severity" name="min_severity">
                {Severity::ALL.into_iter().map(|s| view! {
                    <option value=s.as_str() selected=s == Severity::Warning>{s.as_str()}</option>
                }).collect_view()}
            </select>
            <label for="nr-quiet-from">"Quiet from (UTC, optional)"</label>
            <input id="nr-quiet-from" name="quiet_from" type="time"/>
            <label for="nr-quiet-to">"Quiet until (UTC)"</label>
            <input id="nr-quiet-to" name="quiet_to" type="time"/>
            <label for="nr-group">"Group repeats within (minutes, 0: never)"</label>
            <input id="nr-group" name="group_minutes" type="number" min="0" max="1440" value="0"/>
            <button type="submit" class="primary" id="rule-create">"Add rule"</button>
        </ActionForm>
    }
}

#[component]
fn LogRow(entry: DeliveryEntry, now: i64) -> impl IntoView {
    let e = entry;
    let when = match e.status {
        DeliveryStatus::Pending if e.next_at > now => {
            Some(format!("next try in {}", humanize_ms(e.next_at - now)))
        }
        DeliveryStatus::Delivered => e.delivered_at.map(|d| format!("at {}", format_utc(d))),
        DeliveryStatus::Grouped => e.grouped_into.map(|g| format!("with #{g}")),
        _ => None,
    };
    let folded = (e.folded > 0).then(|| format!("+{} grouped", e.folded));
    let answer = match (e.last_code, &e.last_error) {
        (Some(c), Some(err)) => format!("{c}: {err}"),
        (Some(c), None) => c.to_string(),
        (None, Some(err)) => err.clone(),
        (None, None) => "—".into(),
    };
    let title = match &e.link {
        Some(l) => view! { <a href=l.clone()>{e.title.clone()}</a> }.into_any(),
        None => view! { <span>{e.title.clone()}</span> }.into_any(),
    };
    let retry = matches!(e.status, DeliveryStatus::Pending | DeliveryStatus::Failed)
        .then(|| view! { <RetryButton id=e.id/> });
    view! {
        <tr data-delivery=e.id data-channel=e.channel.clone() data-status=e.status.as_str()>
            <td>{e.id}</td>
            <td class="small">{format_utc(e.created_at)}</td>
            <td>{e.channel.clone()}</td>
            <td>
                <span class=severity_class(e.severity)>{e.severity.as_str()}</span>" "
                <span class="muted small">{e.kind.label()}{e.project.clone().map(|p| format!(" · {p}"))}</span>
                <div>{title}</div>
            </td>
            <td>
                <span class=status_class(e.status)>{e.status.as_str()}</span>
                <div class="muted small">{when}" "{folded}</div>
            </td>
            <td>{e.attempts}</td>
            <td class="small">{answer}</td>
            <td>{retry}</td>
        </tr>
    }
}

#[island]
fn RetryButton(id: i64) -> impl IntoView {
    let act = ServerAction::<RetryDelivery>::new();
    reload_on_success(act.value().into());
    view! {
        {action_error(act.value().into())}
        <ActionForm action=act attr:class="inline">
            <input type="hidden" name="id" value=id/>
            <button type="submit" class="retry">"Retry now"</button>
        </ActionForm>
    }
}
