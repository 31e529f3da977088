//! The binary's process contract: ready line, port file, and the ways it exits.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_holysheep-testserver");

fn read_ready_line(child: &mut Child) -> String {
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let url = line.trim_end().strip_prefix("LISTENING ").unwrap_or_else(|| panic!("{line:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    url.to_owned()
}

fn http(base: &str, request: &str) -> String {
    let addr = base.strip_prefix("http://").unwrap();
    let mut sock = TcpStream::connect(addr).unwrap();
    sock.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    sock.read_to_string(&mut out).unwrap();
    out
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("server did not exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn ready_line_port_file_and_stdin_eof() {
    let port_file = std::env::temp_dir().join(format!("hs-testserver-{}.url", std::process::id()));
    let _ = std::fs::remove_file(&port_file);
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--key", "sk-a", "--key=sk-b", "--port-file"])
        .arg(&port_file)
        .arg("--exit-on-stdin-eof")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let base = read_ready_line(&mut child);
    assert_eq!(std::fs::read_to_string(&port_file).unwrap().trim_end(), base);

    let body = r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"hi"}]}"#;
    let req = |key: &str| {
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\
             authorization: Bearer {key}\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    assert!(http(&base, &req("sk-b")).starts_with("HTTP/1.1 200 OK"));
    let denied = http(&base, &req("sk-c"));
    assert!(denied.starts_with("HTTP/1.1 401"), "{denied}");

    drop(child.stdin.take());
    assert!(wait_exit(&mut child).success());
    assert!(!port_file.exists(), "port file should be removed on clean exit");
}

#[test]
fn exits_cleanly_on_sigterm() {
    let mut child = Command::new(BIN).stdin(Stdio::null()).stdout(Stdio::piped()).spawn().unwrap();
    let base = read_ready_line(&mut child);
    let health =
        http(&base, "GET /_control/health HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n");
    assert!(health.starts_with("HTTP/1.1 200 OK"), "{health}");
    // stdin is /dev/null here: without --exit-on-stdin-eof the server must keep running.
    std::thread::sleep(Duration::from_millis(100));
    assert!(child.try_wait().unwrap().is_none());
    let killed = Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    assert!(killed.success());
    assert!(wait_exit(&mut child).success());
}

#[test]
fn rejects_bad_arguments() {
    let out = Command::new(BIN).arg("--bogus").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown argument"));
}
