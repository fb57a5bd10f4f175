//! Crashes: restart throttle (the first `PACED_CRASHES` fast crashes in a row at the 4.x
//! pace), exponential back-off after that, and the crash-loop breaker.

use super::harness::*;
use master_process::core::{
    Event, Policy, StopReason, Trace, WorkerTag, EXIT_CRASH_LOOP, PACED_CRASHES,
};

#[test]
fn a_short_lived_worker_is_restarted_when_the_throttle_has_passed_since_its_start() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.advance(ms(300));
    let out = h.handle_raw(Event::Exited {
        id: 1,
        code: Some(1),
        signal: None,
    });
    assert_eq!(
        debugs(&out).last(),
        Some(&Trace::RestartIn {
            slot: 0,
            delay: ms(700)
        })
    );
    assert_eq!(without_traces(out), [exit(1, 0, Some(1), None, false)]);
    assert_eq!(h.deadline(), Some(secs(1)));
    assert_eq!(h.fire(), [fork(2, 0, 0)]);
    assert_eq!(h.elapsed(), secs(1));
}

#[test]
fn the_throttle_counts_from_the_fork_event() {
    let mut h = Harness::new(policy(1));
    assert_eq!(h.start(), [fork(1, 0, 0)]);
    h.advance(ms(50));
    h.ready(1);
    h.advance(ms(300));
    h.exited(1, 1);
    assert_eq!(h.deadline(), Some(ms(1050)));
}

#[test]
fn a_healthy_run_is_restarted_at_once() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.advance(secs(1));
    assert_eq!(
        h.exited(2, 1),
        [exit(2, 1, Some(1), None, false), fork(3, 1, 0)]
    );
    h.advance(secs(5));
    assert_eq!(
        h.signalled(1, "SIGSEGV"),
        [exit(1, 0, None, Some("SIGSEGV"), false), fork(4, 0, 0)]
    );
}

#[test]
fn a_worker_that_never_got_ready_counts_as_a_fast_crash() {
    let mut h = Harness::new(Policy {
        max_crashes: 2,
        ..policy(1)
    });
    h.start();
    h.forked(1);
    h.advance(secs(5));
    // Lived longer than the throttle, but never listened: restart at once, counted.
    assert_eq!(
        h.exited(1, 1),
        [exit(1, 0, Some(1), None, false), fork(2, 0, 0)]
    );
    h.forked(2);
    h.advance(secs(5));
    let out = h.exited(2, 1);
    assert_eq!(out.last(), Some(&master_exit(EXIT_CRASH_LOOP)));
}

#[test]
fn throttle_zero_restarts_at_once() {
    let mut h = Harness::new(Policy {
        throttle: secs(0),
        ..policy(1)
    });
    h.start_all_ready();
    h.advance(ms(300));
    assert_eq!(
        h.exited(1, 1),
        [exit(1, 0, Some(1), None, false), fork(2, 0, 0)]
    );
    // Even a crash before ready (a fast crash) waits for nothing.
    h.forked(2);
    assert_eq!(
        h.exited(2, 1),
        [exit(2, 0, Some(1), None, false), fork(3, 0, 0)]
    );
    h.forked(3);
    assert_eq!(
        h.exited(3, 1),
        [exit(3, 0, Some(1), None, false), fork(4, 0, 0)]
    );
}

#[test]
fn the_first_three_fast_crashes_in_a_row_restart_at_the_throttle_minus_uptime() {
    let mut h = Harness::new(Policy {
        max_crashes: 0,
        ..policy(1)
    });
    h.start_all_ready();
    let mut id = 1;
    // Each worker listens, lives `uptime` ms, and dies: restarted 1 s after its start.
    for (uptime, restart_in) in [(200, 800), (500, 500), (900, 100)] {
        let started = h.elapsed();
        h.advance(ms(uptime));
        let out = h.handle_raw(Event::Exited {
            id,
            code: Some(1),
            signal: None,
        });
        assert_eq!(
            debugs(&out).last(),
            Some(&Trace::RestartIn {
                slot: 0,
                delay: ms(restart_in)
            })
        );
        assert_eq!(h.fire(), [fork(id + 1, 0, 0)]);
        assert_eq!(h.elapsed(), started + secs(1));
        id += 1;
        h.ready(id);
    }
    assert_eq!(id, 1 + PACED_CRASHES);
    // The fourth in a row is the first to wait longer: 2 s minus its 200 ms.
    h.advance(ms(200));
    let out = h.handle_raw(Event::Exited {
        id,
        code: Some(1),
        signal: None,
    });
    assert_eq!(
        debugs(&out).last(),
        Some(&Trace::RestartIn {
            slot: 0,
            delay: ms(1800)
        })
    );
}

#[test]
fn backoff_doubles_per_fast_crash_after_the_third_up_to_max_throttle() {
    let policy = Policy {
        throttle: secs(1),
        max_throttle: secs(5),
        max_crashes: 0,
        ..policy(1)
    };
    let mut h = Harness::new(policy);
    h.start_all_ready();
    let mut id = 1;
    let mut delays = Vec::new();
    for _ in 0..6 {
        // Dies as soon as it is up.
        assert_eq!(h.exited(id, 1), [exit(id, 0, Some(1), None, false)]);
        let crashed_at = h.elapsed();
        assert_eq!(h.fire(), [fork(id + 1, 0, 0)]);
        delays.push((h.elapsed() - crashed_at).as_secs());
        id += 1;
        h.forked(id);
    }
    assert_eq!(delays, [1, 1, 1, 2, 4, 5]);
}

#[test]
fn backoff_of_the_policy() {
    let policy = Policy {
        throttle: ms(500),
        max_throttle: secs(3),
        ..Policy::default()
    };
    let got: Vec<u64> = (0..8)
        .map(|n| policy.backoff(n).as_millis() as u64)
        .collect();
    assert_eq!(got, [500, 500, 500, 500, 1000, 2000, 3000, 3000]);
    assert_eq!(policy.backoff(u32::MAX), secs(3));
    // A max below the throttle never shortens the throttle.
    let low = Policy {
        throttle: secs(2),
        max_throttle: secs(1),
        ..Policy::default()
    };
    assert_eq!(low.backoff(5), secs(2));
}

#[test]
fn backoff_minus_uptime() {
    let mut h = Harness::new(Policy {
        max_crashes: 0,
        ..policy(1)
    });
    h.start_all_ready();
    // Three fast crashes at the throttle's pace.
    for id in 1..=3 {
        h.exited(id, 1);
        assert_eq!(h.fire(), [fork(id + 1, 0, 0)]);
        assert_eq!(h.elapsed(), secs(id as u64));
    }
    h.ready(4);
    h.advance(ms(600));
    // Fourth fast crash: back-off 2 s, lived 0.6 s: 1.4 s more.
    let out = h.handle_raw(Event::Exited {
        id: 4,
        code: Some(1),
        signal: None,
    });
    assert!(debugs(&out).contains(&Trace::RestartIn {
        slot: 0,
        delay: ms(1400)
    }));
    assert_eq!(h.deadline(), Some(ms(5000)));
}

#[test]
fn a_healthy_run_resets_the_backoff() {
    let mut h = Harness::new(Policy {
        max_crashes: 0,
        ..policy(1)
    });
    h.start_all_ready();
    for id in 1..=3 {
        h.exited(id, 1);
        h.fire();
        h.forked(id + 1);
    }
    // The fourth fast crash in a row waits 2 s.
    h.exited(4, 1);
    assert_eq!(h.deadline(), Some(secs(5)));
    assert_eq!(h.fire(), [fork(5, 0, 0)]);
    h.ready(5);
    h.advance(secs(60));
    // Healthy run: at once, and the count starts over.
    assert_eq!(
        h.exited(5, 1),
        [exit(5, 0, Some(1), None, false), fork(6, 0, 0)]
    );
    h.ready(6);
    h.exited(6, 1);
    assert_eq!(h.deadline(), Some(secs(66)));
}

#[test]
fn a_crash_loop_gives_up_with_exit_70_once_the_workers_are_gone() {
    let mut h = Harness::new(Policy {
        max_crashes: 3,
        ..policy(2)
    });
    h.start_all_ready();
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    assert_eq!(h.fire(), [fork(3, 0, 0)]);
    assert_eq!(h.elapsed(), secs(1));
    h.forked(3);
    assert_eq!(h.exited(3, 1), [exit(3, 0, Some(1), None, false)]);
    assert_eq!(h.fire(), [fork(4, 0, 0)]);
    assert_eq!(h.elapsed(), secs(2));
    h.forked(4);

    let out = h.handle_raw(Event::Exited {
        id: 4,
        code: Some(1),
        signal: None,
    });
    let crash_loop = Trace::CrashLoop { slot: 0, streak: 3 };
    let tag = WorkerTag {
        id: 4,
        pid: Some(pid(4)),
        slot: 0,
    };
    assert!(
        out.contains(&trace(Some(tag), crash_loop.clone())),
        "{out:?}"
    );
    assert_eq!(errors(&out), [crash_loop]);
    let reason = StopReason::CrashLoop { slot: 0, streak: 3 };
    assert_eq!(
        without_traces(out),
        [
            exit(4, 0, Some(1), None, false),
            stopping(EXIT_CRASH_LOOP, reason),
            close_listeners(),
            drain(2)
        ]
    );
    // No restart is pending, only worker 2's retirement.
    assert_eq!(h.deadline(), Some(secs(2 + 4)));
    assert!(!h.sup.has_exited());
    assert_eq!(h.retire_cleanly(2), [master_exit(70)]);
    assert!(h.sup.has_exited());
    assert_eq!(h.sup.poll_timeout(), None);
    assert_eq!(
        h.handle_raw(Event::Signal(master_process::core::Signal::Hup)),
        NOTHING
    );
    assert_eq!(h.handle_raw(Event::Start), NOTHING);
}

#[test]
fn a_crash_loop_of_the_only_worker_exits_at_once() {
    let mut h = Harness::new(Policy {
        max_crashes: 2,
        ..policy(1)
    });
    h.start_all_ready();
    h.exited(1, 1);
    h.fire();
    h.forked(2);
    let reason = StopReason::CrashLoop { slot: 0, streak: 2 };
    assert_eq!(
        h.exited(2, 1),
        [
            exit(2, 0, Some(1), None, false),
            stopping(70, reason),
            close_listeners(),
            master_exit(70)
        ]
    );
    assert!(h.sup.has_exited());
}

#[test]
fn max_crashes_zero_never_gives_up() {
    let mut h = Harness::new(Policy {
        max_crashes: 0,
        max_throttle: secs(2),
        ..policy(1)
    });
    h.start_all_ready();
    for id in 1..=30 {
        assert_eq!(h.exited(id, 1), [exit(id, 0, Some(1), None, false)]);
        assert_eq!(h.fire(), [fork(id + 1, 0, 0)]);
        h.forked(id + 1);
    }
    assert!(!h.sup.has_exited());
}

#[test]
fn a_restart_joins_the_current_generation_in_the_same_slot() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.hup();
    h.ready(3);
    h.ready(4);
    h.retire_cleanly(1);
    h.retire_cleanly(2);
    h.advance(secs(10));
    assert_eq!(
        h.exited(4, 1),
        [exit(4, 1, Some(1), None, false), fork(5, 1, 1)]
    );
}

#[test]
fn a_fast_crash_in_one_slot_does_not_throttle_another() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.exited(1, 1);
    assert_eq!(h.deadline(), Some(secs(1)));
    h.advance(ms(500));
    // Slot 1 crashes fast too: its own streak, one second after its own start.
    assert_eq!(h.exited(2, 1), [exit(2, 1, Some(1), None, false)]);
    assert_eq!(h.fire(), [fork(3, 0, 0), fork(4, 1, 0)]);
    assert_eq!(h.elapsed(), secs(1));
    h.ready(4);
    h.ready(3);
    h.advance(ms(100));
    assert_eq!(h.exited(3, 1), [exit(3, 0, Some(1), None, false)]);
    // Slot 0's second fast crash: paced, 1 s after its start.
    assert_eq!(h.deadline(), Some(ms(2000)));
    assert_eq!(h.fire(), [fork(5, 0, 0)]);
    h.forked(5);
    h.exited(5, 1);
    assert_eq!(h.fire(), [fork(6, 0, 0)]);
    h.forked(6);
    // Slot 0's fourth fast crash in a row: 2 s back-off. Slot 1's crash did not count, or
    // this would be the fifth (4 s).
    assert_eq!(h.exited(6, 1), [exit(6, 0, Some(1), None, false)]);
    assert_eq!(h.elapsed(), secs(3));
    assert_eq!(h.deadline(), Some(secs(5)));
}

#[test]
fn a_healthy_run_ended_by_a_reload_breaks_the_crash_streak() {
    let mut h = Harness::new(Policy {
        max_crashes: 2,
        ..policy(1)
    });
    h.start_all_ready();
    assert_eq!(h.exited(1, 1), [exit(1, 0, Some(1), None, false)]);
    assert_eq!(h.fire(), [fork(2, 0, 0)]);
    h.ready(2);
    // Worker 2 serves for half an hour, then a reload replaces it: it never crashes.
    h.advance(secs(1800));
    assert_eq!(h.hup(), [fork(3, 0, 1)]);
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(2), reload_done(1)]);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    h.advance(ms(300));
    // A fast crash, but the first one since a healthy run: restarted, not a crash loop.
    assert_eq!(h.exited(3, 1), [exit(3, 0, Some(1), None, false)]);
    assert!(!h.sup.has_exited());
    assert_eq!(h.fire(), [fork(4, 0, 1)]);
    assert_eq!(h.elapsed(), secs(1802));
}

#[test]
fn retiring_a_worker_that_ran_too_short_keeps_the_crash_streak() {
    let mut h = Harness::new(Policy {
        max_crashes: 2,
        ..policy(1)
    });
    h.start_all_ready();
    h.exited(1, 1);
    assert_eq!(h.fire(), [fork(2, 0, 0)]);
    h.ready(2);
    h.advance(ms(100));
    h.hup();
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(2), reload_done(1)]);
    h.advance(ms(300));
    let reason = StopReason::CrashLoop { slot: 0, streak: 2 };
    assert_eq!(
        h.exited(3, 1),
        [
            exit(3, 0, Some(1), None, false),
            stopping(70, reason),
            close_listeners()
        ]
    );
    assert_eq!(h.retire_cleanly(2), [master_exit(70)]);
}
