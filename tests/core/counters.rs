//! The totals behind `/metrics`: reloads by outcome and their durations on the fake clock,
//! restarts by how the worker ended, replacements by reason, the hand-off's rescued
//! connections, and none of them ever going down across reloads, crashes and scales.

use super::harness::*;
use master_process::core::{Counters, Event, Policy, ScaleTo, RELOAD_BUCKETS};

fn counters(h: &Harness) -> Counters {
    h.sup.counters().clone()
}

/// The histogram's cumulative count at the bucket whose bound is `le` seconds.
fn at_or_under(c: &Counters, le: f64) -> u64 {
    let i = RELOAD_BUCKETS
        .iter()
        .position(|&b| b == le)
        .expect("a bound");
    c.reload_seconds.cumulative()[i]
}

#[test]
fn a_reload_done_counts_once_with_its_duration_on_the_fake_clock() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    h.advance(ms(700));
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    let c = counters(&h);
    assert_eq!((c.reloads_done, c.reloads_rolled_back), (1, 0));
    assert_eq!(c.reload_seconds.count, 1);
    assert!((c.reload_seconds.sum - 0.7).abs() < 1e-9);
    assert_eq!(at_or_under(&c, 0.5), 0, "0.7 s is over the 0.5 s bound");
    assert_eq!(at_or_under(&c, 1.0), 1);
    assert_eq!(at_or_under(&c, 300.0), 1);
}

#[test]
fn a_reload_rolled_back_counts_as_such_with_its_duration() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(h.forked(2), NOTHING);
    h.advance(secs(3));
    h.exited(2, 1);
    let c = counters(&h);
    assert_eq!((c.reloads_done, c.reloads_rolled_back), (0, 1));
    assert_eq!(c.reload_seconds.count, 1);
    assert_eq!(at_or_under(&c, 2.5), 0);
    assert_eq!(at_or_under(&c, 5.0), 1);
    assert_eq!(
        (c.exits, c.kills),
        (1, 0),
        "the new worker's crash is a crash too"
    );
}

#[test]
fn a_reload_past_every_bound_is_counted_but_in_no_bucket() {
    let mut h = Harness::new(Policy {
        ready_timeout: secs(3600),
        ..policy(1)
    });
    h.start_all_ready();
    h.hup();
    h.advance(secs(400));
    h.ready(2);
    let c = counters(&h);
    assert_eq!(c.reload_seconds.count, 1);
    assert_eq!(at_or_under(&c, 300.0), 0);
}

#[test]
fn crashes_count_by_exit_code_or_signal_and_retirements_do_not_count() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.exited(1, 3);
    h.signalled(2, "SIGKILL");
    let c = counters(&h);
    assert_eq!((c.exits, c.kills), (1, 1));
    // A stop retires the restarted workers: no crash is counted.
    while h.live() < 2 {
        h.fire();
    }
    for id in h.ids() {
        h.ready(id);
    }
    h.handle(Event::StopRequested);
    for id in h.ids() {
        h.retire_cleanly(id);
    }
    let c = counters(&h);
    assert_eq!((c.exits, c.kills), (1, 1));
}

#[test]
fn a_connection_counts_as_rescued_only_when_the_worker_it_went_to_took_it() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    h.handle(Event::Orphaned { ticket: 7 });
    h.handle(Event::Orphaned { ticket: 8 });
    // 7 went to worker 2 (the newest on a tie), 8 to worker 1.
    h.handle(Event::HandoffAnswered {
        ticket: 7,
        id: 1,
        accepted: true,
    });
    assert_eq!(
        counters(&h).rescued,
        0,
        "a late answer of a worker it was not sent to"
    );
    h.handle(Event::HandoffAnswered {
        ticket: 7,
        id: 2,
        accepted: true,
    });
    h.handle(Event::HandoffAnswered {
        ticket: 8,
        id: 1,
        accepted: false,
    });
    let c = counters(&h);
    assert_eq!((c.orphaned, c.rescued), (2, 1));
}

#[test]
fn totals_never_go_down_across_reloads_crashes_and_scales() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    let mut last = counters(&h);
    let mut check = |h: &Harness| {
        let c = counters(h);
        let now = [
            c.reloads_done,
            c.reloads_rolled_back,
            c.exits,
            c.kills,
            c.rescued,
        ];
        let before = [
            last.reloads_done,
            last.reloads_rolled_back,
            last.exits,
            last.kills,
            last.rescued,
        ];
        assert!(now.iter().zip(before).all(|(n, b)| *n >= b), "{c:?}");
        assert!(c.reload_seconds.count >= last.reload_seconds.count);
        last = c;
    };
    h.hup();
    for id in [3, 4] {
        h.ready(id);
    }
    check(&h);
    h.retire_cleanly(1);
    h.retire_cleanly(2);
    check(&h);
    h.exited(3, 1);
    check(&h);
    h.handle(Event::Scale(ScaleTo::Count(3)));
    check(&h);
    h.fire();
    check(&h);
    h.hup();
    check(&h);
    let c = counters(&h);
    assert_eq!((c.reloads_done, c.exits), (1, 1));
}
