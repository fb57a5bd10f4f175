//! Monitoring: warm-up, memory and CPU streaks, mem_high, pause/resume, and the replacement
//! of a condemned worker (fork first, retire the old one once the new one is ready).

use super::harness::*;
use master_process::core::{
    Command, Event, Limits, NodeCommand, Notice, PauseCause, Policy, Reading, ReplaceReason,
    SampleResult, Signal, Trace, WorkerId, WorkerMessage, WorkerNote,
};

/// Limits: 100 MiB x 3 samples, 90 % CPU x 3 samples, a round every 2 s after 10 s.
fn monitored(workers: u32) -> Policy {
    let limits = Limits {
        max_memory_bytes: 100 * MB,
        mem_failures: 3,
        max_cpu_percent: 90.0,
        cpu_failures: 3,
        interval: secs(2),
        warmup: secs(10),
    };
    Policy {
        workers,
        limits,
        ..Policy::default()
    }
}

/// Fire rounds that sample nobody until one asks for a `Sample`; its targets.
fn first_round(h: &mut Harness) -> Vec<(WorkerId, u32)> {
    loop {
        match h.fire().as_slice() {
            [] => continue,
            [Command::Sample { targets }] => return targets.clone(),
            other => panic!("unexpected {other:?} at {:?}", h.elapsed()),
        }
    }
}

/// One round for worker `id` alone with `reading`; what the verdict said.
fn round(h: &mut Harness, id: WorkerId, rss_mb: u64, cpu: f64) -> Vec<Command> {
    assert_eq!(h.sample_round(), [(id, pid(id))]);
    h.samples(&[(id, reading(rss_mb, cpu))])
}

/// The reason of `command` if it sends `to` the note that it replaced a faulty worker.
fn replaced_for(command: &Command, to: WorkerId) -> Option<ReplaceReason> {
    match command {
        Command::Node(NodeCommand::Send {
            id,
            note: WorkerNote::ReplacedFaulty { reason, .. },
        }) if *id == to => Some(*reason),
        _ => None,
    }
}

#[test]
fn nobody_is_sampled_during_the_warm_up() {
    let mut h = Harness::new(monitored(2));
    h.start_all_ready();
    for at in [2, 4, 6, 8] {
        assert_eq!(h.fire(), NOTHING);
        assert_eq!(h.elapsed(), secs(at));
    }
    // Samples that come anyway are not judged.
    assert_eq!(h.samples(&[(1, reading(1000, 100.0)), (2, None)]), NOTHING);
    assert_eq!(h.sample_round(), [(1, pid(1)), (2, pid(2))]);
    assert_eq!(h.elapsed(), secs(10));
    assert_eq!(h.sample_round(), [(1, pid(1)), (2, pid(2))]);
    assert_eq!(h.elapsed(), secs(12));
}

#[test]
fn warm_up_counts_from_each_worker_own_start() {
    let mut h = Harness::new(monitored(2));
    h.start();
    h.ready(1);
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.fire(), NOTHING);
    h.advance_to(secs(5));
    h.ready(2);
    assert_eq!(first_round(&mut h), [(1, pid(1))]);
    assert_eq!(h.elapsed(), secs(10));
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    assert_eq!(h.sample_round(), [(1, pid(1)), (2, pid(2))]);
    assert_eq!(h.elapsed(), secs(16));
}

#[test]
fn a_memory_streak_condemns_and_the_replacement_takes_over() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    assert_eq!(first_round(&mut h), [(1, pid(1))]);
    assert_eq!(h.samples(&[(1, reading(120, 1.0))]), [mem_high(1, 120.0)]);
    assert_eq!(round(&mut h, 1, 120, 1.0), [mem_high(1, 120.0)]);
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    let out = h.samples_raw(&[(1, reading(120, 1.0))]);
    assert!(debugs(&out).contains(&Trace::Replacing {
        slot: 0,
        reason: ReplaceReason::Memory
    }));
    // Fork first, same slot and generation; the old one keeps serving meanwhile.
    assert_eq!(without_traces(out), [mem_high(1, 120.0), fork(2, 0, 0)]);
    assert_eq!(h.elapsed(), secs(14));
    assert!(!h.worker(1).is_retiring());

    // The slot is being replaced: nobody in it is sampled, late samples are ignored.
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.samples(&[(1, reading(500, 100.0))]), NOTHING);
    assert_eq!(h.forked(2), NOTHING);
    assert_eq!(h.fire(), NOTHING);

    let out = h.listening(2);
    assert_eq!(out.len(), 4, "{out:?}");
    assert_eq!(out[0], listening(2, 0, 0));
    assert_eq!(out[1], replaced_faulty(1, 2, ReplaceReason::Memory));
    assert_eq!(
        out[2..],
        [drain(1), replaced(0, 1, 2, ReplaceReason::Memory)]
    );
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.ids(), [2]);
}

#[test]
fn a_good_sample_resets_the_memory_streak() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, reading(120, 1.0))]), [mem_high(1, 120.0)]);
    assert_eq!(round(&mut h, 1, 120, 1.0), [mem_high(1, 120.0)]);
    assert_eq!(round(&mut h, 1, 50, 1.0), NOTHING);
    assert_eq!(round(&mut h, 1, 120, 1.0), [mem_high(1, 120.0)]);
    assert_eq!(round(&mut h, 1, 120, 1.0), [mem_high(1, 120.0)]);
    assert_eq!(
        round(&mut h, 1, 120, 1.0),
        [mem_high(1, 120.0), fork(2, 0, 0)]
    );
}

#[test]
fn a_cpu_streak_condemns_and_a_good_sample_resets_it() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, reading(10, 95.0))]), NOTHING);
    assert_eq!(round(&mut h, 1, 10, 95.0), NOTHING);
    assert_eq!(round(&mut h, 1, 10, 50.0), NOTHING);
    assert_eq!(round(&mut h, 1, 10, 95.0), NOTHING);
    assert_eq!(round(&mut h, 1, 10, 90.0), NOTHING);
    assert_eq!(round(&mut h, 1, 10, 95.0), NOTHING);
    assert_eq!(round(&mut h, 1, 10, 95.0), NOTHING);
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    let out = h.samples_raw(&[(1, reading(10, 99.0))]);
    assert!(debugs(&out).contains(&Trace::Replacing {
        slot: 0,
        reason: ReplaceReason::Cpu
    }));
    assert_eq!(without_traces(out), [fork(2, 0, 0)]);
    let out = h.ready(2);
    assert_eq!(replaced_for(&out[1], 2), Some(ReplaceReason::Cpu));
    assert_eq!(out[3], replaced(0, 1, 2, ReplaceReason::Cpu));
}

#[test]
fn mem_high_is_sent_above_80_percent_of_the_limit() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, reading(80, 1.0))]), NOTHING);
    assert_eq!(round(&mut h, 1, 81, 1.0), [mem_high(1, 81.0)]);
    assert_eq!(round(&mut h, 1, 99, 1.0), [mem_high(1, 99.0)]);
    assert_eq!(round(&mut h, 1, 100, 1.0), [mem_high(1, 100.0)]);
    // At the limit is not over it: still no replacement.
    assert_eq!(round(&mut h, 1, 100, 1.0), [mem_high(1, 100.0)]);
    assert_eq!(h.live(), 1);
}

#[test]
fn mem_high_carries_the_unrounded_percentage_as_4x_did() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    let limit = h.sup.policy().limits.max_memory_bytes;
    let rss_bytes = limit / 10_000 * 8543; // 85.43 %
    let percent = rss_bytes as f64 * 100.0 / limit as f64;
    assert!((percent - 85.43).abs() < 0.01 && percent.fract() != 0.0);
    let sample = Some(Reading {
        cpu_percent: 1.0,
        rss_bytes,
    });
    assert_eq!(h.samples(&[(1, sample)]), [mem_high(1, percent)]);
}

#[test]
fn a_worker_that_cannot_be_sampled_is_condemned_at_once() {
    let mut h = Harness::new(monitored(2));
    h.start_all_ready();
    assert_eq!(first_round(&mut h), [(1, pid(1)), (2, pid(2))]);
    let out = h.samples_raw(&[(1, reading(10, 1.0)), (2, None)]);
    assert_eq!(
        debugs(&out),
        [
            Trace::Replacing {
                slot: 1,
                reason: ReplaceReason::Unsampled
            },
            Trace::Forking {
                slot: 1,
                generation: 0
            }
        ]
    );
    assert_eq!(without_traces(out), [fork(3, 1, 0)]);
    // Slot 1 is being replaced: only slot 0 is sampled now.
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    let out = h.ready(3);
    assert_eq!(replaced_for(&out[1], 3), Some(ReplaceReason::Unsampled));
    assert_eq!(
        out[2..],
        [drain(2), replaced(1, 2, 3, ReplaceReason::Unsampled)]
    );
}

#[test]
fn a_worker_sampled_after_it_exited_is_left_to_its_exit_not_replaced() {
    let mut h = Harness::new(monitored(2));
    h.start_all_ready();
    assert_eq!(first_round(&mut h), [(1, pid(1)), (2, pid(2))]);
    // Worker 1 is alive but unreadable; worker 2 has ended, its exit not in yet.
    let out = h.sample_results_raw(&[(1, SampleResult::Unreadable), (2, SampleResult::Exited)]);
    assert_eq!(
        debugs(&out),
        [
            Trace::Replacing {
                slot: 0,
                reason: ReplaceReason::Unsampled
            },
            Trace::Forking {
                slot: 0,
                generation: 0
            },
            Trace::SampledAfterExit
        ]
    );
    assert_eq!(without_traces(out), [fork(3, 0, 0)]);
    assert!(!h.worker(2).is_retiring());
    assert_eq!(h.sup.slots()[1].incoming, None);
    // The exit restarts slot 1 as any crash does (a healthy run: at once).
    assert_eq!(
        h.exited(2, 1),
        [exit(2, 1, Some(1), None, false), fork(4, 1, 0)]
    );
    assert_eq!(h.ready(4), [listening(4, 1, 0)]);
    let out = h.ready(3);
    assert_eq!(
        out[2..],
        [drain(1), replaced(0, 1, 3, ReplaceReason::Unsampled)]
    );
}

#[test]
fn the_replacement_keeps_the_slot_and_the_generation() {
    let mut h = Harness::new(Policy {
        reload_batch: 0,
        ..monitored(2)
    });
    h.start_all_ready();
    h.hup();
    h.ready(3);
    h.ready(4);
    h.retire_cleanly(1);
    h.retire_cleanly(2);
    // Skip the rounds in which the retirement deadlines and warm-ups pass.
    assert_eq!(first_round(&mut h), [(3, pid(3)), (4, pid(4))]);
    assert_eq!(h.samples(&[(4, None)]), [fork(5, 1, 1)]);
}

#[test]
fn paused_monitoring_asks_for_no_sample_and_ignores_samples() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, reading(120, 1.0))]), [mem_high(1, 120.0)]);
    assert_eq!(h.signal(Signal::Usr2), [usr2(1)]);
    assert!(h.sup.is_paused());
    for _ in 0..5 {
        assert_eq!(h.fire(), NOTHING);
        assert_eq!(h.samples(&[(1, reading(500, 100.0))]), NOTHING);
        assert_eq!(h.samples(&[(1, None)]), NOTHING);
    }
    assert_eq!(h.signal(Signal::Usr2), [usr2(1)]);
    assert!(!h.sup.is_paused());
    // The streak went on where it was: two more over the limit condemn.
    assert_eq!(round(&mut h, 1, 120, 1.0), [mem_high(1, 120.0)]);
    assert_eq!(
        round(&mut h, 1, 120, 1.0),
        [mem_high(1, 120.0), fork(2, 0, 0)]
    );
}

#[test]
fn sigusr2_toggles_every_time_and_is_forwarded_to_every_worker() {
    let mut h = Harness::new(monitored(3));
    h.start();
    h.ready(1);
    h.ready(2);
    // Worker 3 has no pid yet: nothing to signal.
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2)]);
    assert!(h.sup.is_paused());
    h.forked(3);
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2), usr2(3)]);
    assert!(!h.sup.is_paused());
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2), usr2(3)]);
    assert!(h.sup.is_paused());
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2), usr2(3)]);
    assert!(!h.sup.is_paused());
}

#[test]
fn sigusr2_reaches_retiring_workers_too() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    h.hup();
    h.ready(2);
    assert!(h.worker(1).is_retiring());
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2)]);
}

#[test]
fn workers_pause_and_resume_monitoring_by_message() {
    let mut h = Harness::new(monitored(2));
    h.start_all_ready();
    first_round(&mut h);
    let out = h.handle_raw(Event::Message {
        id: 1,
        message: WorkerMessage::PauseMonitoring,
    });
    assert_eq!(
        debugs(&out),
        [Trace::Monitoring {
            paused: true,
            cause: PauseCause::Worker
        }]
    );
    assert_eq!(without_traces(out), NOTHING);
    assert!(h.sup.is_paused());
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.samples(&[(2, None)]), NOTHING);
    // Pausing twice is still paused; any worker may resume.
    assert_eq!(h.message(1, WorkerMessage::PauseMonitoring), NOTHING);
    assert!(h.sup.is_paused());
    assert_eq!(h.message(2, WorkerMessage::ResumeMonitoring), NOTHING);
    assert!(!h.sup.is_paused());
    assert_eq!(h.sample_round(), [(1, pid(1)), (2, pid(2))]);
    // SIGUSR2 after a message toggles from the current state.
    h.message(1, WorkerMessage::PauseMonitoring);
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), usr2(2)]);
    assert!(!h.sup.is_paused());
}

#[test]
fn nobody_is_sampled_while_a_reload_runs() {
    let mut h = Harness::new(Policy {
        reload_batch: 1,
        ..monitored(2)
    });
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.hup(), [fork(3, 0, 1)]);
    h.forked(3);
    // A sampling round passes without a Sample, and late readings change nothing.
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.samples(&[(1, None), (2, None), (3, None)]), NOTHING);
    assert_eq!(
        h.listening(3),
        [listening(3, 0, 1), drain(1), fork(4, 1, 1)]
    );
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.samples(&[(1, None), (2, None), (3, None)]), NOTHING);
}

#[test]
fn a_worker_exiting_mid_streak_leaves_no_streak_behind() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, reading(120, 95.0))]), [mem_high(1, 120.0)]);
    assert_eq!(round(&mut h, 1, 120, 95.0), [mem_high(1, 120.0)]);
    h.advance(secs(1));
    // Healthy run (13 s): restarted at once.
    assert_eq!(
        h.exited(1, 1),
        [exit(1, 0, Some(1), None, false), fork(2, 0, 0)]
    );
    h.ready(2);
    // A sample of the dead worker that was in flight is ignored.
    assert_eq!(h.samples(&[(1, reading(120, 95.0))]), NOTHING);
    // The new worker warms up first (rounds at 14..22 s), then starts from zero.
    assert_eq!(first_round(&mut h), [(2, pid(2))]);
    assert_eq!(h.elapsed(), secs(24));
    assert_eq!(h.samples(&[(2, reading(120, 95.0))]), [mem_high(2, 120.0)]);
    assert_eq!(round(&mut h, 2, 120, 95.0), [mem_high(2, 120.0)]);
    assert_eq!(
        round(&mut h, 2, 120, 95.0),
        [mem_high(2, 120.0), fork(3, 0, 0)]
    );
}

#[test]
fn the_old_worker_dying_during_its_replacement_is_not_restarted() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, None)]), [fork(2, 0, 0)]);
    h.forked(2);
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    let out = h.listening(2);
    let note = WorkerNote::ReplacedFaulty {
        reason: ReplaceReason::Unsampled,
        old_pid: None,
        new_pid: Some(pid(2)),
    };
    assert_eq!(out[1], send(2, note));
    let notice = Notice::WorkerReplaced {
        slot: 0,
        old_pid: None,
        new_pid: Some(pid(2)),
        reason: ReplaceReason::Unsampled,
    };
    assert_eq!(out[2..], [notify(notice)]);
    assert_eq!(h.ids(), [2]);
}

#[test]
fn a_replacement_that_exits_before_ready_leaves_the_old_worker_serving() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, None)]), [fork(2, 0, 0)]);
    h.forked(2);
    let out = h.handle_raw(Event::Exited {
        id: 2,
        code: Some(1),
        signal: None,
    });
    assert_eq!(
        errors(&out),
        [Trace::ReplacementFailed {
            reason: exited_before_ready(0, 2, 1)
        }]
    );
    assert_eq!(without_traces(out), [exit(2, 0, Some(1), None, false)]);
    assert!(!h.worker(1).is_retiring());
    // Worker 1 serves its slot again and is sampled again.
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    assert_eq!(h.samples(&[(1, None)]), [fork(3, 0, 0)]);
}

#[test]
fn a_replacement_that_misses_the_ready_timeout_is_retired() {
    let mut h = Harness::new(Policy {
        ready_timeout: secs(5),
        ..monitored(1)
    });
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, None)]), [fork(2, 0, 0)]);
    h.forked(2);
    assert_eq!(h.elapsed(), secs(10));
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.fire(), NOTHING);
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), secs(15));
    assert_eq!(
        errors(&out),
        [Trace::ReplacementFailed {
            reason: not_ready(0, 5000)
        }]
    );
    assert_eq!(without_traces(out), [drain(2)]);
    assert!(!h.worker(1).is_retiring());
    // Not sampled while its slot still retires the failed replacement, then sampled again.
    assert_eq!(h.fire(), NOTHING);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.sample_round(), [(1, pid(1))]);
    assert_eq!(h.elapsed(), secs(18));
}

#[test]
fn a_reload_waits_for_a_replacement_in_progress() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, None)]), [fork(2, 0, 0)]);
    h.forked(2);
    // Queued: forking now would run three workers for one slot.
    assert_eq!(h.hup(), NOTHING);
    let out = h.listening(2);
    assert_eq!(out[0], listening(2, 0, 0));
    assert!(replaced_for(&out[1], 2).is_some(), "{out:?}");
    assert_eq!(
        out[2..],
        [drain(1), replaced(0, 1, 2, ReplaceReason::Unsampled)]
    );
    assert_eq!(h.retire_cleanly(1), [fork(3, 0, 1)]);
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(2), reload_done(1)]);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.ids(), [3]);
}

#[test]
fn no_sampling_while_stopping() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    h.signal(Signal::Term);
    assert_eq!(h.deadline(), Some(secs(14)));
    assert_eq!(h.samples(&[(1, None)]), NOTHING);
}

#[test]
fn a_reload_queued_behind_a_replacement_runs_when_the_old_worker_died_first() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    first_round(&mut h);
    assert_eq!(h.samples(&[(1, None)]), [fork(2, 0, 0)]);
    h.forked(2);
    assert_eq!(h.hup(), NOTHING);
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    let out = h.listening(2);
    assert!(replaced_for(&out[1], 2).is_some(), "{out:?}");
    assert_eq!(out.last(), Some(&fork(3, 0, 1)), "{out:?}");
}

#[test]
fn the_latest_reading_of_each_worker_is_kept_for_status() {
    let mut h = Harness::new(monitored(1));
    h.start_all_ready();
    assert_eq!(h.worker(1).last_reading, None);
    first_round(&mut h);
    h.samples(&[(1, reading(40, 12.5))]);
    assert_eq!(h.worker(1).last_reading, reading(40, 12.5));
    round(&mut h, 1, 50, 3.0);
    assert_eq!(h.worker(1).last_reading, reading(50, 3.0));
}
