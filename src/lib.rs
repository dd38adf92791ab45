//! openice: a self-hostable server for the editing projects and media library of the
//! Intelligent Media Services API (`ice`, 2020-11-09).
//!
//! Layers, each in its own folder; data flows one way:
//! `protocol` (wire format, signatures, errors) → `actions` (one module per API area)
//! → `domain` (pure rules) → `store` (persistence). `server` wires them to HTTP.
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
