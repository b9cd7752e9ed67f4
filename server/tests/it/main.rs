//! Integration tests in one binary (one link): store stories on SQLite and Postgres, and the
//! HTTP stack through a real server on a free port.

mod api;
mod authz;
mod calibration;
mod calibration_api;
mod crash;
mod deploy_api;
mod deploy_store;
mod deploy_views;
mod faults;
mod fixtures;
mod flags;
mod fuzz_regressions;
mod hardening;
mod helpers;
mod http;
mod kpi_api;
mod kpi_store;
mod model_quality;
mod notify;
mod plan_api;
mod plan_store;
mod predictor_store;
mod push;
mod replicas;
mod retention;
mod runs_store;
mod store;
mod test_pages;
