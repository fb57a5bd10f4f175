#![deny(clippy::all)]
//! master-process: zero-downtime reloads for Node.js cluster apps, with a Rust supervisor.

pub mod binding;
pub mod config;
pub mod core;
pub mod duration;
pub mod error;
pub mod shell;
