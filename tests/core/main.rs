//! Unit tests of the supervisor core: a fake clock, events in, the exact commands out.

mod harness;

mod counters;
mod handoff;
mod invariants;
mod liveness;
mod monitor;
mod persist_cache;
mod ready_on;
mod reload;
mod restart;
mod retire;
mod scale;
mod service;
mod shutdown;
mod shutdown_delay;
mod start;
mod unknown;
mod upgrade;
