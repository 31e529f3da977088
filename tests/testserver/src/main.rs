//! `holysheep-testserver` binary: see `tests/README.md`, section "Test server".

use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use holysheep_testserver::{Config, TestServer};

const USAGE: &str = "\
usage: holysheep-testserver [--listen ADDR] [--key KEY]... [--port-file PATH]
                            [--exit-on-stdin-eof] [--threads N]

  --listen ADDR         address to bind (default 127.0.0.1:0 = ephemeral port)
  --key KEY             globally valid API key, repeatable; without any --key every
                        non-empty bearer key is accepted
  --port-file PATH      also write the base URL (http://127.0.0.1:PORT) to PATH
  --exit-on-stdin-eof   exit when stdin is closed (parent died or closed the pipe)
  --threads N           tokio worker threads (default: number of CPUs)

Prints `LISTENING http://HOST:PORT` on stdout once ready. Exits on SIGTERM/SIGINT.";

struct Args {
    listen: SocketAddr,
    keys: Vec<String>,
    port_file: Option<PathBuf>,
    exit_on_stdin_eof: bool,
    threads: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        keys: Vec::new(),
        port_file: None,
        exit_on_stdin_eof: false,
        threads: None,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        let mut value = |name: &str| {
            inline.clone().or_else(|| it.next()).ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                args.listen = v.parse().map_err(|e| format!("--listen {v:?}: {e}"))?;
            }
            "--key" => {
                let v = value("--key")?;
                if v.is_empty() {
                    return Err("--key must not be empty".into());
                }
                args.keys.push(v);
            }
            "--port-file" => args.port_file = Some(PathBuf::from(value("--port-file")?)),
            "--threads" => {
                let v = value("--threads")?;
                let n: usize = v.parse().map_err(|e| format!("--threads {v:?}: {e}"))?;
                args.threads = Some(n.max(1));
            }
            "--exit-on-stdin-eof" => args.exit_on_stdin_eof = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            "-V" | "--version" => {
                println!("holysheep-testserver {}", env!("CARGO_PKG_VERSION"));
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(args)
}

/// Written via a temporary file and rename so a parent polling the file never reads a
/// partial URL.
fn write_port_file(path: &Path, base_url: &str) -> std::io::Result<()> {
    let mut tmp = path.as_os_str().to_owned();
    tmp.push(format!(".tmp{}", std::process::id()));
    std::fs::write(&tmp, format!("{base_url}\n"))?;
    std::fs::rename(&tmp, path)
}

async fn wait_for_exit(exit_on_stdin_eof: bool) {
    use tokio::io::AsyncReadExt;

    let stdin_eof = async {
        if !exit_on_stdin_eof {
            return std::future::pending::<()>().await;
        }
        let mut stdin = tokio::io::stdin();
        let mut buf = [0u8; 256];
        loop {
            match stdin.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    };
    tokio::select! {
        _ = termination_signal() => {}
        _ = stdin_eof => {}
    }
}

#[cfg(unix)]
async fn termination_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("install SIGINT handler");
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
}

#[cfg(not(unix))]
async fn termination_signal() {
    let _ = tokio::signal::ctrl_c().await;
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("holysheep-testserver: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if let Some(n) = args.threads {
        builder.worker_threads(n);
    }
    let runtime = match builder.thread_name("holysheep-testserver").enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("holysheep-testserver: cannot start runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let mut config = Config::new().listen(args.listen);
    for key in args.keys {
        config = config.key(key);
    }
    let code = runtime.block_on(async {
        let server = match TestServer::start(config).await {
            Ok(s) => s,
            Err(e) => {
                eprintln!("holysheep-testserver: cannot listen on {}: {e}", args.listen);
                return ExitCode::from(1);
            }
        };
        if let Some(path) = &args.port_file {
            if let Err(e) = write_port_file(path, server.base_url()) {
                eprintln!("holysheep-testserver: cannot write {}: {e}", path.display());
                return ExitCode::from(1);
            }
        }
        // Ignore write errors: a parent that closed our stdout must not make us panic.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "LISTENING {}", server.base_url());
        let _ = out.flush();
        drop(out);

        wait_for_exit(args.exit_on_stdin_eof).await;
        server.shutdown().await;
        if let Some(path) = &args.port_file {
            let _ = std::fs::remove_file(path);
        }
        ExitCode::SUCCESS
    });
    // The stdin reader sits in a blocking thread that cannot be interrupted; do not wait
    // for it.
    runtime.shutdown_background();
    code
}
