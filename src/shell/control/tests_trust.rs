//! What a client believes: the folder, socket file and peer checks, each refusal's message,
//! and the search of the folders. A foreign owner is played by checking against another uid
//! than the one that made the file, so these run without root.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::Path;

use super::tests::TempDir;
use super::trust::*;
use super::{euid, CONNECT_TIMEOUT};

fn lstat(path: &Path) -> fs::Metadata {
    fs::symlink_metadata(path).unwrap()
}

fn problem(result: Result<(), Refusal>) -> String {
    result.unwrap_err().problem
}

#[test]
fn a_folder_passes_only_as_a_real_directory_of_the_user_closed_to_others() {
    let dir = TempDir::new("trust-dir");
    let me = euid();
    let good = dir.0.join("good");
    fs::create_dir(&good).unwrap();
    fs::set_permissions(&good, fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(check_dir(&good, &lstat(&good), me), Ok(()));
    assert_eq!(
        problem(check_dir(&good, &lstat(&good), me + 1)),
        format!(
            "a directory owned by uid {me} with mode 0700, not a directory of uid {}",
            me + 1
        )
    );
    fs::set_permissions(&good, fs::Permissions::from_mode(0o1750)).unwrap();
    assert_eq!(
        problem(check_dir(&good, &lstat(&good), me)),
        format!("a directory owned by uid {me} with mode 1750: group or others may enter it (a master's folder is 0700)")
    );
    let link = dir.0.join("link");
    symlink(&good, &link).unwrap();
    let e = check_dir(&link, &lstat(&link), me).unwrap_err();
    assert!(
        e.problem
            .starts_with(&format!("a symlink owned by uid {me} with mode")),
        "{e}"
    );
    assert!(e.problem.ends_with(": never followed"), "{e}");
    assert_eq!(
        e.to_string(),
        format!("refused {}: {}", link.display(), e.problem)
    );
    let file = dir.0.join("file");
    fs::write(&file, "").unwrap();
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(
        problem(check_dir(&file, &lstat(&file), me)),
        format!("a file owned by uid {me} with mode 0600, not a directory")
    );
}

#[test]
fn a_socket_file_passes_only_as_a_socket_of_the_user() {
    let dir = TempDir::new("trust-socket");
    let me = euid();
    let path = dir.0.join("1.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    assert_eq!(check_socket_file(&path, &lstat(&path), me), Ok(()));
    assert_eq!(
        problem(check_socket_file(&path, &lstat(&path), me + 1)),
        format!(
            "a socket owned by uid {me} with mode 0600, not by uid {}",
            me + 1
        )
    );
    let link = dir.0.join("2.sock");
    symlink(&path, &link).unwrap();
    assert!(problem(check_socket_file(&link, &lstat(&link), me)).ends_with(": never followed"));
    let file = dir.0.join("3.sock");
    fs::write(&file, "").unwrap();
    assert!(problem(check_socket_file(&file, &lstat(&file), me)).ends_with(", not a socket"));
}

#[test]
fn a_peer_passes_as_the_user_or_root_with_the_pid_its_file_names() {
    let path = Path::new("/run/x/42.sock");
    let peer = |uid, pid| PeerCredentials { uid, pid };
    assert_eq!(
        check_peer(path, peer(1000, Some(42)), 1000, Some(42)),
        Ok(())
    );
    assert_eq!(
        check_peer(path, peer(0, Some(42)), 1000, Some(42)),
        Ok(()),
        "root"
    );
    assert_eq!(
        check_peer(path, peer(1000, Some(7)), 1000, None),
        Ok(()),
        "no pid named"
    );
    assert_eq!(
        problem(check_peer(path, peer(65534, Some(7)), 1000, None)),
        "the process listening there is uid 65534 (pid 7), not uid 1000 or root"
    );
    assert_eq!(
        problem(check_peer(path, peer(65534, Some(7)), 0, None)),
        "the process listening there is uid 65534 (pid 7), not uid 0"
    );
    assert_eq!(
        problem(check_peer(path, peer(1000, Some(7)), 1000, Some(42))),
        "the process listening there is pid 7, not 42 as its name says"
    );
    assert_eq!(
        problem(check_peer(path, peer(1000, None), 1000, Some(42))),
        "the process listening there is pid unknown, not 42 as its name says"
    );
}

#[test]
fn a_checked_connection_reads_the_listeners_credentials() {
    let dir = TempDir::new("trust-connect");
    let path = dir.0.join("5.sock");
    let _listener = UnixListener::bind(&path).unwrap();
    let me = euid();
    let mine = Some(std::process::id());
    let (_stream, peer) = connect_checked(&path, mine, me, CONNECT_TIMEOUT).unwrap();
    assert_eq!(peer, PeerCredentials { uid: me, pid: mine });
    let e = connect_checked(&path, Some(1), me, CONNECT_TIMEOUT).unwrap_err();
    assert!(matches!(e, ConnectError::Refused(_)), "{e}");
    assert!(
        e.to_string()
            .contains(&format!("is pid {}, not 1", std::process::id())),
        "{e}"
    );
}

#[test]
fn nothing_to_connect_to_is_unreachable_with_the_errno() {
    let dir = TempDir::new("trust-unreachable");
    let missing = dir.0.join("6.sock");
    let e = connect_checked(&missing, None, euid(), CONNECT_TIMEOUT).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("cannot reach the master at {}: ENOENT", missing.display())
    );
    let stale = dir.0.join("7.sock");
    drop(UnixListener::bind(&stale).unwrap());
    let e = connect_checked(&stale, None, euid(), CONNECT_TIMEOUT).unwrap_err();
    assert!(matches!(e, ConnectError::Unreachable { .. }));
    assert!(e.to_string().ends_with(": ECONNREFUSED"), "{e}");
}

#[test]
fn the_search_lists_sockets_of_trusted_folders_and_refuses_the_others() {
    let dir = TempDir::new("trust-search");
    let me = euid();
    let good = dir.0.join("good");
    fs::create_dir(&good).unwrap();
    fs::set_permissions(&good, fs::Permissions::from_mode(0o700)).unwrap();
    for name in [
        "12.sock",
        "3.sock",
        "x.sock",
        "12.sock.old",
        ".sock",
        "0.sock",
    ] {
        fs::write(good.join(name), "").unwrap();
    }
    let loose = dir.0.join("loose");
    fs::create_dir(&loose).unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(loose.join("8.sock"), "").unwrap();
    let missing = dir.0.join("missing");
    let found = search(vec![missing.clone(), loose.clone(), good.clone()], me);
    assert_eq!(found.dirs, [missing, loose.clone(), good.clone()]);
    assert_eq!(
        found.sockets,
        [(good.join("12.sock"), 12), (good.join("3.sock"), 3)]
    );
    assert_eq!(found.refused.len(), 1);
    assert_eq!(found.refused[0].path, loose);
    assert!(found.refused[0]
        .problem
        .contains("mode 0755: group or others may enter it"));
}

#[test]
fn a_socket_name_says_a_pid_only_as_digits_dot_sock() {
    assert_eq!(socket_pid("4242.sock"), Some(4242));
    for name in [
        "0.sock",
        ".sock",
        "42.sock.tmp",
        "-1.sock",
        "4x.sock",
        "99999999999.sock",
    ] {
        assert_eq!(socket_pid(name), None, "{name}");
    }
}
