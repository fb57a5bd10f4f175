//! Events about a worker the supervisor never forked (or that is gone) change nothing but a
//! debug line; except `Forked`: a process the core does not know would serve unsupervised,
//! so it is killed.

use super::harness::*;
use master_process::core::{Command, Event, Policy, Trace, WorkerMessage, WorkerSignal};

/// The state of the supervisor, as text, to compare before and after an event.
fn snapshot(h: &Harness) -> String {
    format!("{:?}", h.sup)
}

fn ignored(what: &'static str, id: u32) -> Vec<Command> {
    vec![trace(None, Trace::Unknown { what, id })]
}

/// What a `Forked` of unknown worker `id` with `pid` says: an error and SIGKILL.
fn stray_killed(id: u32, pid: u32) -> Vec<Command> {
    vec![
        trace(None, Trace::StartedAfterGivenUp { id, pid }),
        Command::Signal {
            id,
            pid,
            signal: WorkerSignal::Kill,
        },
    ]
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
fn forked_of_a_worker_never_known_kills_it_and_changes_nothing_else() {
    let mut h = busy();
    let before = snapshot(&h);
    let deadline = h.sup.poll_timeout();
    assert_eq!(
        h.handle_raw(Event::Forked { id: 99, pid: 4242 }),
        stray_killed(99, 4242)
    );
    assert_eq!(snapshot(&h), before);
    assert_eq!(h.sup.poll_timeout(), deadline);
}

#[test]
fn a_worker_given_up_before_its_fork_was_confirmed_is_killed_when_the_fork_arrives() {
    let mut h = Harness::new(policy(1));
    assert_eq!(h.start(), [fork(1, 0, 0)]);
    // Worker 1 never reported Forked; the reload's worker is ready first.
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(h.ready(2), [listening(2, 0, 1), reload_done(1)]);
    // Still no pid at its kill deadline: given up.
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), secs(5));
    assert_eq!(errors(&out), [Trace::NeverStarted { slot: 0 }]);
    assert_eq!(without_traces(out), NOTHING);
    assert_eq!(h.ids(), [2]);
    // Its fork is confirmed after all: the process must not run unsupervised.
    h.advance(secs(1));
    assert_eq!(
        h.handle_raw(Event::Forked { id: 1, pid: pid(1) }),
        stray_killed(1, pid(1))
    );
    assert_eq!(h.ids(), [2]);
    assert_eq!(h.deadline(), Some(secs(3600)));
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
        stray_killed(1, pid(1))
    );
    assert_eq!(snapshot(&h), before);
    // Exactly one restart came of it.
    assert_eq!(h.ids(), [2]);
}

#[test]
fn events_before_start_are_unknown() {
    let mut h = Harness::new(policy(1));
    // A process the core never asked for is killed all the same.
    assert_eq!(
        h.handle_raw(Event::Forked { id: 1, pid: pid(1) }),
        stray_killed(1, pid(1))
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
