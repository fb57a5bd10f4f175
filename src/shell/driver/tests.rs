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
use crate::core::{Notice, Policy, StopReason};

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
    tx: Sender<Event>,
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
    let driver = Driver {
        core: Supervisor::new(policy),
        outbox: Box::new(outbox.clone()),
        sampler: Sampler::new(),
        socket: None,
        package: PackageWatch::new(&dir.join("package.json")),
        style: Style::from_env(None, None, false),
        notes: Vec::new(),
        handles: handles.clone(),
        notify: Default::default(),
        pongs: Default::default(),
        compile_cache: cache(&dir),
    };
    let (tx, rx) = channel();
    let thread = std::thread::spawn(move || driver.run(rx));
    tx.send(Event::Start).unwrap();
    Running {
        tx,
        outbox,
        handles,
        thread,
        _dir: TempDir(dir),
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
    m.tx.send(Event::Forked { id: 1, pid: 4001 }).unwrap();
    m.tx.send(Event::Listening {
        id: 1,
        socket: false,
    })
    .unwrap();
    m.tx.send(Event::Signal(crate::core::Signal::Hup)).unwrap();
    m.outbox.wait_for("fork of generation 1", is_fork(1));
    m.tx.send(Event::Forked { id: 2, pid: 4002 }).unwrap();
    m.tx.send(Event::Listening {
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
fn a_fork_after_the_package_changed_on_disk_becomes_a_stop_with_exit_1() {
    let m = start("package", Policy::default());
    m.outbox.wait_for("fork", is_fork(0));
    m.tx.send(Event::Forked { id: 1, pid: 4001 }).unwrap();
    m.tx.send(Event::Listening {
        id: 1,
        socket: false,
    })
    .unwrap();
    write_package(&m._dir.0, "5.1.0");
    m.tx.send(Event::Signal(crate::core::Signal::Hup)).unwrap();
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
    m.tx.send(Event::Drained { id: 1 }).unwrap();
    m.tx.send(Event::Settled { id: 1 }).unwrap();
    m.tx.send(Event::Exited {
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
    m.tx.send(Event::Forked {
        id: 1,
        pid: child.id(),
    })
    .unwrap();
    m.tx.send(Event::StopRequested).unwrap();
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
