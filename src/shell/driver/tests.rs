//! The driver with a fake outbox: real channel, real clock, real child processes where
//! the driver itself acts on them (signals, probes); Node's part is the recorded commands.

use std::path::Path;
use std::process::{Child, Command as Process};
use std::sync::mpsc::{channel, Sender};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::*;
use crate::core::compile_cache::CachePlan;
use crate::core::{FailReason, Notice, Policy, StopReason};
use crate::shell::control::Answer;

/// Records what reaches Node, and wakes whoever waits for a command.
#[derive(Clone, Default)]
struct FakeOutbox(Arc<(Mutex<Vec<Sent>>, Condvar)>);

/// A command that reached Node, with what the shell added to a fork's environment.
type Sent = (NodeCommand, WorkerEnv);

impl Outbox for FakeOutbox {
    fn send(&self, command: NodeCommand) {
        self.fork(command, WorkerEnv::default());
    }

    fn fork(&self, command: NodeCommand, env: WorkerEnv) {
        let (sent, wake) = &*self.0;
        sent.lock().unwrap().push((command, env));
        wake.notify_all();
    }

    fn ping(&self) {}
}

impl FakeOutbox {
    /// Wait until a command matching `want` has been sent (a hang guard of 10 s).
    fn wait_for(&self, what: &str, want: impl Fn(&NodeCommand) -> bool) -> NodeCommand {
        self.wait_with_env(what, want).0
    }

    /// The same, with the environment the shell added (to a fork).
    fn wait_with_env(
        &self,
        what: &str,
        want: impl Fn(&NodeCommand) -> bool,
    ) -> (NodeCommand, WorkerEnv) {
        let (sent, wake) = &*self.0;
        let guard = sent.lock().unwrap();
        let (guard, _) = wake
            .wait_timeout_while(guard, Duration::from_secs(10), |s| {
                !s.iter().any(|(c, _)| want(c))
            })
            .unwrap();
        let found = guard.iter().find(|(c, _)| want(c)).cloned();
        found.unwrap_or_else(|| panic!("no {what} in {:?}", *guard))
    }

    fn sent(&self) -> Vec<NodeCommand> {
        self.0
             .0
            .lock()
            .unwrap()
            .iter()
            .map(|(c, _)| c.clone())
            .collect()
    }
}

struct Running {
    tx: Sender<Input>,
    outbox: FakeOutbox,
    handles: Arc<ProcessHandles>,
    thread: JoinHandle<()>,
    _dir: TempDir,
}

struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn write_package(dir: &Path, version: &str) {
    let json = format!(r#"{{"name":"master-process","version":"{version}"}}"#);
    std::fs::write(dir.join("package.json"), json).unwrap();
}

fn start(name: &str, policy: Policy) -> Running {
    start_with(name, policy, |_| CompileCache::off())
}

/// `cache` makes the compile cache plan from the test's own temp dir.
fn start_with(name: &str, policy: Policy, cache: impl Fn(&Path) -> CompileCache) -> Running {
    let dir = std::env::temp_dir().join(format!("mp-driver-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_package(&dir, "5.0.0");
    let outbox = FakeOutbox::default();
    let handles = Arc::new(ProcessHandles::default());
    let driver = driver_in(&dir, policy, &outbox, &handles, cache(&dir));
    let (tx, rx) = channel();
    let thread = std::thread::spawn(move || driver.run(rx));
    tx.send(Event::Start.into()).unwrap();
    Running {
        tx,
        outbox,
        handles,
        thread,
        _dir: TempDir(dir),
    }
}

/// A driver not yet running, in a temp dir of its own, with a fake outbox as Node.
fn unstarted(name: &str) -> (TempDir, Arc<ProcessHandles>, Driver) {
    let dir = std::env::temp_dir().join(format!("mp-driver-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    write_package(&dir, "5.0.0");
    let (outbox, handles) = (FakeOutbox::default(), Arc::new(ProcessHandles::default()));
    let driver = driver_in(
        &dir,
        Policy::default(),
        &outbox,
        &handles,
        CompileCache::off(),
    );
    (TempDir(dir), handles, driver)
}

/// A driver for a master started in `dir`, with `outbox` as Node.
fn driver_in(
    dir: &Path,
    policy: Policy,
    outbox: &FakeOutbox,
    handles: &Arc<ProcessHandles>,
    compile_cache: CompileCache,
) -> Driver {
    Driver {
        core: Supervisor::new(policy),
        outbox: Box::new(outbox.clone()),
        sampler: Sampler::new(),
        socket: None,
        package: PackageWatch::new(&dir.join("package.json")),
        style: Style::from_env(None, None, false),
        notes: Vec::new(),
        warnings: Vec::new(),
        handles: handles.clone(),
        control: Default::default(),
        about: About {
            version: "5.0.0".into(),
            settings: serde_json::json!({ "workers": 1 }),
            control: None,
            metrics: None,
            ..Default::default()
        },
        waiting: Default::default(),
        notify: Default::default(),
        pongs: Default::default(),
        service: None,
        compile_cache,
        metrics: None,
    }
}

impl Running {
    fn send(&self, event: Event) -> Result<(), std::sync::mpsc::SendError<Input>> {
        self.tx.send(event.into())
    }

    /// Ask what a control client would, on a thread of its own; the answer comes later
    /// (the driver's word that it comes later, with its bound, is left out).
    fn ask(&self, request: Request) -> std::sync::mpsc::Receiver<serde_json::Value> {
        let (tx, answer) = channel();
        let replies = self.ask_raw(request);
        std::thread::spawn(move || {
            for reply in replies {
                if let Answer::Now(value) = reply {
                    let _ = tx.send(value);
                }
            }
        });
        answer
    }

    /// Ask, and take every message the driver sends back, as they come.
    fn ask_raw(&self, request: Request) -> std::sync::mpsc::Receiver<Answer> {
        let (reply, answers) = Replier::channel();
        self.tx.send(Input::Ask(request, reply)).unwrap();
        answers
    }
}

fn is_fork(generation: u32) -> impl Fn(&NodeCommand) -> bool {
    move |c| matches!(c, NodeCommand::Fork { generation: g, .. } if *g == generation)
}

fn is_exit(code: i32) -> impl Fn(&NodeCommand) -> bool {
    move |c| matches!(c, NodeCommand::Exit { code: c } if *c == code)
}

fn sleeper() -> Child {
    Process::new("sleep").arg("30").spawn().unwrap()
}

#[test]
fn node_gets_the_fork_and_after_a_reload_the_drain_of_the_old_worker() {
    let m = start("reload", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    m.send(Event::Forked { id: 1, pid: 4001 }).unwrap();
    m.send(Event::Listening {
        id: 1,
        socket: false,
    })
    .unwrap();
    m.send(Event::Signal(crate::core::Signal::Hup)).unwrap();
    m.outbox.wait_for("fork of generation 1", is_fork(1));
    m.send(Event::Forked { id: 2, pid: 4002 }).unwrap();
    m.send(Event::Listening {
        id: 2,
        socket: false,
    })
    .unwrap();
    m.outbox
        .wait_for("drain of worker 1", |c| *c == NodeCommand::Drain { id: 1 });
    m.outbox.wait_for("reload done", |c| {
        *c == NodeCommand::Notify(Notice::ReloadDone { generation: 1 })
    });
    drop(m.tx);
    m.thread.join().unwrap();
}

#[test]
fn a_fork_after_the_package_changed_on_disk_becomes_an_upgrade_whose_forks_go_ahead() {
    let m = start("package-upgrade", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    m.send(Event::Forked { id: 1, pid: 4001 }).unwrap();
    m.send(Event::Listening {
        id: 1,
        socket: false,
    })
    .unwrap();
    write_package(&m._dir.0, "5.1.0");
    m.send(Event::Signal(crate::core::Signal::Hup)).unwrap();
    let failed = m.outbox.wait_for("reload called off", |c| {
        matches!(c, NodeCommand::Notify(Notice::ReloadFailed { .. }))
    });
    let reason = FailReason::PackageChanged {
        version: "5.1.0".into(),
    };
    let expected = Notice::ReloadFailed {
        generation: 1,
        reason,
    };
    assert_eq!(failed, NodeCommand::Notify(expected));
    // The upgrade's own reload: forked although the version on disk changed.
    m.outbox.wait_for("the upgrade's fork", is_fork(2));
    m.send(Event::StopRequested).unwrap();
}

#[test]
fn with_new_version_exit_a_fork_after_the_package_changed_on_disk_becomes_a_stop_with_exit_1() {
    let policy = Policy {
        new_version: crate::core::NewVersion::Exit,
        ..Policy::default()
    };
    let m = start("package", policy);
    m.outbox.wait_for("fork", is_fork(0));
    m.send(Event::Forked { id: 1, pid: 4001 }).unwrap();
    m.send(Event::Listening {
        id: 1,
        socket: false,
    })
    .unwrap();
    write_package(&m._dir.0, "5.1.0");
    m.send(Event::Signal(crate::core::Signal::Hup)).unwrap();
    let stopping = m.outbox.wait_for("stopping", |c| {
        matches!(c, NodeCommand::Notify(Notice::Stopping { .. }))
    });
    let reason = StopReason::PackageChanged {
        version: "5.1.0".into(),
    };
    assert_eq!(
        stopping,
        NodeCommand::Notify(Notice::Stopping { code: 1, reason })
    );
    m.send(Event::Drained { id: 1 }).unwrap();
    m.send(Event::Settled { id: 1 }).unwrap();
    m.send(Event::Exited {
        id: 1,
        code: Some(0),
        signal: None,
    })
    .unwrap();
    m.outbox.wait_for("exit 1", is_exit(1));
    m.thread.join().unwrap();
    assert!(!m.outbox.sent().iter().any(is_fork(1)), "no fork went out");
}

/// The worker is a real process the driver signals; its exit is never reported, as if
/// Node's event were lost: the driver's probe finds it gone and the stop ends.
#[test]
fn a_stop_ends_when_a_killed_workers_exit_is_never_reported() {
    let policy = Policy {
        kill_timeout: Duration::from_millis(100),
        ..Policy::default()
    };
    let m = start("probe", policy);
    m.outbox.wait_for("fork", is_fork(0));
    let mut child = sleeper();
    m.handles.open(1, child.id());
    m.send(Event::Forked {
        id: 1,
        pid: child.id(),
    })
    .unwrap();
    m.send(Event::StopRequested).unwrap();
    m.outbox.wait_for("exit 0", is_exit(0));
    m.thread.join().unwrap();
    use std::os::unix::process::ExitStatusExt;
    let status = child.wait().unwrap();
    assert!(
        status.signal().is_some(),
        "the driver signalled it: {status:?}"
    );
    assert!(
        m.handles.is_empty(),
        "the probed worker's handle was closed"
    );
}

fn listen(m: &Running, id: u32) {
    m.send(Event::Forked { id, pid: 4000 + id }).unwrap();
    m.send(Event::Listening { id, socket: false }).unwrap();
}

#[test]
fn status_reports_the_master_and_each_worker() {
    let m = start("status", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    listen(&m, 1);
    let answer = m.ask(Request::Status).recv().unwrap();
    assert_eq!(answer["ok"], true);
    let status = &answer["status"];
    assert_eq!(status["pid"], std::process::id());
    assert_eq!(status["version"], "5.0.0");
    assert_eq!(status["generation"], 0);
    assert_eq!(status["reloading"], false);
    assert_eq!(status["paused"], false);
    assert_eq!(status["slots"], 1);
    assert_eq!(status["settings"]["workers"], 1);
    assert_eq!(status["settings"]["controlSocket"], "off");
    let workers = status["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 1);
    let w = &workers[0];
    assert_eq!(
        (w["pid"].clone(), w["index"].clone()),
        (4001.into(), 0.into())
    );
    assert_eq!(w["state"], "serving");
    assert_eq!(w["rssBytes"], serde_json::Value::Null, "not sampled yet");
    drop(m.tx);
    m.thread.join().unwrap();
}

#[test]
fn a_reload_is_answered_with_its_outcome() {
    let m = start("reload-answer", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    listen(&m, 1);
    let answer = m.ask(Request::Reload);
    m.outbox.wait_for("fork of generation 1", is_fork(1));
    assert!(answer.try_recv().is_err(), "no answer before the outcome");
    listen(&m, 2);
    let answer = answer.recv().unwrap();
    assert_eq!(
        answer,
        serde_json::json!({"ok": true, "reload": {"generation": 1, "outcome": "done"}})
    );
    // A reload asked while the first one's old worker retires is the next generation's.
    let second = m.ask(Request::Reload);
    m.send(Event::Drained { id: 1 }).unwrap();
    m.send(Event::Settled { id: 1 }).unwrap();
    m.send(Event::Exited {
        id: 1,
        code: Some(0),
        signal: None,
    })
    .unwrap();
    m.outbox.wait_for("fork of generation 2", is_fork(2));
    m.send(Event::Exited {
        id: 3,
        code: Some(1),
        signal: None,
    })
    .unwrap();
    let failed = second.recv().unwrap();
    assert_eq!(failed["ok"], false);
    assert_eq!(failed["reload"]["generation"], 2);
    assert_eq!(failed["reload"]["outcome"], "rolled back");
    assert!(failed["error"]
        .as_str()
        .unwrap()
        .starts_with("reload 2 failed and was rolled back: worker 0"));
    drop(m.tx);
    m.thread.join().unwrap();
}

#[test]
fn a_reload_and_a_scale_that_wait_say_first_how_long_their_outcome_may_take() {
    let m = start("later", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    listen(&m, 1);
    let reload = m.ask_raw(Request::Reload);
    match reload.recv().unwrap() {
        Answer::Later(later) => assert_eq!(later, Later::reload(1, &Policy::default(), 1)),
        other => panic!("expected a bound first, got {other:?}"),
    }
    let scale = m.ask_raw(Request::Scale(3));
    match scale.recv().unwrap() {
        Answer::Later(later) => assert_eq!(later, Later::scale(3, &Policy::default(), 1)),
        other => panic!("expected a bound first, got {other:?}"),
    }
    let status = m.ask_raw(Request::Status);
    assert!(
        matches!(status.recv().unwrap(), Answer::Now(_)),
        "answered at once"
    );
    drop(m.tx);
    m.thread.join().unwrap();
}

#[test]
fn a_scale_is_answered_once_over_and_a_bad_one_at_once() {
    let m = start("scale-answer", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    listen(&m, 1);
    let bad = m.ask(Request::Scale(0)).recv().unwrap();
    assert_eq!(
        bad["error"],
        "cannot scale to 0 workers: expected a whole number from 1 to 1024"
    );
    let answer = m.ask(Request::Scale(2));
    m.outbox.wait_for("fork of slot 1", |c| {
        matches!(c, NodeCommand::Fork { slot: 1, .. })
    });
    assert!(
        answer.try_recv().is_err(),
        "no answer before the new slot is ready"
    );
    listen(&m, 2);
    assert_eq!(
        answer.recv().unwrap(),
        serde_json::json!({"ok": true, "workers": 2})
    );
    let same = m.ask(Request::Scale(2)).recv().unwrap();
    assert_eq!(same, serde_json::json!({"ok": true, "workers": 2}));
    drop(m.tx);
    m.thread.join().unwrap();
}

#[test]
fn a_stop_answers_the_requests_still_waiting() {
    let m = start("stop-answer", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    listen(&m, 1);
    let reload = m.ask(Request::Reload);
    m.outbox.wait_for("fork of generation 1", is_fork(1));
    let stop = m.ask(Request::Stop).recv().unwrap();
    assert_eq!(stop, serde_json::json!({"ok": true, "stopping": true}));
    let answer = reload.recv().unwrap();
    assert_eq!(answer["ok"], false);
    assert_eq!(
        answer["error"],
        "the master is stopping (stop was asked on the control socket)"
    );
    let late = m.ask(Request::Reload).recv().unwrap();
    assert_eq!(late["error"], "cannot reload: the master is stopping");
    drop(m.tx);
    m.thread.join().unwrap();
}

#[test]
fn pause_and_resume_answer_the_state() {
    let m = start("pause-answer", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    let paused = m.ask(Request::Pause).recv().unwrap();
    assert_eq!(paused, serde_json::json!({"ok": true, "paused": true}));
    let again = m.ask(Request::Pause).recv().unwrap();
    assert_eq!(again["paused"], true);
    let resumed = m.ask(Request::Resume).recv().unwrap();
    assert_eq!(resumed["paused"], false);
    drop(m.tx);
    m.thread.join().unwrap();
}

fn cache_in(folder: PathBuf) -> CompileCache {
    let uid = nix::unistd::geteuid().as_raw();
    CompileCache::new(
        CachePlan::Use {
            folder: folder.clone(),
            owned: folder,
        },
        uid,
    )
}

#[test]
fn a_fork_carries_the_compile_cache_folder_made_ready_for_it() {
    let m = start_with("cache", Policy::default(), |dir| cache_in(dir.join("cc")));
    let (_, env) = m.outbox.wait_with_env("fork", is_fork(0));
    let folder = env.compile_cache.expect("a compile cache folder");
    assert!(folder.ends_with("cc") && folder.is_dir(), "{folder:?}");
}

#[test]
fn a_compile_cache_folder_that_cannot_be_made_still_forks_without_it() {
    let m = start_with("cache-bad", Policy::default(), |dir| {
        cache_in(dir.join("package.json").join("cc"))
    });
    let (_, env) = m.outbox.wait_with_env("fork", is_fork(0));
    assert_eq!(env, WorkerEnv::default());
}

#[test]
fn the_watchdog_is_fed_while_a_backlog_of_events_is_worked_off() {
    use std::os::unix::net::UnixDatagram;
    let (dir, _handles, mut driver) = unstarted("dog");
    let path = dir.0.join("notify.sock");
    let receiver = UnixDatagram::bind(&path).unwrap();
    driver.notify = NotifyEnv {
        socket: Some(path.display().to_string()),
        watchdog: Some(Duration::from_millis(2)),
    };
    // Node answers every ping, as far as the watchdog can tell.
    driver.pongs = Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX / 2));
    // The whole backlog is queued before the driver reads any of it: the channel is never
    // empty until it is worked off, so a wait for the next input never times out.
    let (tx, rx) = channel();
    tx.send(Event::Start.into()).unwrap();
    for _ in 0..200_000 {
        tx.send(Event::Tick.into()).unwrap();
    }
    let (reply, answers) = Replier::channel();
    tx.send(Input::Ask(Request::Status, reply)).unwrap();
    let thread = std::thread::spawn(move || driver.run(rx));
    // The status answer comes once every event before it is handled.
    answers.recv_timeout(Duration::from_secs(60)).unwrap();
    receiver.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let mut fed = 0;
    while let Ok(n) = receiver.recv(&mut buf) {
        fed += usize::from(&buf[..n] == b"WATCHDOG=1");
    }
    assert!(
        fed >= 2,
        "WATCHDOG=1 sent {fed} time(s) while the backlog was worked off"
    );
    drop(tx);
    thread.join().unwrap();
}

#[test]
fn a_worker_the_core_gives_up_has_its_handle_let_go() {
    let (_dir, handles, mut driver) = unstarted("rel");
    let mut child = sleeper();
    handles.open(4, child.id());
    assert_eq!(driver.run_command(Command::Release { id: 4 }), None);
    assert!(handles.is_empty(), "the pidfd was closed");
    child.kill().unwrap();
    child.wait().unwrap();
}
