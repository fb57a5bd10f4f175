//! Liveness: a worker that said it can answer is asked every third of the heartbeat timeout
//! once ready; one silent for the timeout is cut off from new connections and replaced,
//! then retired once its replacement is ready. Workers that never said so are not checked;
//! paused monitoring pauses it.

use super::harness::*;
use master_process::core::{
    Command, Event, NodeCommand, Policy, ReplaceReason, Signal, Trace, WorkerMessage,
};

fn heartbeat(id: u32) -> Command {
    Command::Node(NodeCommand::Heartbeat { id })
}

fn isolate(id: u32) -> Command {
    Command::Node(NodeCommand::Isolate { id })
}

/// One worker, heartbeat timeout 3 s (asked every second), that said it can answer.
fn answering() -> Harness {
    let mut h = Harness::new(Policy {
        heartbeat_timeout: Some(secs(3)),
        ..policy(1)
    });
    h.start();
    h.forked(1);
    assert_eq!(h.handle(Event::Alive { id: 1 }), NOTHING);
    h.listening(1);
    h
}

#[test]
fn a_ready_worker_that_answers_is_asked_every_third_of_the_timeout_and_kept() {
    let mut h = answering();
    for second in 1..=5 {
        assert_eq!(h.deadline(), Some(secs(second)));
        assert_eq!(h.fire(), [heartbeat(1)]);
        assert_eq!(h.handle(Event::Alive { id: 1 }), NOTHING);
    }
    assert!(h.worker(1).is_ready());
}

#[test]
fn a_worker_silent_for_the_timeout_is_cut_off_and_replaced_then_retired() {
    let mut h = answering();
    assert_eq!(h.fire(), [heartbeat(1)]);
    assert_eq!(h.fire(), [heartbeat(1)]);
    // Third question at 3 s, and 3 s of silence since its last answer at 0 s.
    let out = h.fire_raw();
    assert_eq!(h.elapsed(), secs(3));
    assert!(traces(&out).contains(&Trace::Unresponsive {
        slot: 0,
        silent: secs(3)
    }));
    assert_eq!(
        without_traces(out),
        [heartbeat(1), isolate(1), fork(2, 0, 0)]
    );
    // The replacement is ready: the silent worker is retired through the usual drain.
    h.forked(2);
    assert_eq!(
        h.listening(2),
        [
            listening(2, 0, 0),
            replaced_faulty(1, 2, ReplaceReason::Unresponsive),
            drain(1),
            replaced(0, 1, 2, ReplaceReason::Unresponsive),
        ]
    );
}

#[test]
fn a_worker_that_never_said_it_can_answer_is_not_asked() {
    let mut h = Harness::new(Policy {
        heartbeat_timeout: Some(secs(3)),
        ..policy(1)
    });
    h.start_all_ready();
    assert_eq!(
        h.deadline(),
        Some(secs(3600)),
        "only the monitoring round is due"
    );
}

#[test]
fn paused_monitoring_pauses_the_verdict_but_not_the_questions() {
    let mut h = answering();
    h.message(1, WorkerMessage::PauseMonitoring);
    for _ in 0..6 {
        assert_eq!(h.fire(), [heartbeat(1)]);
    }
    assert!(
        h.worker(1).is_ready() && h.live() == 1,
        "not replaced while paused"
    );
    // Resumed: silent for longer than the timeout, it is replaced at once.
    assert_eq!(h.signal(Signal::Usr2), [usr2(1), isolate(1), fork(2, 0, 0)]);
}

#[test]
fn heartbeat_off_asks_nothing() {
    let mut h = Harness::new(Policy {
        heartbeat_timeout: None,
        ..policy(1)
    });
    h.start();
    h.forked(1);
    h.handle(Event::Alive { id: 1 });
    h.listening(1);
    assert_eq!(h.deadline(), Some(secs(3600)));
}

#[test]
fn a_silent_worker_whose_slot_is_being_reloaded_is_left_to_the_reload() {
    let mut h = answering();
    h.fire();
    h.fire();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    // At 3 s it is silent, but the reload is bringing the slot a new worker.
    assert_eq!(h.fire(), [heartbeat(1)]);
    h.forked(2);
    assert_eq!(
        h.listening(2),
        [listening(2, 0, 1), drain(1), reload_done(1)]
    );
}
