//! One module per page of the console.

mod account;
mod audit;
mod errors;
mod login;
mod not_built;
mod overview;
mod projects;
mod runs;
mod settings;
mod tests;
mod users;

pub use account::AccountPage;
pub use audit::AuditPage;
pub use errors::NotFound;
pub use login::LoginPage;
pub use not_built::{Area, NotBuilt};
pub use overview::OverviewPage;
pub use projects::ProjectsPage;
pub use runs::{RunPage, RunsPage};
pub use settings::SettingsPage;
pub use tests::{FlakyPage, TestPage};
pub use users::UsersPage;
