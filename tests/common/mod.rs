//! Helpers shared by the integration tests.
#![allow(dead_code)]

pub mod pg;
pub mod project;
pub mod tls_server;
