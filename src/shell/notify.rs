//! sd_notify(3): tell the service manager (systemd `Type=notify`/`notify-reload`) when the
//! master is ready, reloading or stopping, what it is doing (`STATUS=`), and that it is
//! alive (`WATCHDOG=1`). Datagrams to `NOTIFY_SOCKET`: a path, or `@name` for an abstract
//! socket. Nothing happens when `NOTIFY_SOCKET` is not set.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::path::PathBuf;
use std::time::Duration;

use crate::core::ServiceState;

/// The variables the service manager sets for the master alone: workers must not see
/// them, or an app's own sd_notify library would speak for the master.
pub const MANAGER_ONLY: [&str; 3] = ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"];

/// How long one datagram may wait for room in the service manager's queue. A receiver
/// that stopped reading (a stale or foreign `NOTIFY_SOCKET`) fills its queue after a few
/// datagrams (10 by default on Linux), and a blocking send would then stall the thread
/// that supervises the workers for good; past this the datagram is dropped and logged.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(1);

/// Where the datagrams go.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Path(PathBuf),
    #[cfg(any(target_os = "linux", target_os = "android"))]
    Abstract(Vec<u8>),
}

/// The service manager's notification socket.
#[derive(Debug)]
pub struct Notifier {
    socket: UnixDatagram,
    target: Target,
}

/// What the service manager asked of the master, read from its environment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NotifyEnv {
    pub socket: Option<String>,
    /// How often a `WATCHDOG=1` must arrive (`WATCHDOG_USEC`), when it is meant for us.
    pub watchdog: Option<Duration>,
}

impl NotifyEnv {
    /// Read `NOTIFY_SOCKET`, and `WATCHDOG_USEC` unless `WATCHDOG_PID` names another process.
    pub fn read(get: impl Fn(&str) -> Option<String>, pid: u32) -> NotifyEnv {
        let socket = get("NOTIFY_SOCKET").filter(|s| !s.is_empty());
        let ours = get("WATCHDOG_PID").is_none_or(|p| p.trim() == pid.to_string());
        let watchdog = get("WATCHDOG_USEC")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|&usec| usec > 0 && ours)
            .map(Duration::from_micros);
        NotifyEnv { socket, watchdog }
    }
}

impl Notifier {
    /// A notifier for `NOTIFY_SOCKET`'s value; an error for one that cannot be used.
    pub fn new(address: &str) -> io::Result<Notifier> {
        let target = match address.strip_prefix('@') {
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Some(name) => Target::Abstract(name.as_bytes().to_vec()),
            #[cfg(not(any(target_os = "linux", target_os = "android")))]
            Some(_) => return Err(io::Error::other("abstract sockets exist only on Linux")),
            None if address.starts_with('/') => Target::Path(PathBuf::from(address)),
            None => {
                return Err(io::Error::other(
                    "NOTIFY_SOCKET is neither a path nor @name",
                ))
            }
        };
        let socket = UnixDatagram::unbound()?;
        socket.set_write_timeout(Some(SEND_TIMEOUT))?;
        Ok(Notifier { socket, target })
    }

    /// Send one datagram of `KEY=value` lines.
    pub fn send(&self, text: &str) -> io::Result<()> {
        match &self.target {
            Target::Path(path) => self.socket.send_to(text.as_bytes(), path).map(|_| ()),
            #[cfg(any(target_os = "linux", target_os = "android"))]
            Target::Abstract(name) => {
                use std::os::linux::net::SocketAddrExt;
                let addr = std::os::unix::net::SocketAddr::from_abstract_name(name)?;
                self.socket.send_to_addr(text.as_bytes(), &addr).map(|_| ())
            }
        }
    }
}

/// The datagram for a change of state, with the status line for `Ready`.
pub fn state_message(state: ServiceState, status: &str) -> String {
    match state {
        ServiceState::Ready => format!("READY=1\nSTATUS={status}"),
        ServiceState::Reloading => format!("RELOADING=1\nMONOTONIC_USEC={}", monotonic_usec()),
        ServiceState::Stopping => "STOPPING=1".to_string(),
    }
}

/// `CLOCK_MONOTONIC` in microseconds, the clock systemd compares `MONOTONIC_USEC` with.
pub fn monotonic_usec() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000 + (ts.tv_nsec as u64) / 1_000
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn the_watchdog_is_ours_unless_watchdog_pid_names_another_process() {
        fn read(pairs: &[(&str, &str)]) -> NotifyEnv {
            NotifyEnv::read(env(pairs), 42)
        }
        let usec = ("WATCHDOG_USEC", "2000000");
        assert_eq!(read(&[usec]).watchdog, Some(Duration::from_secs(2)));
        assert_eq!(
            read(&[usec, ("WATCHDOG_PID", "42")]).watchdog,
            Some(Duration::from_secs(2))
        );
        assert_eq!(read(&[usec, ("WATCHDOG_PID", "7")]).watchdog, None);
        assert_eq!(read(&[("WATCHDOG_USEC", "soon")]).watchdog, None);
        assert_eq!(read(&[("NOTIFY_SOCKET", "")]).socket, None);
    }

    #[test]
    fn sends_datagrams_to_a_path_and_to_an_abstract_socket() {
        let dir = std::env::temp_dir().join(format!("mp-notify-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("notify.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(path.to_str().unwrap()).unwrap();
        let ready = state_message(ServiceState::Ready, "2/2 serving");
        notifier.send(&ready).unwrap();
        notifier
            .send(&state_message(ServiceState::Stopping, ""))
            .unwrap();
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"READY=1\nSTATUS=2/2 serving");
        let n = receiver.recv(&mut buf).unwrap();
        assert_eq!(&buf[..n], b"STOPPING=1");
        std::fs::remove_dir_all(dir).unwrap();

        #[cfg(target_os = "linux")]
        {
            use std::os::linux::net::SocketAddrExt;
            let name = format!("mp-notify-test-{}", std::process::id());
            let addr = std::os::unix::net::SocketAddr::from_abstract_name(&name).unwrap();
            let receiver = UnixDatagram::bind_addr(&addr).unwrap();
            let notifier = Notifier::new(&format!("@{name}")).unwrap();
            notifier.send("WATCHDOG=1").unwrap();
            let n = receiver.recv(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"WATCHDOG=1");
        }
    }

    #[test]
    fn a_receiver_that_stops_reading_costs_a_send_timeout_not_a_hang() {
        let dir = std::env::temp_dir().join(format!("mp-notify-full-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.sock");
        let _receiver = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(path.to_str().unwrap()).unwrap();
        let mut sent = 0;
        let error = loop {
            match notifier.send("WATCHDOG=1") {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 100_000, "the queue never filled");
        };
        assert!(sent > 0);
        assert!(matches!(
            error.kind(),
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
        ));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_reloading_message_carries_the_monotonic_clock() {
        let before = monotonic_usec();
        let dir = std::env::temp_dir().join(format!("mp-notify-r-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("n.sock");
        let receiver = UnixDatagram::bind(&path).unwrap();
        let notifier = Notifier::new(path.to_str().unwrap()).unwrap();
        notifier
            .send(&state_message(ServiceState::Reloading, ""))
            .unwrap();
        let mut buf = [0u8; 256];
        let n = receiver.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let usec: u64 = text
            .strip_prefix("RELOADING=1\nMONOTONIC_USEC=")
            .unwrap()
            .parse()
            .unwrap();
        assert!(usec >= before && usec <= monotonic_usec());
        std::fs::remove_dir_all(dir).unwrap();
    }
}
