//! Unit tests of the supervisor core: a fake clock, events in, the exact commands out.

mod harness;

mod invariants;
mod monitor;
mod ready_on;
mod reload;
mod restart;
mod retire;
mod scale;
mod shutdown;
mod start;
mod unknown;
