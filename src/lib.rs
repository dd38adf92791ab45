//! openice: a self-hostable server for the editing projects and media library of the
//! Intelligent Media Services API (`ice`, 2020-11-09).
//!
//! Layers, each in its own folder; calls go one way: `server` (HTTP routes, the request's
//! span, shutdown) → `protocol` (wire format, signatures, errors) → `actions` (the action
//! table, one module per API area) → `domain` (pure rules) → `store` (persistence). The
//! `jobs` workers (probes, renders, callbacks, URL uploads) run beside the request path
//! with one shutdown signal. docs/architecture.md draws it.
#![forbid(unsafe_code)]

pub mod actions;
pub mod cli;
pub mod domain;
pub mod dump;
pub mod jobs;
pub mod media;
pub mod oss;
pub mod protocol;
pub mod render;
pub mod server;
pub mod store;
