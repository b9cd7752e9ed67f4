//! Settings index: where admins manage the console.

use crate::components::layout::IfRole;
use crate::model::Role;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn SettingsPage() -> impl IntoView {
    view! {
        <Title text="Settings"/>
        <header class="page-header"><h1>"Settings"</h1></header>
        <div class="grid">
            <IfRole needs=Role::Admin>
                <a class="panel card-link" href="/settings/users">
                    <h2>"Users"</h2>
                    <p>"Add people, change their role, disable accounts, reset passwords."</p>
                </a>
                <a class="panel card-link" href="/settings/projects">
                    <h2>"Projects and tokens"</h2>
                    <p>"Add projects, set GitHub webhook secrets, create and revoke API tokens for CI."</p>
                </a>
                <a class="panel card-link" href="/settings/environments">
                    <h2>"Environment rules"</h2>
                    <p>"Approvals, quality gates, freeze windows and checklists of each environment."</p>
                </a>
                <a class="panel card-link" href="/settings/notifications">
                    <h2>"Notifications"</h2>
                    <p>"Slack, Telegram, email, MQTT and webhook channels, routing rules, quiet hours, and the delivery log."</p>
                </a>
                <a class="panel card-link" href="/settings/retention">
                    <h2>"Retention"</h2>
                    <p>"How long runs, artifacts, health samples, notifications and logs are kept, and the purges."</p>
                </a>
                <a class="panel card-link" href="/settings/audit">
                    <h2>"Audit log"</h2>
                    <p>"Who did what and when: sign-ins, failed sign-ins, user changes."</p>
                </a>
            </IfRole>
            <a class="panel card-link" href="/account">
                <h2>"Your account"</h2>
                <p>"Change your password."</p>
            </a>
        </div>
    }
}
