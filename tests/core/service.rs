//! What the service manager is told: READY once every slot of the first generation is
//! ready (not before), RELOADING and READY around each reload (done or rolled back),
//! STOPPING when a stop begins.

use super::harness::*;
use master_process::core::{Event, Policy, ServiceState, Signal};

#[test]
fn ready_once_every_slot_of_the_first_generation_is_ready() {
    let mut h = Harness::new(policy(2));
    assert_eq!(services(&h.handle_raw(Event::Start)), []);
    h.forked(1);
    assert_eq!(
        services(&h.handle_raw(Event::Listening {
            id: 1,
            socket: false
        })),
        []
    );
    h.forked(2);
    let out = h.handle_raw(Event::Listening {
        id: 2,
        socket: false,
    });
    assert_eq!(services(&out), [ServiceState::Ready]);
    // Said once: a crash restart becoming ready again is not news.
    h.exited(1, 1);
    h.fire();
    h.forked(3);
    assert_eq!(
        services(&h.handle_raw(Event::Listening {
            id: 3,
            socket: false
        })),
        []
    );
}

#[test]
fn a_first_generation_that_never_gets_ready_is_never_announced() {
    let mut h = Harness::new(policy(2));
    h.start();
    h.ready(1);
    h.forked(2);
    let out = h.handle_raw(Event::Exited {
        id: 2,
        code: Some(1),
        signal: None,
    });
    assert_eq!(services(&out), []);
}

#[test]
fn reloading_then_ready_around_a_reload() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    let out = h.handle_raw(Event::Signal(Signal::Hup));
    assert_eq!(services(&out), [ServiceState::Reloading]);
    h.forked(3);
    assert_eq!(
        services(&h.handle_raw(Event::Listening {
            id: 3,
            socket: false
        })),
        []
    );
    h.forked(4);
    let out = h.handle_raw(Event::Listening {
        id: 4,
        socket: false,
    });
    assert_eq!(services(&out), [ServiceState::Ready]);
}

#[test]
fn a_rolled_back_reload_ends_with_ready_too() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.hup();
    h.forked(2);
    let out = h.handle_raw(Event::Exited {
        id: 2,
        code: Some(1),
        signal: None,
    });
    assert_eq!(services(&out), [ServiceState::Ready]);
}

#[test]
fn stopping_when_a_stop_begins_even_before_ready() {
    let mut h = Harness::new(policy(1));
    h.start();
    let out = h.handle_raw(Event::Signal(Signal::Term));
    assert_eq!(services(&out), [ServiceState::Stopping]);
    // A second stop signal says nothing more.
    assert_eq!(services(&h.handle_raw(Event::Signal(Signal::Int))), []);
}

#[test]
fn a_reload_before_the_first_ready_is_not_announced() {
    let mut h = Harness::new(Policy { ..policy(1) });
    h.start();
    assert_eq!(services(&h.handle_raw(Event::Signal(Signal::Hup))), []);
}
