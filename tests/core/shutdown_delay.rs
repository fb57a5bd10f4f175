//! The shutdown delay: a stop asked from outside is announced at once (the app's `stopping`,
//! the service manager's STOPPING=1, `is_stopping()` for `/readyz`) while the workers keep
//! serving; at the deadline the usual stop begins. Off (0) by default.

use super::harness::*;
use master_process::core::{
    Event, NewVersion, Policy, ServiceState, Signal, StopReason, Trace, EXIT_PACKAGE_CHANGED,
};

fn delayed(workers: u32) -> Policy {
    Policy {
        shutdown_delay: secs(5),
        ..policy(workers)
    }
}

#[test]
fn sigterm_announces_the_stop_and_closes_nothing_until_the_delay_is_over() {
    let mut h = Harness::new(delayed(2));
    h.start_all_ready();
    let out = h.handle_raw(Event::Signal(Signal::Term));
    assert_eq!(services(&out), [ServiceState::Stopping]);
    assert_eq!(without_traces(out), [stopping(0, by_signal(Signal::Term))]);
    assert!(h.sup.is_stopping());
    assert_eq!(h.sup.shutdown_delay_left(h.now()), Some(secs(5)));
    assert_eq!(h.live(), 2);

    assert_eq!(h.deadline(), Some(secs(5)));
    assert_eq!(h.fire(), [close_listeners(), drain(1), drain(2)]);
    assert_eq!(h.sup.shutdown_delay_left(h.now()), None);
    h.retire_cleanly(1);
    assert_eq!(h.retire_cleanly(2), [master_exit(0)]);
}

#[test]
fn a_second_sigterm_during_the_delay_stops_at_once() {
    let mut h = Harness::new(delayed(1));
    h.start_all_ready();
    h.signal(Signal::Term);
    h.advance(secs(1));
    let out = h.handle_raw(Event::Signal(Signal::Int));
    assert!(traces(&out).contains(&Trace::DelayCutShort {
        reason: by_signal(Signal::Int)
    }));
    assert_eq!(services(&out), [], "STOPPING=1 was said once already");
    assert_eq!(without_traces(out), [close_listeners(), drain(1)]);
}

#[test]
fn during_the_delay_a_crashed_worker_comes_back_and_a_reload_or_scale_is_refused() {
    let mut h = Harness::new(delayed(2));
    h.start_all_ready();
    assert_eq!(
        h.handle(Event::ControlStop),
        [stopping(0, StopReason::ControlSocket)]
    );
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    assert_eq!(h.fire(), [fork(3, 0, 0)], "restarted after the throttle");
    let out = h.handle_raw(Event::Signal(Signal::Hup));
    assert_eq!(traces(&out), [Trace::ReloadIgnored]);
    assert_eq!(without_traces(out), []);
    assert!(h
        .sup
        .scale_target(master_process::core::ScaleTo::Count(4))
        .is_err());
    assert_eq!(h.deadline(), Some(secs(5)), "the stop is still due at 5 s");
}

#[test]
fn the_launcher_exiting_stops_the_master_like_sigterm() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(
        h.handle(Event::LauncherExited { pid: 77 }),
        [
            stopping(0, StopReason::LauncherExited { pid: 77 }),
            close_listeners(),
            drain(1)
        ]
    );
}

#[test]
fn a_stop_the_master_decides_on_itself_does_not_wait_for_the_delay() {
    let mut h = Harness::new(Policy {
        new_version: NewVersion::Exit,
        ..delayed(1)
    });
    h.start_all_ready();
    h.advance(secs(10));
    assert_eq!(
        h.exited(1, 1),
        [exit(1, 0, Some(1), None, false), fork(2, 0, 0)]
    );
    // The shell did not fork worker 2: the package on disk is another version.
    let out = h.handle(Event::PackageChanged {
        id: 2,
        version: "9.9.9".into(),
    });
    assert!(out.contains(&close_listeners()), "{out:?}");
    assert!(out.contains(&stopping(
        EXIT_PACKAGE_CHANGED,
        StopReason::PackageChanged {
            version: "9.9.9".into()
        }
    )));
}

#[test]
fn with_no_delay_sigterm_closes_the_listeners_at_once_as_in_4x() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(1)
        ]
    );
    assert_eq!(h.sup.shutdown_delay_left(h.now()), None);
}
