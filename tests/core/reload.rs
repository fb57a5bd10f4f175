//! Reloads: a new generation per reload, a batch's new workers forked at once, coalescing,
//! rolling batches and crashes during a reload. Swapping by slot (the default), each old
//! worker is retired as soon as its own replacement is ready and a failure rolls back only
//! the slots not swapped yet; swapping by batch (`Swap::Batch`), the old workers are retired
//! only once the whole batch is ready and a failure rolls the whole batch back.

use super::harness::*;
use master_process::core::{Event, Policy, Signal, Swap, Trace, Worker};

fn starting(h: &Harness) -> Vec<u32> {
    let fresh = |w: &&Worker| !w.is_ready() && !w.is_retiring();
    h.sup.workers().filter(fresh).map(|w| w.slot).collect()
}

#[test]
fn reload_forks_a_new_generation_and_retires_the_old_once_all_are_ready() {
    let mut h = Harness::new(Policy {
        swap: Swap::Batch,
        ..policy(2)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    assert_eq!(h.sup.reload_index(), 1);
    assert_eq!(h.live(), 4);

    // Half the batch is ready: nobody is retired yet.
    assert_eq!(h.ready(3), [listening(3, 0, 1)]);
    assert!(h.sup.workers().all(|w| !w.is_retiring()));

    assert_eq!(
        h.ready(4),
        [listening(4, 1, 1), drain(1), drain(2), reload_done(1)]
    );
    assert!(h.worker(1).is_retiring() && h.worker(2).is_retiring());

    // Drain -> Drained -> Settle -> Settled -> SIGTERM -> exit, for each old worker.
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.ids(), [3, 4]);
    assert!(h.sup.workers().all(|w| w.generation == 1 && w.is_ready()));
    assert_eq!(h.max_live, 4);
}

#[test]
fn reload_retires_each_old_worker_as_soon_as_its_own_replacement_is_ready() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    // The whole batch is forked at once, as when swapping by batch.
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    assert_eq!(h.live(), 4);

    // Slot 0's new worker is ready: slot 0's old worker goes, slot 1's keeps serving.
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    assert!(h.worker(1).is_retiring());
    assert!(h.worker(2).is_ready() && !h.worker(2).is_retiring());
    assert_eq!(h.sup.slots()[0].serving, Some(3));
    assert_eq!(h.sup.slots()[1].serving, Some(2));

    // Slot 1's new worker is ready: its old worker goes and the reload is done.
    assert_eq!(h.ready(4), [listening(4, 1, 1), drain(2), reload_done(1)]);
    assert_eq!(h.sup.slots()[1].serving, Some(4));
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.ids(), [3, 4]);
    assert!(h.sup.workers().all(|w| w.generation == 1 && w.is_ready()));
    assert_eq!(h.max_live, 4);
}

#[test]
fn slots_swap_in_the_order_their_new_workers_get_ready() {
    let mut h = Harness::new(policy(3));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(4, 0, 1), fork(5, 1, 1), fork(6, 2, 1)]);
    assert_eq!(h.ready(6), [listening(6, 2, 1), drain(3)]);
    assert_eq!(h.ready(4), [listening(4, 0, 1), drain(1)]);
    assert!(!h.worker(2).is_retiring());
    assert_eq!(h.ready(5), [listening(5, 1, 1), drain(2), reload_done(1)]);
}

#[test]
fn reload_requested_is_the_same_as_sighup_and_the_index_grows() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.handle(Event::ReloadRequested), [fork(2, 0, 1)]);
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    h.retire_cleanly(1);
    assert_eq!(h.hup(), [fork(3, 0, 2)]);
    assert_eq!(h.ready(3), [listening(3, 0, 2), drain(2), reload_done(2)]);
    h.retire_cleanly(2);
    assert_eq!(h.sup.reload_index(), 2);
    assert_eq!(h.worker(3).generation, 2);
}

#[test]
fn many_sighups_during_a_reload_coalesce_into_exactly_one_more() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);

    let first = h.handle_raw(Event::Signal(Signal::Hup));
    assert_eq!(without_traces(first.clone()), NOTHING);
    assert_eq!(debugs(&first), [Trace::ReloadQueued]);
    for _ in 0..5 {
        assert_eq!(h.handle_raw(Event::Signal(Signal::Hup)), NOTHING);
        assert_eq!(h.handle_raw(Event::ReloadRequested), NOTHING);
    }
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    assert_eq!(h.hup(), NOTHING);

    // Reload 1 is done; the queued one waits until the old generation is gone, so no more
    // than 2 x WORKERS workers are ever alive.
    assert_eq!(h.ready(4), [listening(4, 1, 1), drain(2), reload_done(1)]);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.retire_cleanly(2), [fork(5, 0, 2), fork(6, 1, 2)]);
    assert_eq!(h.sup.reload_index(), 2);

    assert_eq!(h.ready(5), [listening(5, 0, 2), drain(3)]);
    assert_eq!(h.ready(6), [listening(6, 1, 2), drain(4), reload_done(2)]);
    assert_eq!(h.retire_cleanly(3), NOTHING);
    assert_eq!(h.retire_cleanly(4), NOTHING);

    // Nothing else was queued: no third reload.
    assert_eq!(h.sup.reload_index(), 2);
    assert_eq!(h.ids(), [5, 6]);
    assert_eq!(h.max_live, 4);
}

#[test]
fn a_reload_asked_while_the_last_generation_still_drains_waits_for_it() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.hup();
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    assert_eq!(h.ready(4), [listening(4, 1, 1), drain(2), reload_done(1)]);
    // Workers 1 and 2 are still draining: a reload now would make 6 workers alive.
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.live(), 4);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    // SIGKILL at the kill timeout ends worker 1; its exit starts the reload.
    assert_eq!(h.handle(Event::Drained { id: 1 }), [settle(1)]);
    assert_eq!(h.deadline(), Some(secs(4)));
    assert_eq!(h.fire(), [term(1)]);
    assert_eq!(h.fire(), [sigkill(1)]);
    assert_eq!(h.elapsed(), secs(5));
    assert_eq!(
        h.signalled(1, "SIGKILL"),
        [
            exit(1, 0, None, Some("SIGKILL"), true),
            fork(5, 0, 2),
            fork(6, 1, 2)
        ]
    );
    assert_eq!(h.max_live, 4);
}

#[test]
fn sighups_during_the_second_reload_queue_a_third() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.hup();
    h.hup();
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    assert_eq!(h.retire_cleanly(1), [fork(3, 0, 2)]);
    h.hup();
    h.hup();
    assert_eq!(h.ready(3), [listening(3, 0, 2), drain(2), reload_done(2)]);
    assert_eq!(h.retire_cleanly(2), [fork(4, 0, 3)]);
    assert_eq!(h.ready(4), [listening(4, 0, 3), drain(3), reload_done(3)]);
    assert_eq!(h.retire_cleanly(3), NOTHING);
    assert_eq!(h.sup.reload_index(), 3);
    assert_eq!(h.max_live, 2);
}

#[test]
fn rolling_reload_replaces_one_slot_at_a_time() {
    let mut h = Harness::new(Policy {
        reload_batch: 1,
        ..policy(3)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(4, 0, 1)]);
    assert_eq!(starting(&h), [0]);
    assert_eq!(h.ready(4), [listening(4, 0, 1), drain(1), fork(5, 1, 1)]);
    assert_eq!(starting(&h), [1]);
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.ready(5), [listening(5, 1, 1), drain(2), fork(6, 2, 1)]);
    assert_eq!(starting(&h), [2]);
    assert!(!h.worker(3).is_retiring());
    assert_eq!(h.ready(6), [listening(6, 2, 1), drain(3), reload_done(1)]);
    assert_eq!(starting(&h), Vec::<u32>::new());
    h.retire_cleanly(2);
    h.retire_cleanly(3);
    assert_eq!(h.ids(), [4, 5, 6]);
    assert_eq!(h.max_live, 5);
}

#[test]
fn rolling_reload_in_batches_of_two() {
    let mut h = Harness::new(Policy {
        reload_batch: 2,
        ..policy(3)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(4, 0, 1), fork(5, 1, 1)]);
    assert_eq!(h.ready(4), [listening(4, 0, 1), drain(1)]);
    // The next batch starts once every slot of this one has swapped.
    assert_eq!(h.ready(5), [listening(5, 1, 1), drain(2), fork(6, 2, 1)]);
    assert_eq!(h.ready(6), [listening(6, 2, 1), drain(3), reload_done(1)]);
    assert!(h.max_live <= 6);
}

#[test]
fn rolling_reload_in_batches_of_two_swapping_by_batch() {
    let mut h = Harness::new(Policy {
        reload_batch: 2,
        swap: Swap::Batch,
        ..policy(3)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(4, 0, 1), fork(5, 1, 1)]);
    assert_eq!(h.ready(4), [listening(4, 0, 1)]);
    assert_eq!(
        h.ready(5),
        [listening(5, 1, 1), drain(1), drain(2), fork(6, 2, 1)]
    );
    assert_eq!(h.ready(6), [listening(6, 2, 1), drain(3), reload_done(1)]);
    assert!(h.max_live <= 6);
}

#[test]
fn old_worker_crashing_while_its_replacement_starts_is_not_restarted() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.advance(secs(10));
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(h.forked(2), NOTHING);
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    // Only the new worker's ready deadline is pending: no restart.
    assert_eq!(h.deadline(), Some(secs(40)));
    assert_eq!(h.listening(2), [listening(2, 0, 1), reload_done(1)]);
    assert_eq!(h.ids(), [2]);
}

#[test]
fn replacement_failing_after_the_old_worker_crashed_restarts_the_slot() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.advance(secs(10));
    h.hup();
    h.forked(2);
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    let reason = exited_before_ready(0, 2, 1);
    assert_eq!(
        h.exited(2, 1),
        [exit(2, 0, Some(1), None, false), reload_failed(1, reason)]
    );
    // The slot is empty: it is restarted after the throttle.
    assert_eq!(h.deadline(), Some(secs(11)));
    assert_eq!(h.fire(), [fork(3, 0, 1)]);
    assert_eq!(h.ready(3), [listening(3, 0, 1)]);
}

#[test]
fn a_pending_slot_whose_old_worker_crashes_is_restarted() {
    let mut h = Harness::new(Policy {
        reload_batch: 1,
        ..policy(3)
    });
    h.start_all_ready();
    h.advance(secs(10));
    assert_eq!(h.hup(), [fork(4, 0, 1)]);
    // Slot 2 is not in the current batch: restarted at once (healthy run).
    assert_eq!(
        h.exited(3, 1),
        [exit(3, 2, Some(1), None, false), fork(5, 2, 1)]
    );
    assert_eq!(h.ready(5), [listening(5, 2, 1)]);
    assert_eq!(h.ready(4), [listening(4, 0, 1), drain(1), fork(6, 1, 1)]);
    assert_eq!(h.ready(6), [listening(6, 1, 1), drain(2), fork(7, 2, 1)]);
    assert_eq!(h.ready(7), [listening(7, 2, 1), drain(5), reload_done(1)]);
}

#[test]
fn a_throttled_restart_is_taken_over_by_the_reload_batch() {
    let mut h = Harness::new(Policy {
        reload_batch: 1,
        ..policy(2)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1)]);
    h.advance(ms(300));
    assert_eq!(h.exited(2, 1), [exit(2, 1, Some(1), None, false)]);
    assert_eq!(h.deadline(), Some(secs(1)));
    h.advance(ms(200));
    // The batch for slot 1 forks now; the pending restart is dropped.
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1), fork(4, 1, 1)]);
    // Next deadline: worker 1's drain (4.5 s), not the restart at 1 s.
    assert_eq!(h.deadline(), Some(ms(4_500)));
    assert_eq!(h.ready(4), [listening(4, 1, 1), reload_done(1)]);
}

#[test]
fn a_new_worker_exiting_before_ready_rolls_its_batch_back() {
    let mut h = Harness::new(Policy {
        swap: Swap::Batch,
        ..policy(2)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    assert_eq!(h.ready(3), [listening(3, 0, 1)]);
    assert_eq!(h.forked(4), NOTHING);

    let out = h.handle_raw(Event::Exited {
        id: 4,
        code: Some(1),
        signal: None,
    });
    let reason = exited_before_ready(1, 4, 1);
    assert_eq!(
        errors(&out),
        [Trace::ReloadFailed {
            generation: 1,
            reason: reason.clone()
        }]
    );
    assert_eq!(
        without_traces(out),
        [
            exit(4, 1, Some(1), None, false),
            drain(3),
            reload_failed(1, reason)
        ]
    );
    // The old generation was never touched.
    for id in [1, 2] {
        assert!(h.worker(id).is_ready() && !h.worker(id).is_retiring());
    }
    assert_eq!(h.retire_cleanly(3), NOTHING);

    // A later reload succeeds.
    assert_eq!(h.hup(), [fork(5, 0, 2), fork(6, 1, 2)]);
    assert_eq!(h.ready(5), [listening(5, 0, 2)]);
    assert_eq!(
        h.ready(6),
        [listening(6, 1, 2), drain(1), drain(2), reload_done(2)]
    );
    assert_eq!(h.sup.reload_index(), 2);
}

#[test]
fn a_new_worker_missing_the_ready_timeout_rolls_its_batch_back() {
    let mut h = Harness::new(Policy {
        ready_timeout: secs(10),
        swap: Swap::Batch,
        ..policy(2)
    });
    h.start_all_ready();
    h.advance(secs(1));
    h.hup();
    h.ready(3);
    h.forked(4);
    assert_eq!(h.deadline(), Some(secs(11)));
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), secs(11));
    let reason = not_ready(1, 10000);
    assert_eq!(
        errors(&out),
        [Trace::ReloadFailed {
            generation: 1,
            reason: reason.clone()
        }]
    );
    assert_eq!(
        without_traces(out),
        [drain(3), drain(4), reload_failed(1, reason)]
    );
    assert!(h.worker(1).is_ready() && !h.worker(1).is_retiring());
    assert!(h.worker(2).is_ready() && !h.worker(2).is_retiring());
    // Too late: listening now changes nothing.
    assert_eq!(h.listening(4), [listening(4, 1, 1)]);
    assert!(h.worker(4).is_retiring());
    assert_eq!(h.retire_cleanly(3), NOTHING);
    assert_eq!(h.retire_cleanly(4), NOTHING);
    assert_eq!(h.ids(), [1, 2]);
}

#[test]
fn a_reload_queued_behind_a_timed_out_one_runs_once_and_is_not_failed() {
    let mut h = Harness::new(Policy {
        ready_timeout: secs(10),
        ..policy(2)
    });
    h.start_all_ready();
    h.advance(secs(1));
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    h.forked(3);
    h.forked(4);
    h.advance(secs(1));
    assert_eq!(h.hup(), NOTHING);
    let reason = not_ready(0, 10000);
    assert_eq!(h.fire(), [drain(3), drain(4), reload_failed(1, reason)]);
    assert_eq!(h.retire_cleanly(3), NOTHING);
    assert_eq!(h.retire_cleanly(4), [fork(5, 0, 2), fork(6, 1, 2)]);
    assert_eq!(h.ready(5), [listening(5, 0, 2), drain(1)]);
    assert_eq!(h.ready(6), [listening(6, 1, 2), drain(2), reload_done(2)]);
    assert_eq!(h.max_live, 4);
}

#[test]
fn rollback_of_a_rolling_reload_keeps_the_batches_already_done() {
    let mut h = Harness::new(Policy {
        reload_batch: 1,
        ..policy(2)
    });
    h.start_all_ready();
    h.hup();
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1), fork(4, 1, 1)]);
    h.forked(4);
    let reason = exited_before_ready(1, 4, 1);
    assert_eq!(
        h.exited(4, 1),
        [exit(4, 1, Some(1), None, false), reload_failed(1, reason)]
    );
    assert!(!h.worker(2).is_retiring());
    assert!(!h.worker(3).is_retiring());
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.ids(), [2, 3]);
}

#[test]
fn a_new_worker_exiting_before_ready_rolls_back_only_the_slots_not_swapped() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    // Slot 0 swaps at once.
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    assert_eq!(h.forked(4), NOTHING);

    let out = h.handle_raw(Event::Exited {
        id: 4,
        code: Some(1),
        signal: None,
    });
    let reason = exited_before_ready(1, 4, 1);
    assert_eq!(
        errors(&out),
        [Trace::ReloadFailed {
            generation: 1,
            reason: reason.clone()
        }]
    );
    // Nothing to roll back but slot 1, whose new worker is gone already.
    assert_eq!(
        without_traces(out),
        [exit(4, 1, Some(1), None, false), reload_failed(1, reason)]
    );
    // Slot 0 keeps its new worker, slot 1 its old one.
    assert!(h.worker(3).is_ready() && !h.worker(3).is_retiring());
    assert!(h.worker(2).is_ready() && !h.worker(2).is_retiring());
    assert_eq!(h.sup.slots()[0].serving, Some(3));
    assert_eq!(h.sup.slots()[1].serving, Some(2));
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.ids(), [2, 3]);

    // A later reload replaces both generations.
    assert_eq!(h.hup(), [fork(5, 0, 2), fork(6, 1, 2)]);
    assert_eq!(h.ready(5), [listening(5, 0, 2), drain(3)]);
    assert_eq!(h.ready(6), [listening(6, 1, 2), drain(2), reload_done(2)]);
}

#[test]
fn a_new_worker_missing_the_ready_timeout_rolls_back_only_the_slots_not_swapped() {
    let mut h = Harness::new(Policy {
        ready_timeout: secs(10),
        ..policy(2)
    });
    h.start_all_ready();
    h.advance(secs(1));
    h.hup();
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    h.forked(4);
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.deadline(), Some(secs(11)));
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), secs(11));
    let reason = not_ready(1, 10000);
    assert_eq!(
        errors(&out),
        [Trace::ReloadFailed {
            generation: 1,
            reason: reason.clone()
        }]
    );
    assert_eq!(without_traces(out), [drain(4), reload_failed(1, reason)]);
    assert!(h.worker(3).is_ready() && !h.worker(3).is_retiring());
    assert!(h.worker(2).is_ready() && !h.worker(2).is_retiring());
    assert_eq!(h.retire_cleanly(4), NOTHING);
    assert_eq!(h.ids(), [2, 3]);
}

#[test]
fn a_version_that_fails_everywhere_leaves_every_old_worker_untouched() {
    let mut h = Harness::new(policy(3));
    h.start_all_ready();
    h.advance(secs(10));
    assert_eq!(h.hup(), [fork(4, 0, 1), fork(5, 1, 1), fork(6, 2, 1)]);
    for id in [4, 5, 6] {
        assert_eq!(h.forked(id), NOTHING);
    }
    // The first new worker to die fails the reload and rolls the others back.
    let reason = exited_before_ready(1, 5, 1);
    assert_eq!(
        h.exited(5, 1),
        [
            exit(5, 1, Some(1), None, false),
            drain(4),
            drain(6),
            reload_failed(1, reason)
        ]
    );
    // The others die too: they are being retired, so their exits are expected.
    assert_eq!(h.exited(4, 1), [exit(4, 0, Some(1), None, true)]);
    assert_eq!(h.exited(6, 1), [exit(6, 2, Some(1), None, true)]);

    assert_eq!(h.ids(), [1, 2, 3]);
    for id in [1, 2, 3] {
        assert!(h.worker(id).is_ready() && !h.worker(id).is_retiring());
        assert_eq!(h.worker(id).generation, 0);
    }
    // No restart is pending: only the next sampling round.
    assert_eq!(h.deadline(), Some(secs(3600)));
    assert_eq!(h.max_live, 6);
}
