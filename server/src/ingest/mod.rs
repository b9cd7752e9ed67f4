//! Readers for what CI systems send: JUnit XML test reports, Cobertura and LCOV coverage, and
//! GitHub webhook payloads. Pure parsing, no storage: the REST handlers store what these read.

pub mod coverage;
pub mod junit;
