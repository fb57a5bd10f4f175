use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};

use super::*;

/// A fresh directory, removed when dropped.
pub(super) struct TempDir(pub(super) PathBuf);

impl TempDir {
    pub(super) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("mp-control-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().mode() & 0o777
}

#[test]
fn requests_are_json_objects_naming_the_request() {
    assert_eq!(
        parse_request(r#"{"request":"status"}"#),
        Ok(Request::Status)
    );
    assert_eq!(
        parse_request(r#"{"request":"reload"}"#),
        Ok(Request::Reload)
    );
    assert_eq!(parse_request(r#" {"request":"stop"} "#), Ok(Request::Stop));
    assert_eq!(parse_request(r#"{"request":"pause"}"#), Ok(Request::Pause));
    assert_eq!(
        parse_request(r#"{"request":"resume"}"#),
        Ok(Request::Resume)
    );
    assert_eq!(
        parse_request(r#"{"request":"scale","workers":3}"#),
        Ok(Request::Scale(3))
    );
}

#[test]
fn bad_requests_say_what_is_accepted() {
    assert!(matches!(
        parse_request("status"),
        Err(RequestError::NotJson(_))
    ));
    assert_eq!(parse_request("[1]"), Err(RequestError::NoRequest));
    assert_eq!(
        parse_request(r#"{"request":"restart"}"#),
        Err(RequestError::Unknown("restart".into()))
    );
    for (bad, shown) in [
        (r#"{"request":"scale"}"#, "null"),
        (r#"{"request":"scale","workers":"3"}"#, r#""3""#),
        (r#"{"request":"scale","workers":-1}"#, "-1"),
        (r#"{"request":"scale","workers":2.5}"#, "2.5"),
    ] {
        let e = parse_request(bad).unwrap_err();
        assert_eq!(e, RequestError::BadCount(shown.into()));
        assert_eq!(
            e.to_string(),
            format!("invalid workers={shown}: expected a whole number from 1 to 1024")
        );
    }
}

#[test]
fn the_default_directory_is_under_xdg_runtime_dir_else_the_temp_dir() {
    let dir = TempDir::new("xdg");
    let tmp = Path::new("/tmp");
    assert_eq!(
        default_dir(Some(&dir.0), tmp, 1000),
        dir.0.join("master-process")
    );
    assert_eq!(
        default_dir(None, tmp, 1000),
        PathBuf::from("/tmp/master-process-1000")
    );
    let missing = dir.0.join("missing");
    assert_eq!(
        default_dir(Some(&missing), tmp, 7),
        PathBuf::from("/tmp/master-process-7")
    );
    assert_eq!(
        default_dir(Some(Path::new("relative")), tmp, 7),
        PathBuf::from("/tmp/master-process-7")
    );
    assert_eq!(
        search_dirs(Some(&missing), tmp, 7),
        [
            missing.join("master-process"),
            PathBuf::from("/tmp/master-process-7")
        ]
    );
}

#[test]
fn the_directory_is_made_0700_and_a_loose_one_of_ours_is_tightened() {
    let dir = TempDir::new("dir");
    let made = dir.0.join("made");
    prepare_dir(&made).unwrap();
    assert_eq!(mode(&made), 0o700);
    fs::set_permissions(&made, fs::Permissions::from_mode(0o755)).unwrap();
    prepare_dir(&made).unwrap();
    assert_eq!(mode(&made), 0o700);
}

#[test]
fn a_directory_in_the_way_is_refused() {
    let dir = TempDir::new("refuse");
    let file = dir.0.join("file");
    fs::write(&file, "x").unwrap();
    assert!(prepare_dir(&file)
        .unwrap_err()
        .to_string()
        .contains("not a directory"));
    let link = dir.0.join("link");
    let target = dir.0.join("target");
    fs::create_dir(&target).unwrap();
    std::os::unix::fs::symlink(&target, &link).unwrap();
    assert!(prepare_dir(&link)
        .unwrap_err()
        .to_string()
        .contains("not a directory"));
    if euid() == 0 {
        let foreign = dir.0.join("foreign");
        fs::create_dir(&foreign).unwrap();
        std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
        let e = prepare_dir(&foreign).unwrap_err().to_string();
        assert!(
            e.contains("belongs to another user: a directory owned by uid 65534"),
            "{e}"
        );
    }
}

#[test]
fn binds_0600_clears_a_stale_socket_and_refuses_anything_else() {
    let dir = TempDir::new("bind");
    let path = dir.0.join("1.sock");
    drop(UnixListener::bind(&path).unwrap()); // stale: nobody listens
    let (bound, listener) = BoundControl::bind(&path).unwrap();
    assert_eq!(mode(&path), 0o600);
    let e = BoundControl::bind(&path).unwrap_err().to_string();
    assert!(e.contains("another process is listening"), "{e}");
    let file = dir.0.join("file");
    fs::write(&file, "keep").unwrap();
    let e = BoundControl::bind(&file).unwrap_err().to_string();
    assert!(e.contains("not a socket"), "{e}");
    assert_eq!(fs::read_to_string(&file).unwrap(), "keep");
    drop(listener);
    assert!(bound.remove());
    assert!(!path.exists());
}

#[test]
fn removes_only_the_socket_it_bound() {
    let dir = TempDir::new("remove");
    let path = dir.0.join("2.sock");
    let (bound, _listener) = BoundControl::bind(&path).unwrap();
    // Someone else's socket is moved over it.
    let other = dir.0.join("other.sock");
    let _other = UnixListener::bind(&other).unwrap();
    fs::rename(&other, &path).unwrap();
    assert!(!bound.remove());
    assert!(path.exists());
}

#[test]
fn a_client_searches_the_xdg_folder_the_temp_one_and_the_private_ones() {
    let dir = TempDir::new("search-dirs");
    for name in [
        "master-process-7-1f",
        "master-process-7-ab12",
        "master-process-7-",
        "master-process-7-xyz",
        "master-process-70-1",
    ] {
        fs::create_dir(dir.0.join(name)).unwrap();
    }
    let xdg = Path::new("/run/user/7");
    assert_eq!(
        search_dirs(Some(xdg), &dir.0, 7),
        [
            xdg.join("master-process"),
            dir.0.join("master-process-7"),
            dir.0.join("master-process-7-1f"),
            dir.0.join("master-process-7-ab12"),
        ]
    );
}

#[test]
fn a_usable_default_folder_is_chosen_with_no_warning() {
    let dir = TempDir::new("choose-default");
    let (chosen, why) = choose_dir(None, &dir.0, euid()).unwrap();
    assert_eq!(chosen, dir.0.join(format!("master-process-{}", euid())));
    assert!(why.is_none());
    assert_eq!(mode(&chosen), 0o700);
}

#[test]
fn a_default_folder_in_the_way_gives_way_to_a_private_one_which_is_reused() {
    let dir = TempDir::new("choose-private");
    let me = euid();
    fs::write(dir.0.join(format!("master-process-{me}")), "in the way").unwrap();
    let (first, why) = choose_dir(None, &dir.0, me).unwrap();
    let name = first.file_name().unwrap().to_string_lossy().into_owned();
    let prefix = format!("master-process-{me}-");
    assert!(name.starts_with(&prefix), "{name}");
    assert!(
        name[prefix.len()..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{name}"
    );
    assert_eq!(mode(&first), 0o700);
    assert!(why.unwrap().to_string().contains("not a directory"));
    let (second, _) = choose_dir(None, &dir.0, me).unwrap();
    assert_eq!(second, first, "reused rather than made again");
}

#[test]
fn a_private_folder_of_another_user_is_never_taken() {
    if euid() != 0 {
        return; // needs root to make a folder of another uid
    }
    let dir = TempDir::new("choose-foreign");
    let held = dir.0.join("master-process-0");
    fs::create_dir(&held).unwrap();
    std::os::unix::fs::chown(&held, Some(65534), Some(65534)).unwrap();
    let planted = dir.0.join("master-process-0-0");
    fs::create_dir(&planted).unwrap();
    std::os::unix::fs::chown(&planted, Some(65534), Some(65534)).unwrap();
    let (chosen, why) = choose_dir(None, &dir.0, 0).unwrap();
    assert_ne!(chosen, planted);
    assert_ne!(chosen, held);
    assert_eq!(fs::symlink_metadata(&chosen).unwrap().uid(), 0);
    let why = why.unwrap().to_string();
    assert!(
        why.contains("belongs to another user: a directory owned by uid 65534"),
        "{why}"
    );
}

/// A listener that never accepts, its backlog full: a plain connect would wait there.
#[test]
#[cfg(target_os = "linux")]
fn a_socket_whose_backlog_stays_full_is_refused_at_once() {
    let dir = TempDir::new("full-backlog");
    let path = dir.0.join("5.sock");
    let _held = crate::shell::listen_probe::full_backlog(&path);
    let (tx, rx) = std::sync::mpsc::channel();
    let probed = path.clone();
    std::thread::spawn(move || {
        let _ = tx.send(BoundControl::bind(&probed).map(|_| ()));
    });
    let outcome = rx
        .recv_timeout(CONNECT_TIMEOUT * 10)
        .expect("bind still waiting on a listener that never accepts");
    let e = outcome.unwrap_err().to_string();
    assert!(
        e.contains("is a socket another process is listening on"),
        "{e}"
    );
    assert!(path.exists(), "never deleted");
}
