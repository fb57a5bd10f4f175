//! Stopping: every worker retired, SIGKILL at the kill timeout, a probe when a SIGKILLed
//! worker's exit is not reported, socket removed, exit code.

use super::harness::*;
use master_process::core::{
    Command, Event, NewVersion, Policy, Signal, StopReason, Trace, EXIT_PACKAGE_CHANGED,
};

#[test]
fn a_worker_ignoring_sigterm_gets_sigkill_exactly_at_the_kill_timeout() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.advance(secs(1));
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(1),
            drain(2)
        ]
    );
    assert_eq!(h.retire_cleanly(1), NOTHING);

    // Worker 2 drains and settles, then ignores SIGTERM.
    assert_eq!(h.handle(Event::Drained { id: 2 }), [settle(2)]);
    assert_eq!(h.handle(Event::Settled { id: 2 }), [term(2)]);
    assert_eq!(h.deadline(), Some(secs(6)));
    assert_eq!(h.fire(), [sigkill(2)]);
    assert_eq!(h.elapsed(), secs(6));
    // Nothing more to wait for but the exit, for EXIT_GRACE (1 s).
    assert_eq!(h.deadline(), Some(secs(7)));
    assert_eq!(
        h.signalled(2, "SIGKILL"),
        [exit(2, 1, None, Some("SIGKILL"), true), master_exit(0)]
    );
    assert!(h.sup.has_exited());
    assert_eq!(h.sup.poll_timeout(), None);
}

#[test]
fn a_worker_that_never_drains_gets_sigterm_then_sigkill() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(
        h.signal(Signal::Int),
        [
            stopping(0, by_signal(Signal::Int)),
            close_listeners(),
            drain(1)
        ]
    );
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.elapsed(), secs(4));
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(5));
    assert_eq!(
        h.signalled(1, "SIGKILL"),
        [exit(1, 0, None, Some("SIGKILL"), true), master_exit(0)]
    );
}

#[test]
fn the_unix_socket_is_removed_before_exit() {
    let mut h = Harness::new(Policy {
        unix_socket: true,
        drain: false,
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
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            term(1)
        ]
    );
    assert_eq!(
        h.exited(1, 0),
        [
            exit(1, 0, Some(0), None, true),
            Command::RemoveSocket,
            master_exit(0)
        ]
    );
}

#[test]
fn a_second_stop_is_ignored() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(1),
            drain(2)
        ]
    );
    let deadline = h.deadline();
    h.advance(secs(2));
    let out = h.handle_raw(Event::Signal(Signal::Int));
    assert_eq!(
        debugs(&out),
        [Trace::AlreadyStopping {
            reason: by_signal(Signal::Int)
        }]
    );
    assert_eq!(without_traces(out), NOTHING);
    assert_eq!(h.handle(Event::StopRequested), NOTHING);
    assert_eq!(h.signal(Signal::Term), NOTHING);
    // The kill timeout still counts from the first stop.
    assert_eq!(h.deadline(), deadline);
    assert_eq!(h.deadline(), Some(secs(4)));
}

#[test]
fn stop_requested_is_a_stop_with_exit_zero() {
    let mut h = Harness::new(Policy {
        drain: false,
        ..policy(1)
    });
    h.start_all_ready();
    assert_eq!(
        h.handle(Event::StopRequested),
        [
            stopping(0, StopReason::Requested),
            close_listeners(),
            term(1)
        ]
    );
    assert_eq!(
        h.exited(1, 0),
        [exit(1, 0, Some(0), None, true), master_exit(0)]
    );
}

#[test]
fn stop_before_start_exits_at_once() {
    let mut h = Harness::new(Policy {
        unix_socket: true,
        ..policy(2)
    });
    assert_eq!(
        h.handle(Event::StopRequested),
        [
            stopping(0, StopReason::Requested),
            close_listeners(),
            Command::RemoveSocket,
            master_exit(0)
        ]
    );
    assert_eq!(h.start(), NOTHING);
    assert_eq!(h.live(), 0);
}

#[test]
fn nothing_restarts_or_reloads_while_stopping() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.advance(secs(10));
    h.signal(Signal::Term);
    // A crash while stopping is expected and not restarted.
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, true)]);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.handle(Event::ReloadRequested), NOTHING);
    assert_eq!(h.live(), 1);
    assert_eq!(h.deadline(), Some(secs(14)));
    assert_eq!(h.retire_cleanly(2), [master_exit(0)]);
}

#[test]
fn a_pending_restart_is_dropped_by_a_stop() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.exited(1, 1);
    assert_eq!(h.deadline(), Some(secs(1)));
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(2)
        ]
    );
    assert_eq!(h.deadline(), Some(secs(4)));
    assert_eq!(h.retire_cleanly(2), [master_exit(0)]);
}

#[test]
fn stop_during_a_reload_retires_old_and_new() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    h.forked(2);
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(1),
            drain(2)
        ]
    );
    // The new worker listening now does not finish the reload.
    assert_eq!(h.listening(2), [listening(2, 0, 1)]);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.retire_cleanly(1), [master_exit(0)]);
}

#[test]
fn a_worker_without_pid_at_stop_is_retired_when_its_pid_arrives() {
    let mut h = Harness::new(policy(1));
    h.start();
    assert_eq!(
        h.signal(Signal::Term),
        [stopping(0, by_signal(Signal::Term)), close_listeners()]
    );
    // No pid: nothing to signal; only the deadline to give it up.
    assert_eq!(h.deadline(), Some(secs(5)));
    h.advance(secs(1));
    assert_eq!(h.forked(1), [drain(1)]);
    // The kill timeout counts from the stop, not from the fork.
    assert_eq!(h.deadline(), Some(secs(4)));
    assert_eq!(h.retire_cleanly(1), [master_exit(0)]);
}

#[test]
fn package_changed_stops_with_exit_code_1() {
    let mut h = Harness::new(Policy {
        new_version: NewVersion::Exit,
        ..policy(2)
    });
    h.start_all_ready();
    h.advance(secs(10));
    assert_eq!(
        h.exited(1, 1),
        [exit(1, 0, Some(1), None, false), fork(3, 0, 0)]
    );
    // The shell did not fork worker 3: the package on disk is another version.
    let out = h.handle_raw(Event::PackageChanged {
        id: 3,
        version: "5.1.0".into(),
    });
    assert_eq!(
        errors(&out),
        [Trace::PackageChanged {
            version: "5.1.0".into()
        }]
    );
    let reason = StopReason::PackageChanged {
        version: "5.1.0".into(),
    };
    assert_eq!(
        without_traces(out),
        [
            stopping(EXIT_PACKAGE_CHANGED, reason),
            close_listeners(),
            drain(2)
        ]
    );
    assert!(!h.is_alive(3));
    assert_eq!(h.retire_cleanly(2), [master_exit(1)]);
}

#[test]
fn package_changed_with_no_other_worker_exits_1_at_once() {
    let mut h = Harness::new(Policy {
        new_version: NewVersion::Exit,
        ..policy(1)
    });
    h.start_all_ready();
    h.advance(secs(10));
    h.exited(1, 1);
    assert_eq!(
        h.handle(Event::PackageChanged {
            id: 2,
            version: "6.0.0".into()
        }),
        [
            stopping(
                1,
                StopReason::PackageChanged {
                    version: "6.0.0".into()
                }
            ),
            close_listeners(),
            master_exit(1)
        ]
    );
}

#[test]
fn after_exit_nothing_is_done() {
    let mut h = Harness::new(Policy {
        drain: false,
        ..policy(1)
    });
    h.start_all_ready();
    h.signal(Signal::Term);
    h.exited(1, 0);
    assert!(h.sup.has_exited());
    for event in [
        Event::Start,
        Event::Signal(Signal::Hup),
        Event::Signal(Signal::Term),
        Event::Forked { id: 1, pid: 1 },
        Event::Tick,
    ] {
        assert_eq!(h.handle_raw(event), NOTHING);
    }
    assert_eq!(h.sup.poll_timeout(), None);
}

#[test]
fn a_worker_that_never_reports_its_fork_does_not_hold_the_stop_forever() {
    let mut h = Harness::new(policy(1));
    h.start();
    assert_eq!(
        h.signal(Signal::Term),
        [stopping(0, by_signal(Signal::Term)), close_listeners()]
    );
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), secs(5));
    assert_eq!(errors(&out), [Trace::NeverStarted { slot: 0 }]);
    assert_eq!(without_traces(out), [master_exit(0)]);
}

#[test]
fn stop_finishes_when_the_exit_of_a_sigkilled_worker_is_never_reported() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(
        h.signal(Signal::Int),
        [
            stopping(0, by_signal(Signal::Int)),
            close_listeners(),
            drain(1)
        ]
    );
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(5));
    assert_eq!(h.fire(), [probe(1)]);
    assert_eq!(h.elapsed(), secs(6));
    assert_eq!(h.sup.poll_timeout(), None);
    assert_eq!(
        h.handle(Event::Probed {
            id: 1,
            exited: true
        }),
        [exit(1, 0, None, None, true), master_exit(0)]
    );
    assert!(h.sup.has_exited());
}

#[test]
fn stop_finishes_when_a_sigkilled_worker_is_stuck() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(1),
            drain(2)
        ]
    );
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.fire(), [term(2)]);
    assert_eq!(h.fire(), [sigkill(2)]);
    assert_eq!(h.fire(), [probe(2)]);
    let out = h.handle_raw(Event::Probed {
        id: 2,
        exited: false,
    });
    assert_eq!(
        errors(&out),
        [Trace::StuckAfterKill {
            slot: 1,
            pid: Some(1002),
            grace: ms(1000)
        }]
    );
    assert_eq!(without_traces(out), [release(2), master_exit(0)]);
    assert!(h.sup.has_exited());
}

#[test]
fn a_stop_asked_on_the_control_socket_is_a_clean_stop_with_its_reason() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(
        h.handle(Event::ControlStop),
        [
            stopping(0, StopReason::ControlSocket),
            close_listeners(),
            drain(1)
        ]
    );
    assert_eq!(h.retire_cleanly(1), [master_exit(0)]);
}
