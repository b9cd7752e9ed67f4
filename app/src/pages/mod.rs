//! One module per page of the console.

mod account;
mod audit;
mod calibration;
mod deployment;
mod errors;
mod flags;
mod login;
mod notify;
mod overview;
mod plans;
mod projects;
mod retention;
mod rules;
mod runs;
mod settings;
mod tests;
mod timeline;
mod users;

pub use account::AccountPage;
pub use audit::AuditPage;
pub use calibration::CalibrationPage;
pub use deployment::DeploymentPage;
pub use errors::NotFound;
pub use flags::{FlagPage, FlagsPage};
pub use login::LoginPage;
pub use notify::NotifyPage;
pub use overview::{KpiDetailPage, OverviewPage};
pub use plans::{PlanPage, PlansPage};
pub use projects::ProjectsPage;
pub use retention::RetentionPage;
pub use rules::RulesPage;
pub use runs::{RunPage, RunsPage};
pub use settings::SettingsPage;
pub use tests::{FlakyPage, TestPage};
pub use timeline::{ApprovalsPage, DeploymentsPage, ReleasesPage};
pub use users::UsersPage;
