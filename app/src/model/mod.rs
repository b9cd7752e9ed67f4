//! Types that cross the wire between the browser and the server: users, roles, audit events.

pub mod audit;
pub mod deploy;
pub mod flag;
pub mod kpi;
pub mod notify;
pub mod plan;
pub mod predictor;
pub mod project;
pub mod retention;
pub mod run;
pub mod user;

pub use audit::*;
pub use deploy::*;
pub use flag::*;
pub use kpi::*;
pub use notify::*;
pub use plan::*;
pub use predictor::*;
pub use project::*;
pub use retention::*;
pub use run::*;
pub use user::*;
