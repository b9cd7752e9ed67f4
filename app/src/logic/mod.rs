//! Pure rules with no I/O, unit-tested, usable in the browser and on the server.

pub mod bands;
pub mod calibration;
pub mod deploy;
pub mod dora;
pub mod drift;
pub mod flags;
pub mod flaky;
pub mod gates;
pub mod kpi;
pub mod notify;
pub mod plan;
pub mod predictor;
pub mod release;
pub mod report;
pub mod throttle;
pub mod time;
pub mod url;
