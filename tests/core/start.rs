//! Starting: nothing before `Event::Start`, then one fork per slot, generation 0.

use super::harness::*;
use master_process::core::{Command, Event, Policy, Signal, Supervisor, Trace, WorkerTag};

#[test]
fn nothing_happens_before_start() {
    let mut h = Harness::new(policy(2));
    assert_eq!(h.sup.poll_timeout(), None);
    assert_eq!(h.handle_raw(Event::Tick), NOTHING);
    h.advance(secs(3600 * 24));
    assert_eq!(h.handle_raw(Event::Tick), NOTHING);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.handle(Event::ReloadRequested), NOTHING);
    assert_eq!(h.signal(Signal::Usr2), NOTHING);
    assert_eq!(h.samples(&[(1, reading(10_000, 100.0))]), NOTHING);
    assert_eq!(h.live(), 0);
    assert_eq!(h.sup.reload_index(), 0);
    assert_eq!(h.sup.poll_timeout(), None);
}

#[test]
fn start_forks_every_slot_with_generation_zero() {
    let mut h = Harness::new(policy(3));
    assert_eq!(h.start(), [fork(1, 0, 0), fork(2, 1, 0), fork(3, 2, 0)]);
    assert_eq!(h.live(), 3);
    for (id, slot) in [(1, 0), (2, 1), (3, 2)] {
        let w = h.worker(id);
        assert_eq!((w.slot, w.generation, w.pid), (slot, 0, None));
        assert!(!w.is_ready());
    }
    assert_eq!(h.sup.reload_index(), 0);
}

#[test]
fn start_is_logged_and_a_second_start_does_nothing() {
    let mut h = Harness::new(Policy::default());
    let tag = WorkerTag {
        id: 1,
        pid: None,
        slot: 0,
    };
    let out = h.handle_raw(Event::Start);
    assert_eq!(
        out,
        [
            trace(None, Trace::Starting { workers: 1 }),
            trace(
                Some(tag),
                Trace::Forking {
                    slot: 0,
                    generation: 0
                }
            ),
            fork(1, 0, 0),
        ]
    );
    assert_eq!(debugs(&out), traces(&out));
    assert_eq!(h.handle_raw(Event::Start), NOTHING);
    assert_eq!(h.live(), 1);
}

#[test]
fn forked_then_listening_makes_a_worker_ready() {
    let mut h = Harness::new(policy(2));
    h.start();
    assert_eq!(h.forked(1), NOTHING);
    assert_eq!(h.worker(1).pid, Some(pid(1)));
    assert!(!h.worker(1).is_ready());
    assert_eq!(h.listening(1), [listening(1, 0, 0)]);
    assert!(h.worker(1).is_ready());
    // A second listening server in the same worker notifies again, changes nothing else.
    assert_eq!(h.listening(1), [listening(1, 0, 0)]);
    assert!(!h.worker(2).is_ready());
}

#[test]
fn listening_before_forked_is_ready_without_a_notice() {
    let mut h = Harness::new(policy(1));
    h.start();
    assert_eq!(h.listening(1), NOTHING);
    assert!(h.worker(1).is_ready());
    assert_eq!(h.forked(1), NOTHING);
}

#[test]
fn the_unix_socket_is_chmodded_whenever_a_worker_binds_it() {
    let mut h = Harness::new(Policy {
        unix_socket: true,
        ..policy(1)
    });
    h.start();
    h.forked(1);
    assert_eq!(
        h.handle(Event::Listening {
            id: 1,
            socket: true
        }),
        [Command::ChmodSocket, listening(1, 0, 0)]
    );
    // Another server of the app (not the PORT socket): no chmod.
    assert_eq!(
        h.handle(Event::Listening {
            id: 1,
            socket: false
        }),
        [listening(1, 0, 0)]
    );
}

#[test]
fn no_chmod_when_port_is_not_a_unix_socket() {
    let mut h = Harness::new(policy(1));
    h.start();
    h.forked(1);
    assert_eq!(
        h.handle(Event::Listening {
            id: 1,
            socket: true
        }),
        [listening(1, 0, 0)]
    );
}

#[test]
fn the_first_sampling_round_is_armed_at_start() {
    let policy = Policy {
        workers: 2,
        ..Policy::default()
    };
    let interval = policy.limits.interval;
    let mut sup = Supervisor::new(policy);
    assert_eq!(sup.poll_timeout(), None);
    let t0 = std::time::Instant::now();
    sup.handle(t0, Event::Start);
    assert_eq!(sup.poll_timeout(), Some(t0 + interval));
}
