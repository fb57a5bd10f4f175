//! Connections no worker took (a hand-off whose worker's channel closed before it answered):
//! each goes to exactly one worker that takes connections, the one with the fewest on their
//! way to it (the newest on a tie); never a starting, retiring, cut-off, disconnected or
//! refusing one; it waits while there is none, and a stop closes what waits. A worker whose
//! channel closed is not waited for: no drain it cannot receive, nothing on its way to it.

use super::harness::*;
use master_process::core::{Command, Event, NodeCommand, Policy, Signal};

fn hand_off(ticket: u32, to: u32) -> Command {
    Command::Node(NodeCommand::HandOff { ticket, to })
}

fn close(ticket: u32) -> Command {
    Command::Node(NodeCommand::CloseConnection { ticket })
}

fn orphaned(h: &mut Harness, ticket: u32) -> Vec<Command> {
    h.handle(Event::Orphaned { ticket })
}

fn answered(h: &mut Harness, ticket: u32, id: u32, accepted: bool) -> Vec<Command> {
    h.handle(Event::HandoffAnswered {
        ticket,
        id,
        accepted,
    })
}

#[test]
fn an_orphaned_connection_goes_to_the_ready_worker_with_the_fewest_on_their_way() {
    let mut h = Harness::new(policy(3));
    h.start_all_ready();
    // A tie goes to the newest worker; then each goes where the fewest are.
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 3)]);
    assert_eq!(orphaned(&mut h, 1), [hand_off(1, 2)]);
    assert_eq!(orphaned(&mut h, 2), [hand_off(2, 1)]);
    assert_eq!(answered(&mut h, 1, 2, true), [close(1)]);
    assert_eq!(orphaned(&mut h, 3), [hand_off(3, 2)]);
}

#[test]
fn a_connection_is_closed_in_the_primary_once_exactly_when_its_worker_took_it() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(orphaned(&mut h, 7), [hand_off(7, 1)]);
    assert_eq!(answered(&mut h, 7, 1, true), [close(7)]);
    assert_eq!(answered(&mut h, 7, 1, true), NOTHING, "a second answer");
    assert_eq!(
        orphaned(&mut h, 7),
        [hand_off(7, 1)],
        "a new orphan may reuse it"
    );
}

#[test]
fn a_known_ticket_reported_again_is_not_sent_twice() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 2)]);
    assert_eq!(orphaned(&mut h, 0), NOTHING);
}

#[test]
fn a_refused_connection_goes_to_another_worker_and_never_back() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 2)]);
    assert_eq!(answered(&mut h, 0, 2, false), [hand_off(0, 1)]);
    // Refused by every worker: it waits for a new one.
    assert_eq!(answered(&mut h, 0, 1, false), NOTHING);
    assert_eq!(h.sup.waiting_connections(), 1);
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    assert_eq!(h.forked(3), NOTHING);
    let out = h.listening(3);
    assert!(out.contains(&hand_off(0, 3)), "{out:?}");
    assert_eq!(h.sup.waiting_connections(), 0);
}

#[test]
fn a_late_answer_from_an_earlier_worker_is_ignored() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 2)]);
    // Worker 2's channel closes before it answers: the connection goes to worker 1.
    assert_eq!(h.handle(Event::Disconnected { id: 2 }), [hand_off(0, 1)]);
    assert_eq!(
        answered(&mut h, 0, 2, true),
        NOTHING,
        "not worker 2's any more"
    );
    assert_eq!(answered(&mut h, 0, 2, false), NOTHING);
    assert_eq!(answered(&mut h, 0, 1, true), [close(0)]);
}

#[test]
fn with_no_worker_taking_connections_it_waits_for_the_next_ready_one() {
    let mut h = Harness::new(Policy {
        throttle: ms(0),
        ..policy(1)
    });
    h.start_all_ready();
    assert_eq!(h.handle(Event::Disconnected { id: 1 }), NOTHING);
    assert_eq!(orphaned(&mut h, 0), NOTHING);
    assert_eq!(orphaned(&mut h, 1), NOTHING);
    assert_eq!(h.sup.waiting_connections(), 2);
    // The worker dies; its replacement starts and is not ready yet.
    let out = h.signalled(1, "SIGKILL");
    assert_eq!(out.last(), Some(&fork(2, 0, 0)));
    assert_eq!(h.forked(2), NOTHING);
    assert_eq!(
        h.listening(2),
        [listening(2, 0, 0), hand_off(0, 2), hand_off(1, 2)]
    );
}

#[test]
fn a_starting_worker_takes_no_connection() {
    let mut h = Harness::new(policy(2));
    h.start();
    h.ready(1);
    h.forked(2);
    // Worker 2, the newest, would win a tie: it is still starting.
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 1)]);
    assert_eq!(answered(&mut h, 0, 1, true), [close(0)]);
    h.listening(2);
    assert_eq!(orphaned(&mut h, 1), [hand_off(1, 2)]);
}

#[test]
fn a_worker_cut_off_by_the_heartbeat_takes_no_connection() {
    let mut h = Harness::new(Policy {
        heartbeat_timeout: Some(secs(3)),
        ..policy(2)
    });
    h.start();
    for id in [1, 2] {
        h.forked(id);
        h.handle(Event::Alive { id });
        h.listening(id);
    }
    // Worker 2, the newest, goes silent; worker 1 answers every question.
    let mut isolated = false;
    while !isolated {
        let out = h.fire();
        isolated = out.contains(&Command::Node(NodeCommand::Isolate { id: 2 }));
        h.handle(Event::Alive { id: 1 });
    }
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 1)]);
    assert_eq!(answered(&mut h, 0, 1, true), [close(0)]);
    assert_eq!(orphaned(&mut h, 1), [hand_off(1, 1)]);
}

#[test]
fn a_retiring_worker_takes_no_connection() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    h.forked(2);
    let out = h.listening(2);
    assert!(out.contains(&drain(1)), "worker 1 retires: {out:?}");
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 2)]);
}

#[test]
fn a_stop_closes_what_waits_and_what_comes_back_refused() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.handle(Event::Disconnected { id: 1 }), NOTHING);
    assert_eq!(orphaned(&mut h, 0), [hand_off(0, 2)]);
    assert_eq!(orphaned(&mut h, 1), [hand_off(1, 2)]);
    assert_eq!(answered(&mut h, 0, 2, false), NOTHING, "ticket 0 waits");
    assert_eq!(
        h.signal(Signal::Term),
        [
            stopping(0, by_signal(Signal::Term)),
            close_listeners(),
            close(0),
            term(1), // its channel is closed: no drain it could not receive
            drain(2),
        ]
    );
    assert_eq!(answered(&mut h, 1, 2, false), [close(1)]);
    assert_eq!(orphaned(&mut h, 2), [close(2)]);
    assert_eq!(h.sup.waiting_connections(), 0);
}

#[test]
fn a_worker_whose_channel_closes_while_it_drains_is_signalled_at_once() {
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
    assert_eq!(h.handle(Event::Disconnected { id: 1 }), [term(1)]);
    assert_eq!(h.handle(Event::Disconnected { id: 1 }), NOTHING, "once");
}

#[test]
fn a_worker_whose_channel_closes_while_it_settles_is_signalled_at_once() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.signal(Signal::Term);
    assert_eq!(h.handle(Event::Drained { id: 1 }), [settle(1)]);
    assert_eq!(h.handle(Event::Disconnected { id: 1 }), [term(1)]);
}
