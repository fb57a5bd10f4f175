//! Events about a worker the supervisor never forked (or that is gone) change nothing but a
//! debug line.

use super::harness::*;
use master_process::core::{Command, Event, Level, Log, Policy, WorkerMessage};

/// The state of the supervisor, as text, to compare before and after an event.
fn snapshot(h: &Harness) -> String {
    format!("{:?}", h.sup)
}

fn ignored(what: &str, id: u32) -> Vec<Command> {
    let text = format!("ignoring {what} of unknown worker #{id}");
    vec![Command::Log(Log {
        level: Level::Debug,
        worker: None,
        text,
    })]
}

/// A running master in the middle of things: a reload in progress, a worker retiring,
/// deadlines armed.
fn busy() -> Harness {
    let mut h = Harness::new(Policy {
        unix_socket: true,
        ..policy(2)
    });
    h.start_all_ready();
    h.hup();
    h.ready(3);
    h.forked(4);
    h
}

#[test]
fn events_of_a_worker_never_forked_change_nothing_but_a_debug_line() {
    let mut h = busy();
    let events = [
        ("forked", Event::Forked { id: 99, pid: 4242 }),
        (
            "listening",
            Event::Listening {
                id: 99,
                socket: true,
            },
        ),
        (
            "exit",
            Event::Exited {
                id: 99,
                code: Some(1),
                signal: None,
            },
        ),
        (
            "exit",
            Event::Exited {
                id: 99,
                code: None,
                signal: Some("SIGKILL".into()),
            },
        ),
        (
            "message",
            Event::Message {
                id: 99,
                message: WorkerMessage::Ready,
            },
        ),
        (
            "message",
            Event::Message {
                id: 99,
                message: WorkerMessage::PauseMonitoring,
            },
        ),
        (
            "message",
            Event::Message {
                id: 99,
                message: WorkerMessage::ResumeMonitoring,
            },
        ),
    ];
    for (what, event) in events {
        let before = snapshot(&h);
        let deadline = h.sup.poll_timeout();
        assert_eq!(h.handle_raw(event.clone()), ignored(what, 99), "{event:?}");
        assert_eq!(snapshot(&h), before, "{event:?}");
        assert_eq!(h.sup.poll_timeout(), deadline);
    }
    assert!(!h.sup.is_paused());
}

#[test]
fn drain_settle_and_samples_of_an_unknown_worker_are_silent() {
    let mut h = busy();
    let before = snapshot(&h);
    assert_eq!(h.handle_raw(Event::Drained { id: 99 }), NOTHING);
    assert_eq!(h.handle_raw(Event::Settled { id: 99 }), NOTHING);
    assert_eq!(
        h.samples(&[(99, None), (99, reading(10_000, 100.0))]),
        NOTHING
    );
    assert_eq!(snapshot(&h), before);
}

#[test]
fn events_of_a_worker_that_already_exited_are_unknown() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.advance(secs(10));
    assert_eq!(
        h.exited(1, 1),
        [exit(1, 0, Some(1), None, false), fork(2, 0, 0)]
    );
    let before = snapshot(&h);
    assert_eq!(
        h.handle_raw(Event::Exited {
            id: 1,
            code: Some(1),
            signal: None
        }),
        ignored("exit", 1)
    );
    assert_eq!(
        h.handle_raw(Event::Listening {
            id: 1,
            socket: false
        }),
        ignored("listening", 1)
    );
    assert_eq!(
        h.handle_raw(Event::Forked { id: 1, pid: pid(1) }),
        ignored("forked", 1)
    );
    assert_eq!(snapshot(&h), before);
    // Exactly one restart came of it.
    assert_eq!(h.ids(), [2]);
}

#[test]
fn events_before_start_are_unknown() {
    let mut h = Harness::new(policy(1));
    assert_eq!(
        h.handle_raw(Event::Forked { id: 1, pid: pid(1) }),
        ignored("forked", 1)
    );
    assert_eq!(
        h.handle_raw(Event::Listening {
            id: 1,
            socket: true
        }),
        ignored("listening", 1)
    );
    assert_eq!(h.start(), [fork(1, 0, 0)]);
    assert_eq!(h.worker(1).pid, None);
}
