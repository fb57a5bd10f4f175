//! With a compile cache workers can write, the first slot's worker is asked to write it
//! once every slot of a generation serves: at the first ready and after each reload that
//! succeeds. Not for a crash restart, not after a rolled-back reload, not without a cache.

use super::harness::*;
use master_process::core::{Command, NodeCommand, Policy, WorkerId};

fn cached(workers: u32) -> Policy {
    Policy {
        persist_compile_cache: true,
        ..policy(workers)
    }
}

fn persist(id: WorkerId) -> Command {
    Command::Node(NodeCommand::PersistCompileCache { id })
}

fn persists(commands: &[Command]) -> Vec<WorkerId> {
    commands
        .iter()
        .filter_map(|c| match c {
            Command::Node(NodeCommand::PersistCompileCache { id }) => Some(*id),
            _ => None,
        })
        .collect()
}

#[test]
fn the_first_slots_worker_writes_it_once_the_first_generation_serves() {
    let mut h = Harness::new(cached(2));
    assert_eq!(h.start(), [fork(1, 0, 0), fork(2, 1, 0)]);
    assert_eq!(h.ready(2), [listening(2, 1, 0)]);
    assert_eq!(h.ready(1), [listening(1, 0, 0), persist(1)]);
}

#[test]
fn a_crash_restart_is_no_new_generation_and_writes_nothing() {
    let mut h = Harness::new(cached(1));
    h.start();
    assert_eq!(h.ready(1), [listening(1, 0, 0), persist(1)]);
    assert!(persists(&h.exited(1, 1)).is_empty());
    assert_eq!(h.fire(), [fork(2, 0, 0)]);
    assert_eq!(h.ready(2), [listening(2, 0, 0)]);
}

#[test]
fn after_a_reload_the_new_first_slots_worker_writes_it() {
    let mut h = Harness::new(cached(2));
    h.start();
    h.ready(1);
    h.ready(2);
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    assert_eq!(
        h.ready(4),
        [listening(4, 1, 1), drain(2), reload_done(1), persist(3)]
    );
}

#[test]
fn a_rolled_back_reload_writes_nothing() {
    let mut h = Harness::new(cached(1));
    h.start();
    h.ready(1);
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    h.forked(2);
    let out = h.exited(2, 1);
    assert!(out
        .iter()
        .any(|c| matches!(c, Command::Node(NodeCommand::Notify(_)))));
    assert!(persists(&out).is_empty());
}

#[test]
fn without_a_cache_nothing_is_written() {
    let mut h = Harness::new(policy(1));
    h.start();
    assert_eq!(h.ready(1), [listening(1, 0, 0)]);
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert!(persists(&h.ready(2)).is_empty());
}
