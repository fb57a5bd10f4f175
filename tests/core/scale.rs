//! Scaling: slots added at the end fork at once and the scale is over when they are ready;
//! slots taken from the end retire their workers through the drain and go once empty. One
//! scale at a time, never alongside a reload; the latest target asked for meanwhile wins.

use super::harness::*;
use master_process::core::{
    Event, Notice, PauseCause, ScaleRefused, ScaleTo, Signal, Trace, WorkerMessage, MAX_WORKERS,
};

fn scale(h: &mut Harness, count: u32) -> Vec<master_process::core::Command> {
    h.handle(Event::Scale(ScaleTo::Count(count)))
}

fn scaled(workers: u32) -> master_process::core::Command {
    notify(Notice::Scaled { workers })
}

#[test]
fn scaling_up_forks_the_new_slots_and_is_over_when_they_are_ready() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 4), [fork(3, 2, 0), fork(4, 3, 0)]);
    assert_eq!(h.sup.slot_count(), 4);
    assert_eq!(h.sup.policy().workers, 2, "the configured count stays");
    assert!(h.sup.is_scaling());
    assert_eq!(h.ready(3), [listening(3, 2, 0)]);
    assert_eq!(h.ready(4), [listening(4, 3, 0), scaled(4)]);
    assert!(!h.sup.is_scaling());
    assert_eq!(h.sup.slots().len(), 4);
    assert_eq!(h.sup.slots()[3].serving, Some(4));
}

#[test]
fn new_slots_get_the_current_generation() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.hup();
    h.ready(2);
    h.retire_cleanly(1);
    assert_eq!(scale(&mut h, 2), [fork(3, 1, 1)]);
}

#[test]
fn scaling_down_drains_the_highest_slots_and_drops_them_once_empty() {
    let mut h = Harness::new(policy(4));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 2), [drain(4), drain(3)]);
    assert_eq!(h.sup.slot_count(), 2);
    assert_eq!(
        h.sup.slots().len(),
        4,
        "emptying slots stay until their workers are gone"
    );
    // The last slot goes first; slot 2 can only go once slot 3 has.
    assert_eq!(h.retire_cleanly(3), NOTHING);
    assert_eq!(h.sup.slots().len(), 4);
    assert_eq!(h.retire_cleanly(4), [scaled(2)]);
    assert_eq!(h.sup.slots().len(), 2);
    assert_eq!(h.ids(), [1, 2]);
    assert!(!h.sup.is_scaling());
}

#[test]
fn scale_down_is_logged_and_a_removed_slot_is_said_to_go() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    let out = h.handle_raw(Event::Scale(ScaleTo::Count(1)));
    assert!(traces(&out).contains(&Trace::ScaleStarts { from: 2, to: 1 }));
    h.handle(Event::Drained { id: 2 });
    h.handle(Event::Settled { id: 2 });
    let out = h.handle_raw(Event::Exited {
        id: 2,
        code: Some(0),
        signal: None,
    });
    let said = traces(&out);
    assert!(said.contains(&Trace::SlotRemoved { slot: 1 }), "{said:?}");
    assert!(said.contains(&Trace::ScaleDone {
        from: 2,
        workers: 1
    }));
}

#[test]
fn a_retired_slot_is_not_restarted_when_its_worker_crashes() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 1), [drain(2)]);
    // The retiring worker dies of its own accord: expected, no restart, the slot goes.
    let out = h.exited(2, 1);
    assert_eq!(out, [exit(2, 1, Some(1), None, true), scaled(1)]);
    assert_eq!(h.sup.slots().len(), 1);
    assert!(h.sup.slots().iter().all(|s| s.restart_at.is_none()));
}

#[test]
fn a_pending_crash_restart_of_a_removed_slot_is_dropped() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    // Slot 1 crashes fast: its restart waits for the throttle.
    h.exited(2, 1);
    assert!(h.sup.slots()[1].restart_at.is_some());
    assert_eq!(scale(&mut h, 1), [scaled(1)]);
    assert_eq!(h.sup.slots().len(), 1);
    assert!(
        h.sup.slots().iter().all(|s| s.restart_at.is_none()),
        "no restart is left pending"
    );
}

#[test]
fn scaling_to_the_current_count_is_over_at_once() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 2), [scaled(2)]);
}

#[test]
fn a_scale_during_a_reload_waits_for_it_and_the_latest_target_wins() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    assert_eq!(scale(&mut h, 5), NOTHING);
    assert_eq!(h.sup.scaling_to(), Some(5));
    assert_eq!(scale(&mut h, 3), NOTHING);
    assert!(h.sup.is_scaling());
    assert_eq!(h.sup.scaling_to(), Some(3));
    assert_eq!(h.sup.slot_count(), 2);
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    // The reload is over: the scale to 3 (not 5) starts, in the new generation.
    assert_eq!(
        h.ready(4),
        [listening(4, 1, 1), drain(2), reload_done(1), fork(5, 2, 1)]
    );
    assert_eq!(h.sup.scaling_to(), Some(3));
    assert_eq!(h.ready(5), [listening(5, 2, 1), scaled(3)]);
    assert_eq!(h.sup.slot_count(), 3);
    assert_eq!(h.sup.scaling_to(), None);
}

#[test]
fn a_reload_during_a_scale_up_waits_and_then_covers_every_slot() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 2), [fork(2, 1, 0)]);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.sup.awaited_reload(), Some(1));
    assert_eq!(
        h.ready(2),
        [listening(2, 1, 0), scaled(2), fork(3, 0, 1), fork(4, 1, 1)]
    );
    assert_eq!(h.sup.reloading(), Some(1));
}

#[test]
fn a_reload_during_a_scale_down_waits_for_the_removed_slots_to_empty() {
    let mut h = Harness::new(policy(3));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 1), [drain(3), drain(2)]);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.retire_cleanly(3), NOTHING);
    assert_eq!(h.retire_cleanly(2), [scaled(1), fork(4, 0, 1)]);
    assert_eq!(h.max_live, 3);
}

#[test]
fn a_scale_during_a_scale_waits_for_it() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 2), [fork(2, 1, 0)]);
    assert_eq!(scale(&mut h, 3), NOTHING);
    assert_eq!(h.sup.slot_count(), 2);
    assert_eq!(h.ready(2), [listening(2, 1, 0), scaled(2), fork(3, 2, 0)]);
    assert_eq!(h.ready(3), [listening(3, 2, 0), scaled(3)]);
}

#[test]
fn a_reload_runs_batches_over_the_scaled_count() {
    let mut h = Harness::new(master_process::core::Policy {
        reload_batch: 2,
        ..policy(1)
    });
    h.start_all_ready();
    scale(&mut h, 3);
    h.ready(2);
    h.ready(3);
    assert_eq!(h.hup(), [fork(4, 0, 1), fork(5, 1, 1)]);
}

#[test]
fn a_new_slot_whose_first_worker_crashes_ends_the_scale_and_restarts() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(scale(&mut h, 2), [fork(2, 1, 0)]);
    h.forked(2);
    let out = h.exited(2, 1);
    assert_eq!(out, [exit(2, 1, Some(1), None, false), scaled(2)]);
    assert!(h.sup.slots()[1].restart_at.is_some());
    assert_eq!(h.fire(), [fork(3, 1, 0)]);
}

#[test]
fn sigttin_adds_a_slot_and_sigttou_removes_one() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.signal(Signal::Ttin), [fork(3, 2, 0)]);
    // Counted from the latest target: 3 + 1 waits for the scale in progress.
    assert_eq!(h.signal(Signal::Ttin), NOTHING);
    assert_eq!(h.ready(3), [listening(3, 2, 0), scaled(3), fork(4, 3, 0)]);
    assert_eq!(h.ready(4), [listening(4, 3, 0), scaled(4)]);
    assert_eq!(h.signal(Signal::Ttou), [drain(4)]);
    assert_eq!(h.retire_cleanly(4), [scaled(3)]);
}

#[test]
fn never_below_one_nor_above_the_maximum() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(
        h.sup.scale_target(ScaleTo::Fewer),
        Err(ScaleRefused::AtMinimum)
    );
    let out = h.handle_raw(Event::Signal(Signal::Ttou));
    assert_eq!(
        out,
        [trace(
            None,
            Trace::ScaleRefused {
                reason: ScaleRefused::AtMinimum
            }
        )]
    );
    for bad in [0, MAX_WORKERS + 1] {
        assert_eq!(
            h.sup.scale_target(ScaleTo::Count(bad)),
            Err(ScaleRefused::OutOfRange { requested: bad })
        );
        assert_eq!(scale(&mut h, bad), NOTHING);
    }
    assert_eq!(
        h.sup.scale_target(ScaleTo::Count(MAX_WORKERS)),
        Ok(MAX_WORKERS)
    );
    let mut full = Harness::new(policy(MAX_WORKERS));
    full.start();
    assert_eq!(
        full.sup.scale_target(ScaleTo::More),
        Err(ScaleRefused::AtMaximum)
    );
    assert_eq!(full.signal(Signal::Ttin), NOTHING);
}

#[test]
fn no_scale_before_start_or_while_stopping() {
    let mut h = Harness::new(policy(1));
    assert_eq!(
        h.sup.scale_target(ScaleTo::Count(2)),
        Err(ScaleRefused::NotRunning)
    );
    assert_eq!(scale(&mut h, 2), NOTHING);
    h.start_all_ready();
    h.signal(Signal::Term);
    assert_eq!(
        h.sup.scale_target(ScaleTo::More),
        Err(ScaleRefused::NotRunning)
    );
    assert_eq!(scale(&mut h, 2), NOTHING);
}

#[test]
fn a_stop_drops_a_scale_in_progress_and_retires_every_slot() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    scale(&mut h, 2);
    let out = h.signal(Signal::Term);
    assert!(out.contains(&drain(1)));
    assert!(!h.sup.is_scaling());
    h.forked(2);
    h.retire_cleanly(1);
    assert!(h.retire_cleanly(2).contains(&master_exit(0)));
}

#[test]
fn pause_and_resume_requests_set_monitoring_without_signalling_workers() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.handle(Event::ResumeRequested), NOTHING);
    let out = h.handle_raw(Event::PauseRequested);
    assert_eq!(
        out,
        [trace(
            None,
            Trace::Monitoring {
                paused: true,
                cause: PauseCause::Request
            }
        )]
    );
    assert!(h.sup.is_paused());
    assert_eq!(h.handle_raw(Event::PauseRequested), NOTHING);
    assert_eq!(h.handle(Event::ResumeRequested), NOTHING);
    assert!(!h.sup.is_paused());
    // A worker's own pause counts the same; SIGUSR2 still toggles and signals.
    h.message(1, WorkerMessage::PauseMonitoring);
    assert_eq!(h.handle_raw(Event::PauseRequested), NOTHING);
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2)]);
    assert!(!h.sup.is_paused());
}

#[test]
fn the_awaited_reload_is_the_one_running_or_the_one_queued() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.sup.awaited_reload(), None);
    h.hup();
    assert_eq!(h.sup.awaited_reload(), Some(1));
    h.hup();
    assert_eq!(h.sup.awaited_reload(), Some(2));
    assert_eq!(h.sup.reloading(), Some(1));
}

#[test]
fn uptime_counts_from_start() {
    let mut h = Harness::new(policy(1));
    h.advance(secs(5));
    h.start();
    h.advance(secs(7));
    assert_eq!(h.sup.uptime(h.now()), secs(7));
}

#[test]
fn a_new_worker_that_never_gets_ready_ends_the_scale_at_the_ready_timeout() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    let began = h.elapsed();
    assert_eq!(scale(&mut h, 2), [fork(2, 1, 0)]);
    h.forked(2);
    assert_eq!(h.deadline(), Some(began + secs(30)));
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), began + secs(30));
    assert_eq!(
        errors(&out),
        [Trace::ScaleNotReady {
            starting: 1,
            timeout_ms: 30_000
        }]
    );
    assert_eq!(without_traces(out), [scaled(2)]);
    assert!(!h.sup.is_scaling());
    assert!(h.is_alive(2), "it keeps starting in its slot");
    assert_eq!(
        h.deadline(),
        Some(secs(3600)),
        "only the first monitoring round is due"
    );
}

#[test]
fn a_reload_queued_behind_a_hung_scale_up_starts_at_the_ready_timeout_and_replaces_it() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    scale(&mut h, 2);
    h.forked(2);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.fire(), [scaled(2), fork(3, 0, 1), fork(4, 1, 1)]);
    h.ready(3);
    h.ready(4);
    assert_eq!(h.sup.reloading(), None, "the reload is done");
    assert!(
        h.worker(2).is_retiring(),
        "the hung worker goes with its generation"
    );
}
