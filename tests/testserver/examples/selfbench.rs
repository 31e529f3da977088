//! Measures the server's own round-trip cost with a minimal blocking HTTP/1.1 client, so
//! benchmark authors can see how much of a measured latency is the test server.
//!
//! `cargo run --release -p holysheep-testserver --example selfbench -- [REQUESTS] [CONNS]`

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use holysheep_testserver::{Config, TestServer};

fn main() {
    let mut args = std::env::args().skip(1);
    let requests: usize = args.next().map_or(20_000, |a| a.parse().expect("REQUESTS"));
    let conns: usize = args.next().map_or(1, |a| a.parse().expect("CONNS"));
    let server = TestServer::spawn(Config::new().key("sk-bench"), 1).expect("start server");
    let addr = server.addr();

    for (name, body) in [
        ("chat", r#"{"model":"gpt-4.1","messages":[{"role":"user","content":"Hello there!"}]}"#),
        (
            "chat-stream",
            concat!(
                r#"{"model":"gpt-4.1","stream":true,"stream_options":{"include_usage":true},"#,
                r#""messages":[{"role":"user","content":"Hello there, how are you today?"}]}"#
            ),
        ),
    ] {
        let request = format!(
            "POST /s/bench/v1/chat/completions HTTP/1.1\r\nhost: bench\r\n\
             authorization: Bearer sk-bench\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            body.len()
        );
        let start = Instant::now();
        let mut latencies: Vec<Duration> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..conns)
                .map(|_| s.spawn(|| run_conn(addr, &request, requests / conns)))
                .collect();
            handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
        });
        let elapsed = start.elapsed();
        latencies.sort();
        let pct =
            |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
        println!(
            "{name:12} {:>8.0} req/s  p50 {:>6.1}us  p99 {:>6.1}us  ({} requests, {conns} conns)",
            latencies.len() as f64 / elapsed.as_secs_f64(),
            pct(0.50).as_secs_f64() * 1e6,
            pct(0.99).as_secs_f64() * 1e6,
            latencies.len(),
        );
    }
}

fn run_conn(addr: std::net::SocketAddr, request: &str, n: usize) -> Vec<Duration> {
    let sock = TcpStream::connect(addr).unwrap();
    sock.set_nodelay(true).unwrap();
    let mut writer = sock.try_clone().unwrap();
    let mut reader = BufReader::new(sock);
    let mut line = String::new();
    let mut out = Vec::with_capacity(n);
    let mut sink = Vec::new();
    for _ in 0..n {
        let t = Instant::now();
        writer.write_all(request.as_bytes()).unwrap();
        let mut content_length = None;
        let mut chunked = false;
        loop {
            line.clear();
            reader.read_line(&mut line).unwrap();
            let l = line.trim_end().to_ascii_lowercase();
            if l.is_empty() {
                break;
            }
            if let Some(v) = l.strip_prefix("content-length:") {
                content_length = Some(v.trim().parse::<usize>().unwrap());
            }
            chunked |= l == "transfer-encoding: chunked";
        }
        if let Some(len) = content_length {
            sink.resize(len, 0);
            reader.read_exact(&mut sink).unwrap();
        } else if chunked {
            loop {
                line.clear();
                reader.read_line(&mut line).unwrap();
                let size = usize::from_str_radix(line.trim_end(), 16).unwrap();
                sink.resize(size + 2, 0);
                reader.read_exact(&mut sink).unwrap();
                if size == 0 {
                    break;
                }
            }
        }
        out.push(t.elapsed());
    }
    out
}
