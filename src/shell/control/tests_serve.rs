//! The control socket's server with a driver stand-in: answers per line, and every bound
//! (idle connections, a driver that does not answer, an outcome that does not come, a full
//! house of connections).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::mpsc::{channel, Receiver, Sender};
use std::time::Duration;

use serde_json::{json, Value};

use super::tests::TempDir;
use super::*;
use crate::core::Policy;
use crate::shell::Input;

/// Long enough never to end a test by itself: how long a test waits for what must happen.
const PATIENCE: Duration = Duration::from_secs(30);

/// Bounds short enough for a test to see them pass.
fn short(connections: usize) -> Limits {
    Limits {
        connections,
        idle: Duration::from_millis(200),
        answer: Duration::from_millis(200),
    }
}

/// Serve a fresh socket with `driver` and `limits`; its path (and the folder keeping it).
fn serving(name: &str, driver: Sender<Input>, limits: Limits) -> (TempDir, std::path::PathBuf) {
    let dir = TempDir::new(name);
    let path = dir.0.join("9.sock");
    let (bound, listener) = BoundControl::bind(&path).unwrap();
    std::mem::forget(bound);
    serve(listener, driver, limits).unwrap();
    (dir, path)
}

/// A client whose reads give up after `PATIENCE`, so a test fails rather than hangs.
fn client(path: &std::path::Path) -> (UnixStream, BufReader<UnixStream>) {
    let stream = UnixStream::connect(path).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

fn read_answer(reader: &mut impl BufRead) -> Value {
    let mut line = String::new();
    reader.read_line(&mut line).expect("an answer in time");
    serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line:?}"))
}

/// Whether the server has closed the connection: the rest of the stream is read to its end.
fn read_to_end(reader: &mut impl Read) -> String {
    let mut rest = String::new();
    reader
        .read_to_string(&mut rest)
        .expect("the connection closed in time");
    rest
}

/// A driver stand-in that never answers: it hands each request, with its replier, to the
/// test, which answers (or not) through it.
fn holding_driver() -> (Sender<Input>, Receiver<(Request, Replier)>) {
    let (tx, rx) = channel::<Input>();
    let (to_test, held) = channel();
    std::thread::spawn(move || {
        for input in rx {
            if let Input::Ask(request, reply) = input {
                let _ = to_test.send((request, reply));
            }
        }
    });
    (tx, held)
}

/// The next request the driver stand-in was asked.
fn next_held(held: &Receiver<(Request, Replier)>) -> (Request, Replier) {
    held.recv_timeout(PATIENCE)
        .expect("a request reached the driver")
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
    serve(listener, echo_driver(), Limits::default()).unwrap();
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
    serve(listener, echo_driver(), Limits::default()).unwrap();
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

#[test]
fn a_connection_that_sends_no_request_is_told_and_closed() {
    let (_dir, path) = serving("idle", echo_driver(), short(64));
    let (mut stream, mut reader) = client(&path);
    let answered = exchange(&mut stream, &mut reader, "{\"request\":\"status\"}\n");
    assert_eq!(answered["ok"], true);
    let told = read_answer(&mut reader);
    assert_eq!(told["error"], "closed: no request for 0.2s");
    assert_eq!(read_to_end(&mut reader), "");
}

#[test]
fn a_request_trickled_byte_by_byte_is_closed_at_the_idle_deadline_all_the_same() {
    let (_dir, path) = serving("trickle", echo_driver(), short(64));
    let (stream, mut reader) = client(&path);
    let mut writer = stream.try_clone().unwrap();
    // One byte of a request every 20 ms, never its end: each read finds something, the line
    // never comes. Stops at the first write the server no longer takes.
    let trickle = std::thread::spawn(move || {
        for _ in 0..1000 {
            if writer.write_all(b" ").is_err() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    });
    let told = read_answer(&mut reader);
    assert_eq!(told["error"], "closed: no request for 0.2s");
    assert!(
        trickle.join().unwrap(),
        "closed while the client was still trickling"
    );
}

#[test]
fn a_request_the_driver_does_not_answer_gets_an_error_answer_and_the_connection_goes_on() {
    let (driver, held) = holding_driver();
    let (_dir, path) = serving("no-answer", driver, short(64));
    let (mut stream, mut reader) = client(&path);
    let answer = exchange(&mut stream, &mut reader, "{\"request\":\"status\"}\n");
    assert_eq!(
        answer,
        json!({"ok": false, "error": "the master did not answer within 0.2s (its driver thread is busy or stuck)"})
    );
    assert_eq!(next_held(&held).0, Request::Status);
    let again = exchange(&mut stream, &mut reader, "{\"request\":\"pause\"}\n");
    assert_eq!(again["ok"], false, "asked again, and answered again");
}

#[test]
fn an_outcome_that_does_not_come_in_its_bound_is_answered_with_the_late_answer() {
    let (driver, held) = holding_driver();
    let limits = Limits {
        answer: PATIENCE,
        ..short(64)
    };
    let (_dir, path) = serving("late", driver, limits);
    let (mut stream, mut reader) = client(&path);
    stream.write_all(b"{\"request\":\"reload\"}\n").unwrap();
    let late = json!({"ok": false, "error": "too late"});
    let (request, reply) = next_held(&held);
    assert_eq!(request, Request::Reload);
    assert!(reply.later(Later {
        within: Duration::from_millis(100),
        late: late.clone()
    }));
    assert_eq!(read_answer(&mut reader), late);
    drop(reply);
}

#[test]
fn an_outcome_that_comes_in_its_bound_is_the_answer() {
    let (driver, held) = holding_driver();
    let (_dir, path) = serving("in-time", driver, short(64));
    let (mut stream, mut reader) = client(&path);
    stream.write_all(b"{\"request\":\"reload\"}\n").unwrap();
    let (_, reply) = next_held(&held);
    let late = json!({"ok": false, "error": "too late"});
    assert!(reply.later(Later {
        within: PATIENCE,
        late
    }));
    let done = json!({"ok": true, "reload": {"generation": 1, "outcome": "done"}});
    assert!(reply.send(done.clone()));
    assert_eq!(read_answer(&mut reader), done);
}

#[test]
fn a_full_house_closes_the_connection_idle_the_longest_for_a_newcomer() {
    let limits = Limits {
        idle: PATIENCE,
        ..short(2)
    };
    let (_dir, path) = serving("evict", echo_driver(), limits);
    let status = "{\"request\":\"status\"}\n";
    let (mut a, mut a_reader) = client(&path);
    assert_eq!(exchange(&mut a, &mut a_reader, status)["ok"], true);
    let (mut b, mut b_reader) = client(&path);
    assert_eq!(exchange(&mut b, &mut b_reader, status)["ok"], true);
    let (mut c, mut c_reader) = client(&path);
    assert_eq!(exchange(&mut c, &mut c_reader, status)["ok"], true);
    let told = read_answer(&mut a_reader);
    assert_eq!(
        told["error"],
        "closed: idle while 2 connections were open, to make room for a new one"
    );
    assert_eq!(read_to_end(&mut a_reader), "");
    assert_eq!(
        exchange(&mut b, &mut b_reader, status)["ok"],
        true,
        "b kept its place"
    );
}

#[test]
fn a_connection_with_a_request_in_flight_keeps_its_place_and_a_newcomer_is_told_busy() {
    let (driver, held) = holding_driver();
    let limits = Limits {
        idle: PATIENCE,
        answer: PATIENCE,
        connections: 1,
    };
    let (_dir, path) = serving("busy", driver, limits);
    let (mut a, _a_reader) = client(&path);
    a.write_all(b"{\"request\":\"reload\"}\n").unwrap();
    let _in_flight = next_held(&held);
    let (_, mut b_reader) = client(&path);
    let busy = read_answer(&mut b_reader);
    assert_eq!(
        busy["error"],
        "busy: 1 connections are open, each waiting for an answer"
    );
    assert_eq!(read_to_end(&mut b_reader), "");
}

#[test]
fn after_a_stop_the_connection_stays_open_for_the_exit_past_the_idle_limit() {
    let limits = Limits {
        connections: 2,
        ..short(2)
    };
    let (_dir, path) = serving("stop", echo_driver(), limits);
    let (mut a, mut a_reader) = client(&path);
    assert_eq!(
        exchange(&mut a, &mut a_reader, "{\"request\":\"stop\"}\n")["ok"],
        true
    );
    // Connected after, idle as long: once it is closed, `a` would have been too.
    let (_, mut b_reader) = client(&path);
    assert_eq!(
        read_answer(&mut b_reader)["error"],
        "closed: no request for 0.2s"
    );
    a.set_nonblocking(true).unwrap();
    let mut byte = [0u8];
    let e = a_reader.get_mut().read(&mut byte).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::WouldBlock, "still open, nothing said");
}

#[test]
fn ask_gives_up_on_a_driver_that_does_not_answer() {
    let (driver, held) = holding_driver();
    let (tx, outcome) = channel();
    let asking = driver.clone();
    std::thread::spawn(move || {
        let _ = tx.send(ask(&asking, Request::Status, Duration::from_millis(50)));
    });
    let outcome = outcome.recv_timeout(PATIENCE).expect("ask came back");
    assert_eq!(outcome, Err(AskError::NoAnswer(Duration::from_millis(50))));
    assert_eq!(next_held(&held).0, Request::Status);
    let (gone, _) = channel::<Input>();
    assert_eq!(
        ask(&gone, Request::Status, PATIENCE),
        Err(AskError::Exiting)
    );
}

#[test]
fn an_outcome_is_bounded_by_three_reloads_of_the_slots_there_are() {
    let policy = Policy::default();
    // (30 s ready + 5 s kill + 1 s probe) x 3 + 5 s.
    assert_eq!(outcome_bound(&policy, 1), Duration::from_secs(113));
    assert_eq!(
        outcome_bound(&policy, 8),
        Duration::from_secs(113),
        "one batch of all"
    );
    let rolling = Policy {
        reload_batch: 3,
        ..Policy::default()
    };
    // 8 slots, 3 at a time: 3 batches of up to 30 s.
    assert_eq!(
        outcome_bound(&rolling, 8),
        Duration::from_secs((90 + 6) * 3 + 5)
    );
    let scaled = Later::scale(8, &rolling, 2);
    assert_eq!(
        scaled.within,
        outcome_bound(&rolling, 8),
        "the slots it leads to"
    );
    let reload = Later::reload(4, &policy, 1);
    assert_eq!(
        reload.late["reload"],
        json!({"generation": 4, "outcome": "unknown"})
    );
    assert_eq!(
        reload.late["error"],
        "reload 4: no outcome within 113s (it may still be going on: see status)"
    );
}
