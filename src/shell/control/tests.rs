use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::mpsc::channel;

use super::*;

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
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
        assert!(e.contains("belongs to uid 65534"), "{e}");
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

/// A driver stand-in answering every request with its name.
fn echo_driver() -> Sender<Input> {
    let (tx, rx) = channel::<Input>();
    std::thread::spawn(move || {
        for input in rx {
            if let Input::Ask(request, reply) = input {
                let _ = reply.send(json!({ "ok": true, "asked": format!("{request:?}") }));
            }
        }
    });
    tx
}

fn exchange(stream: &mut UnixStream, reader: &mut impl BufRead, line: &str) -> Value {
    stream.write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    reader.read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap()
}

#[test]
fn a_connection_gets_an_answer_per_line_and_survives_bad_requests() {
    let dir = TempDir::new("serve");
    let path = dir.0.join("3.sock");
    let (_bound, listener) = BoundControl::bind(&path).unwrap();
    serve(listener, echo_driver()).unwrap();
    let mut stream = UnixStream::connect(&path).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let status = exchange(&mut stream, &mut reader, "{\"request\":\"status\"}\n");
    assert_eq!(status, json!({"ok": true, "asked": "Status"}));
    let bad = exchange(&mut stream, &mut reader, "hello\n");
    assert_eq!(bad["ok"], false);
    assert!(bad["error"].as_str().unwrap().starts_with("not JSON"));
    let scale = exchange(
        &mut stream,
        &mut reader,
        "{\"request\":\"scale\",\"workers\":2}\n",
    );
    assert_eq!(scale["asked"], "Scale(2)");
}

#[test]
fn a_line_too_long_is_answered_and_the_connection_closed() {
    let dir = TempDir::new("long");
    let path = dir.0.join("4.sock");
    let (_bound, listener) = BoundControl::bind(&path).unwrap();
    serve(listener, echo_driver()).unwrap();
    let mut stream = UnixStream::connect(&path).unwrap();
    let writer = {
        let mut stream = stream.try_clone().unwrap();
        std::thread::spawn(move || {
            let _ = stream.write_all(&vec![b'x'; MAX_LINE + 10]);
        })
    };
    let mut text = String::new();
    stream.read_to_string(&mut text).unwrap();
    writer.join().unwrap();
    let answer: Value = serde_json::from_str(text.trim()).unwrap();
    assert_eq!(
        answer["error"],
        format!("request longer than {MAX_LINE} bytes")
    );
}
