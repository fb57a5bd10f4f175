//! When a new worker counts as ready: its first `listening` (4.x) or its `ready` message.

use super::harness::*;
use master_process::core::{Event, Policy, ReadyOn, WorkerMessage};

fn by_message(workers: u32) -> Policy {
    Policy {
        ready_on: ReadyOn::Message,
        ..policy(workers)
    }
}

#[test]
fn listening_does_not_make_a_worker_ready_when_readiness_is_a_message() {
    let mut h = Harness::new(by_message(1));
    assert_eq!(h.start(), [fork(1, 0, 0)]);
    assert_eq!(h.ready(1), [listening(1, 0, 0)]);
    assert!(!h.worker(1).is_ready());
    assert_eq!(h.message(1, WorkerMessage::Ready), NOTHING);
    assert!(h.worker(1).is_ready());
    // Said twice: nothing more.
    assert_eq!(h.message(1, WorkerMessage::Ready), NOTHING);
}

#[test]
fn reload_waits_for_the_ready_message() {
    let mut h = Harness::new(by_message(1));
    h.start();
    h.ready(1);
    h.message(1, WorkerMessage::Ready);
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(h.ready(2), [listening(2, 0, 1)]);
    assert!(h.worker(1).is_ready() && !h.worker(1).is_retiring());
    assert_eq!(
        h.message(2, WorkerMessage::Ready),
        [drain(1), reload_done(1)]
    );
    assert_eq!(h.retire_cleanly(1), NOTHING);
}

#[test]
fn ready_message_without_listening_is_enough() {
    let mut h = Harness::new(by_message(1));
    h.start();
    h.ready(1);
    h.message(1, WorkerMessage::Ready);
    h.hup();
    assert_eq!(h.forked(2), NOTHING);
    assert_eq!(
        h.message(2, WorkerMessage::Ready),
        [drain(1), reload_done(1)]
    );
}

#[test]
fn ready_message_is_ignored_when_readiness_is_listening() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(h.forked(2), NOTHING);
    assert_eq!(h.message(2, WorkerMessage::Ready), NOTHING);
    assert!(!h.worker(2).is_ready());
    assert_eq!(
        h.listening(2),
        [listening(2, 0, 1), drain(1), reload_done(1)]
    );
}

#[test]
fn a_worker_that_listens_but_never_says_ready_fails_the_reload() {
    let mut h = Harness::new(Policy {
        ready_timeout: secs(10),
        ..by_message(1)
    });
    h.start();
    h.ready(1);
    h.message(1, WorkerMessage::Ready);
    h.advance(secs(1));
    h.hup();
    h.ready(2);
    assert_eq!(h.deadline(), Some(secs(11)));
    let reason = not_ready(0, 10000);
    assert_eq!(h.fire(), [drain(2), reload_failed(1, reason)]);
    assert!(h.worker(1).is_ready() && !h.worker(1).is_retiring());
    // A late `ready` from the retiring worker changes nothing.
    assert_eq!(h.message(2, WorkerMessage::Ready), NOTHING);
    assert!(h.worker(2).is_retiring());
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.handle(Event::Tick), NOTHING);
}
