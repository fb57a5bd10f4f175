//! Retiring one worker: drain, settle, SIGTERM, SIGKILL at the kill timeout, and a probe
//! when its exit is not reported within `EXIT_GRACE` (1 s) of the SIGKILL.

use super::harness::*;
use master_process::core::{Event, Notice, Phase, Policy, RetireStage, Signal, Trace};

/// A one-slot master whose worker 1 is retired by a reload at `at`; worker 2 serves.
fn reloaded_at(policy: Policy, at: std::time::Duration) -> Harness {
    let mut h = Harness::new(policy);
    h.start_all_ready();
    h.advance_to(at);
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    h
}

fn stage(h: &Harness, id: u32) -> Option<RetireStage> {
    match h.worker(id).phase {
        Phase::Retiring(r) => Some(r.stage),
        _ => None,
    }
}

#[test]
fn without_drain_sigterm_goes_out_at_once() {
    let mut h = reloaded_at(
        Policy {
            drain: false,
            ..policy(1)
        },
        secs(10),
    );
    assert_eq!(h.ready(2), [listening(2, 0, 1), term(1), reload_done(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::Terminating));
    assert_eq!(h.deadline(), Some(secs(15)));
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::Killed));
    assert_eq!(
        h.signalled(1, "SIGKILL"),
        [exit(1, 0, None, Some("SIGKILL"), true)]
    );
}

#[test]
fn a_drain_that_never_answers_gets_sigterm_at_the_margin_and_sigkill_at_the_timeout() {
    let mut h = reloaded_at(policy(1), secs(10));
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::Draining));
    // kill_timeout 5 s, margin min(5 s / 4, 1 s) = 1 s.
    assert_eq!(h.deadline(), Some(secs(14)));
    let out = h.fire_raw();
    assert_eq!(debugs(&out), [Trace::DrainLate]);
    assert_eq!(without_traces(out), [term(1)]);
    assert_eq!(h.elapsed(), secs(14));
    assert_eq!(h.deadline(), Some(secs(15)));
    let out = h.fire_raw();
    assert_eq!(
        debugs(&out),
        [Trace::KillTimeout {
            stage: RetireStage::Terminating
        }]
    );
    assert_eq!(without_traces(out), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(15));
    // Killed: nothing more to do for it but wait for its exit, for EXIT_GRACE.
    assert_eq!(h.deadline(), Some(secs(16)));
    assert_eq!(h.exited(1, 0), [exit(1, 0, Some(0), None, true)]);
    assert_eq!(h.deadline(), Some(secs(3600)));
}

#[test]
fn a_short_kill_timeout_has_a_quarter_as_margin() {
    let mut h = reloaded_at(
        Policy {
            kill_timeout: secs(2),
            ..policy(1)
        },
        secs(0),
    );
    h.ready(2);
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.elapsed(), ms(1500));
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(2));
}

#[test]
fn term_margin_of_the_policy() {
    let margin = |ms_| {
        Policy {
            kill_timeout: ms(ms_),
            ..Policy::default()
        }
        .term_margin()
    };
    assert_eq!(margin(0), ms(0));
    assert_eq!(margin(2000), ms(500));
    assert_eq!(margin(4000), ms(1000));
    assert_eq!(margin(60_000), ms(1000));
}

#[test]
fn drained_but_never_settled_gets_sigterm_at_the_margin() {
    let mut h = reloaded_at(policy(1), secs(0));
    h.ready(2);
    assert_eq!(h.handle(Event::Drained { id: 1 }), [settle(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::Settling));
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.elapsed(), secs(4));
    // A settle that comes too late changes nothing.
    assert_eq!(h.handle(Event::Settled { id: 1 }), NOTHING);
    assert_eq!(h.handle(Event::Drained { id: 1 }), NOTHING);
    assert_eq!(stage(&h, 1), Some(RetireStage::Terminating));
    assert_eq!(h.exited(1, 0), [exit(1, 0, Some(0), None, true)]);
}

#[test]
fn settled_before_drained_is_ignored() {
    let mut h = reloaded_at(policy(1), secs(0));
    h.ready(2);
    assert_eq!(h.handle(Event::Settled { id: 1 }), NOTHING);
    assert_eq!(stage(&h, 1), Some(RetireStage::Draining));
    // Drained and Settled of a worker that is not retiring mean nothing.
    assert_eq!(h.handle(Event::Drained { id: 2 }), NOTHING);
    assert_eq!(h.handle(Event::Settled { id: 2 }), NOTHING);
    assert!(!h.worker(2).is_retiring());
}

#[test]
fn retired_before_its_pid_is_known_then_forked() {
    let mut h = Harness::new(policy(1));
    assert_eq!(h.start(), [fork(1, 0, 0)]);
    // Worker 1 never reported Forked; the reload's worker is ready first.
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(h.ready(2), [listening(2, 0, 1), reload_done(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::AwaitPid));
    // No pid: nothing to signal; its kill deadline is when it would be given up.
    assert_eq!(h.deadline(), Some(secs(5)));
    h.advance(secs(1));
    assert_eq!(h.forked(1), [drain(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::Draining));
    // Its deadlines count from the retirement.
    assert_eq!(h.deadline(), Some(secs(4)));
    assert_eq!(h.retire_cleanly(1), NOTHING);
}

#[test]
fn retired_before_its_pid_is_known_without_drain() {
    let mut h = Harness::new(Policy {
        drain: false,
        ..policy(1)
    });
    h.start();
    h.hup();
    assert_eq!(h.ready(2), [listening(2, 0, 1), reload_done(1)]);
    assert_eq!(h.forked(1), [term(1)]);
    assert_eq!(h.deadline(), Some(secs(5)));
}

#[test]
fn retired_before_its_pid_is_known_and_never_forked() {
    let mut h = Harness::new(policy(1));
    h.start();
    h.hup();
    h.ready(2);
    let out = h.handle(Event::Exited {
        id: 1,
        code: Some(1),
        signal: None,
    });
    let notice = Notice::WorkerExit {
        id: 1,
        pid: None,
        slot: 0,
        status: status(Some(1), None),
        expected: true,
    };
    assert_eq!(out, [notify(notice)]);
    assert_eq!(h.ids(), [2]);
}

#[test]
fn retiring_again_keeps_the_first_deadlines() {
    let mut h = reloaded_at(policy(1), secs(10));
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    h.advance(secs(2));
    // Stop: only the worker that was not retiring yet gets a drain.
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            drain(2)
        ]
    );
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.elapsed(), secs(14));
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(15));
    // Worker 1's exit grace ends when worker 2's drain time does.
    assert_eq!(h.fire(), [probe(1), term(2)]);
    assert_eq!(h.elapsed(), secs(16));
}

#[test]
fn an_exit_not_reported_within_the_grace_after_sigkill_gets_a_probe() {
    let mut h = reloaded_at(
        Policy {
            drain: false,
            ..policy(1)
        },
        secs(10),
    );
    assert_eq!(h.ready(2), [listening(2, 0, 1), term(1), reload_done(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(15));
    // EXIT_GRACE is 1 s.
    assert_eq!(h.deadline(), Some(secs(16)));
    assert_eq!(h.fire(), [probe(1)]);
    assert_eq!(h.elapsed(), secs(16));
    assert_eq!(stage(&h, 1), Some(RetireStage::Probing));
    // Waiting for the answer: no deadline of its own.
    assert_eq!(h.deadline(), Some(secs(3600)));
}

#[test]
fn a_probe_finding_the_process_gone_counts_as_its_exit() {
    let mut h = reloaded_at(policy(1), secs(10));
    h.ready(2);
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.fire(), [probe(1)]);
    let out = h.handle_raw(Event::Probed {
        id: 1,
        exited: true,
    });
    assert_eq!(
        debugs(&out),
        [Trace::Exited {
            slot: 0,
            status: status(None, None)
        }]
    );
    assert_eq!(without_traces(out), [exit(1, 0, None, None, true)]);
    assert_eq!(h.ids(), [2]);
    // The real exit, if it comes after all, is of a worker no longer known.
    let out = h.handle_raw(Event::Exited {
        id: 1,
        code: None,
        signal: Some("SIGKILL".into()),
    });
    assert_eq!(
        debugs(&out),
        [Trace::Unknown {
            what: "exit",
            id: 1
        }]
    );
    assert_eq!(without_traces(out), NOTHING);
}

#[test]
fn a_process_still_there_after_sigkill_is_given_up_with_an_error() {
    let mut h = reloaded_at(policy(1), secs(10));
    h.ready(2);
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.fire(), [probe(1)]);
    let out = h.handle_raw(Event::Probed {
        id: 1,
        exited: false,
    });
    assert_eq!(
        errors(&out),
        [Trace::StuckAfterKill {
            slot: 0,
            pid: Some(1001),
            grace: ms(1000)
        }]
    );
    assert_eq!(without_traces(out), [release(1)], "its pidfd is let go");
    assert_eq!(h.ids(), [2]);
    assert_eq!(h.deadline(), Some(secs(3600)));
}

#[test]
fn a_queued_reload_starts_once_a_process_stuck_after_sigkill_is_given_up() {
    let mut h = reloaded_at(policy(1), secs(10));
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    // Worker 1 still retires: the next reload waits for it.
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.fire(), [probe(1)]);
    assert_eq!(
        h.handle(Event::Probed {
            id: 1,
            exited: false
        }),
        [release(1), fork(3, 0, 2)]
    );
    assert_eq!(h.ready(3), [listening(3, 0, 2), drain(2), reload_done(2)]);
}

#[test]
fn a_probe_answer_for_a_worker_not_being_probed_changes_nothing() {
    let mut h = reloaded_at(policy(1), secs(10));
    h.ready(2);
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    let before = format!("{:?}", h.sup);
    // Worker 1 was SIGKILLed but not probed yet, worker 2 serves, worker 9 never was.
    for id in [1, 2, 9] {
        for exited in [true, false] {
            let event = Event::Probed { id, exited };
            assert_eq!(h.handle_raw(event.clone()), NOTHING, "{event:?}");
            assert_eq!(format!("{:?}", h.sup), before, "{event:?}");
        }
    }
    assert_eq!(stage(&h, 1), Some(RetireStage::Killed));
    assert_eq!(h.deadline(), Some(secs(16)));
}

#[test]
fn the_exit_grace_counts_from_when_sigkill_was_sent() {
    let mut h = Harness::new(policy(1));
    h.start();
    h.hup();
    assert_eq!(h.ready(2), [listening(2, 0, 1), reload_done(1)]);
    assert_eq!(h.deadline(), Some(secs(5)));
    // The shell was stalled: worker 1's fork is confirmed 2 s past its kill deadline, before
    // any tick gave it up. It is killed at once, and probed 1 s after that.
    h.advance_to(secs(7));
    assert_eq!(h.forked(1), [drain(1), sigkill(1)]);
    assert_eq!(stage(&h, 1), Some(RetireStage::Killed));
    assert_eq!(h.deadline(), Some(secs(8)));
    assert_eq!(h.fire(), [probe(1)]);
}
