//! Upgrading in place: the old image reloads the app on disk, has the new image checked,
//! then replaces itself; any failure before that refuses the upgrade and changes nothing.
//! The new image resumes the old one's state, forks the next generation and reaps (or, at
//! the kill deadline, kills) the old image's workers.

use super::harness::*;
use master_process::core::{
    Command, Event, NodeCommand, Notice, Resumed, Trace, UpgradeRefusal, WorkerSignal,
};

fn refused(attempt: u32, reason: UpgradeRefusal) -> Command {
    notify(Notice::UpgradeRefused { attempt, reason })
}

fn check() -> Command {
    Command::Node(NodeCommand::CheckUpgrade)
}

fn exec() -> Command {
    Command::Node(NodeCommand::Exec)
}

/// Two workers serve; an upgrade is asked and its reload's new workers are ready.
fn reloaded_for_upgrade(h: &mut Harness) -> Vec<Command> {
    h.start_all_ready();
    assert_eq!(
        h.handle(Event::UpgradeRequested),
        [fork(3, 0, 1), fork(4, 1, 1)]
    );
    assert!(h.sup.is_upgrading());
    assert_eq!(h.ready(3), [listening(3, 0, 1), drain(1)]);
    h.ready(4)
}

#[test]
fn an_upgrade_reloads_the_app_on_disk_then_checks_the_new_image_then_replaces_this_one() {
    let mut h = Harness::new(policy(2));
    assert_eq!(
        reloaded_for_upgrade(&mut h),
        [listening(4, 1, 1), drain(2), reload_done(1), check()]
    );
    assert_eq!(h.handle(Event::UpgradeChecked { error: None }), [exec()]);
    assert!(h.sup.is_upgrading());
    assert_eq!(h.sup.upgrade_attempts(), 1);
}

#[test]
fn an_upgrade_whose_new_image_cannot_start_is_refused_and_nothing_more_happens() {
    let mut h = Harness::new(policy(2));
    reloaded_for_upgrade(&mut h);
    let error = "Cannot find module 'master-process.linux-x64-gnu.node'".to_string();
    assert_eq!(
        h.handle(Event::UpgradeChecked {
            error: Some(error.clone())
        }),
        [refused(1, UpgradeRefusal::ImageFailed(error))]
    );
    assert!(!h.sup.is_upgrading());
    // The reload's workers serve; the old ones retire as after any reload.
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.retire_cleanly(2), NOTHING);
    assert_eq!(h.ids(), [3, 4]);
}

#[test]
fn an_upgrade_whose_app_does_not_start_is_rolled_back_and_refused() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.handle(Event::UpgradeRequested), [fork(2, 0, 1)]);
    assert_eq!(h.forked(2), NOTHING);
    let out = h.exited(2, 1);
    let reason = exited_before_ready(0, 2, 1);
    assert_eq!(
        out,
        [
            exit(2, 0, Some(1), None, false),
            refused(1, UpgradeRefusal::AppFailed(reason.clone())),
            reload_failed(1, reason),
        ]
    );
    assert!(!h.sup.is_upgrading());
    assert_eq!(h.ids(), [1]);
    // A check that comes anyway changes nothing.
    assert_eq!(h.handle(Event::UpgradeChecked { error: None }), NOTHING);
}

#[test]
fn a_stop_during_an_upgrade_refuses_it_before_the_image_is_replaced() {
    let mut h = Harness::new(policy(2));
    reloaded_for_upgrade(&mut h);
    let out = h.signal(master_process::core::Signal::Term);
    assert_eq!(out.first(), Some(&refused(1, UpgradeRefusal::Stopping)));
    assert_eq!(h.handle(Event::UpgradeChecked { error: None }), NOTHING);
}

#[test]
fn an_upgrade_asked_while_one_runs_or_a_reload_runs_is_refused() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    assert_eq!(
        h.handle(Event::UpgradeRequested),
        [refused(1, UpgradeRefusal::Busy)]
    );
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    assert_eq!(h.retire_cleanly(1), NOTHING);
    assert_eq!(h.handle(Event::UpgradeRequested), [fork(3, 0, 2)]);
    assert_eq!(
        h.handle(Event::UpgradeRequested),
        [refused(3, UpgradeRefusal::UnderWay)]
    );
}

#[test]
fn replacing_the_image_failing_stops_the_master_as_4x_did_on_a_new_version() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.handle(Event::UpgradeRequested);
    h.ready(2);
    assert_eq!(h.handle(Event::UpgradeChecked { error: None }), [exec()]);
    let out = h.handle_raw(Event::ExecFailed {
        error: "ENOENT".into(),
    });
    assert!(traces(&out).contains(&Trace::UpgradeFailed {
        error: "ENOENT".into()
    }));
    assert!(h.sup.is_stopping());
}

fn resumed(workers: Vec<u32>) -> Resumed {
    Resumed {
        generation: 3,
        slots: 3,
        paused: true,
        upgrades: 2,
        workers,
    }
}

#[test]
fn a_new_image_forks_the_next_generation_in_every_slot_the_old_one_kept() {
    let mut h = Harness::new(policy(1));
    let now = h.now();
    assert_eq!(
        h.sup.resume(now, resumed(vec![700, 701])),
        [(1, 700), (2, 701)]
    );
    assert_eq!(h.start(), [fork(3, 0, 4), fork(4, 1, 4), fork(5, 2, 4)]);
    assert!(h.sup.is_paused() && h.sup.is_resuming());
    assert_eq!(h.sup.upgrades(), 2);
    h.ready(3);
    h.ready(4);
    let out = h.ready(5);
    assert!(
        out.contains(&notify(Notice::Upgraded { upgrades: 2 })),
        "{out:?}"
    );
    assert!(!h.sup.is_resuming());
}

#[test]
fn the_old_images_workers_are_released_when_reaped_and_killed_at_the_kill_deadline() {
    let mut h = Harness::new(policy(1));
    let now = h.now();
    h.sup.resume(now, resumed(vec![700, 701]));
    h.start();
    assert_eq!(h.handle(Event::AdoptedExited { id: 1 }), [release(1)]);
    assert_eq!(h.deadline(), Some(h.sup.policy().kill_timeout));
    assert_eq!(
        h.fire(),
        [Command::Signal {
            id: 2,
            pid: 701,
            signal: WorkerSignal::Kill
        }]
    );
    // Killed once: the next deadline is monitoring's, not another kill.
    assert!(h.deadline() > Some(h.sup.policy().kill_timeout));
    assert_eq!(h.handle(Event::AdoptedExited { id: 2 }), [release(2)]);
    assert_eq!(h.sup.adopted().count(), 0);
}

#[test]
fn a_stop_waits_for_the_old_images_workers_too() {
    let mut h = Harness::new(policy(1));
    let now = h.now();
    h.sup.resume(now, resumed(vec![700]));
    h.start();
    h.signal(master_process::core::Signal::Term);
    for id in [2, 3, 4] {
        h.exited(id, 0);
    }
    assert!(!h.sup.has_exited());
    let out = h.handle(Event::AdoptedExited { id: 1 });
    assert_eq!(out.last(), Some(&master_exit(0)), "{out:?}");
}

#[test]
fn a_new_version_seen_by_a_reloads_fork_turns_the_reload_into_an_upgrade() {
    let mut h = Harness::new(policy(2));
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(3, 0, 1), fork(4, 1, 1)]);
    let version = "9.9.9".to_string();
    let out = h.handle(Event::PackageChanged {
        id: 3,
        version: version.clone(),
    });
    let reason = master_process::core::FailReason::PackageChanged {
        version: version.clone(),
    };
    // Worker 4's fork was not made either: it waits for a pid it will never have, and the
    // upgrade's reload waits for it to go.
    assert_eq!(out, [reload_failed(1, reason)]);
    assert!(h.sup.is_upgrading());
    assert_eq!(
        h.handle(Event::PackageChanged { id: 4, version }),
        [fork(5, 0, 2), fork(6, 1, 2)]
    );
    assert!(!h.sup.is_stopping());
}

#[test]
fn with_new_version_exit_a_new_version_stops_the_master_as_4x_did() {
    let mut h = Harness::new(master_process::core::Policy {
        new_version: master_process::core::NewVersion::Exit,
        ..policy(1)
    });
    h.start_all_ready();
    assert_eq!(h.hup(), [fork(2, 0, 1)]);
    h.handle(Event::PackageChanged {
        id: 2,
        version: "9.9.9".into(),
    });
    assert!(h.sup.is_stopping() && !h.sup.is_upgrading());
}

#[test]
fn an_upgrade_asked_while_old_workers_retire_waits_for_them_then_reloads() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.hup();
    assert_eq!(h.ready(2), [listening(2, 0, 1), drain(1), reload_done(1)]);
    // Worker 1 is still draining: the upgrade's reload waits its turn.
    assert_eq!(h.handle(Event::UpgradeRequested), NOTHING);
    assert!(h.sup.is_upgrading());
    assert_eq!(h.retire_cleanly(1), [fork(3, 0, 2)]);
    assert_eq!(
        h.ready(3),
        [listening(3, 0, 2), drain(2), reload_done(2), check()]
    );
}

#[test]
fn a_new_version_whose_upgrade_was_refused_is_forked_as_it_is_and_not_acted_on_again() {
    let mut h = Harness::new(policy(1));
    h.start_all_ready();
    h.hup();
    h.handle(Event::PackageChanged {
        id: 2,
        version: "9.9.9".into(),
    });
    assert_eq!(
        h.ready(3),
        [listening(3, 0, 2), drain(1), reload_done(2), check()]
    );
    let refusal = h.handle(Event::UpgradeChecked {
        error: Some("broken".into()),
    });
    assert_eq!(
        refusal,
        [refused(1, UpgradeRefusal::ImageFailed("broken".into()))]
    );
    assert!(
        h.sup.forks_despite("9.9.9"),
        "the refused version no longer stops or upgrades"
    );
    assert!(!h.sup.forks_despite("10.0.0"), "a newer one does");
}

fn unix_socket_port() -> master_process::core::Policy {
    master_process::core::Policy {
        unix_socket: true,
        ..policy(1)
    }
}

#[test]
fn a_master_on_a_unix_socket_port_refuses_an_upgrade_and_changes_nothing() {
    let mut h = Harness::new(unix_socket_port());
    h.start_all_ready();
    assert_eq!(
        h.handle(Event::UpgradeRequested),
        [refused(1, UpgradeRefusal::UnixSocketPort)]
    );
    assert!(!h.sup.is_upgrading() && h.sup.reload_index() == 0);
}

#[test]
fn a_master_on_a_unix_socket_port_stops_on_a_new_version_as_4x_did() {
    let mut h = Harness::new(unix_socket_port());
    h.start_all_ready();
    h.hup();
    h.handle(Event::PackageChanged {
        id: 2,
        version: "9.9.9".into(),
    });
    assert!(h.sup.is_stopping() && !h.sup.is_upgrading());
}
