//! The `worker-gateway` binary: parse flags, raise the file limit, bind,
//! announce the address on stdout, and hand over to `worker_gateway::run`.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::Parser;
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use worker_gateway::Config;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = Config::parse();
    config.announce = true;
    // Before binding: a flag error must not look like a gateway that started.
    if let Err(e) = config.check() {
        eprintln!("worker-gateway: {e}");
        return ExitCode::from(2);
    }

    // Logs go to stderr: stdout is for the lines scripts read.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .init();

    raise_fd_limit();
    let shutdown = match shutdown_signal() {
        Ok(shutdown) => shutdown,
        Err(e) => {
            eprintln!("worker-gateway: cannot install signal handlers: {e}");
            return ExitCode::FAILURE;
        }
    };

    let listener = match TcpListener::bind(&config.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            eprintln!("worker-gateway: cannot listen on {}: {e}", config.listen);
            return ExitCode::FAILURE;
        }
    };
    let addr = match listener.local_addr() {
        Ok(addr) => addr,
        Err(e) => {
            eprintln!("worker-gateway: {e}");
            return ExitCode::FAILURE;
        }
    };

    // Scripts and tests wait for exactly this first line to learn the port.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "worker-gateway listening on http://{addr}");
    let _ = writeln!(out, "bus: ws://{addr}/bus");
    let patterns = config.readable();
    let readable: Vec<&str> = patterns.iter().map(|p| p.as_str()).collect();
    let _ = writeln!(
        out,
        "upstream: {}; clients may read {}",
        config
            .upstream
            .as_ref()
            .map_or("none (the in-process bus)".to_string(), |u| u.display()),
        readable.join(", ")
    );
    for mount in &config.static_dirs {
        let path = mount.path.trim_end_matches('/');
        let _ = writeln!(
            out,
            "static: {} at http://{addr}{path}/",
            mount.dir.display()
        );
    }
    if config.admin {
        let _ = writeln!(
            out,
            "admin: http://{addr}/admin/stats, ws://{addr}/admin/flood"
        );
    }
    if config.token.is_some() || config.publisher_token.is_some() {
        let _ = writeln!(
            out,
            "auth: client token {}, publisher token {}",
            if config.token.is_some() {
                "required"
            } else {
                "off"
            },
            if config.publisher_token.is_some() {
                "set"
            } else {
                "off"
            },
        );
    }
    let _ = out.flush();
    drop(out);

    match worker_gateway::run(listener, config, shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("worker-gateway: {e}");
            ExitCode::FAILURE
        }
    }
}

/// A future that completes on SIGINT (Ctrl-C) or SIGTERM (what service
/// managers and `kill` send). The handlers are installed here, before the
/// first stdout line, so a script that signals as soon as it has read the
/// address never hits the default action (death with status 143).
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => {}
            _ = terminate.recv() => {}
        }
    })
}

#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
    })
}

/// Each WebSocket client is a file descriptor, and the usual soft limit
/// (1024) is below what a 1000-client load test needs; the hard limit is
/// ours to take.
#[cfg(unix)]
fn raise_fd_limit() {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read and write the struct we pass.
    let got = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if got != 0 {
        tracing::warn!(
            "cannot read the open-file limit: {}",
            std::io::Error::last_os_error()
        );
        return;
    }
    if lim.rlim_cur >= lim.rlim_max {
        tracing::debug!("open-file limit already {}", lim.rlim_cur);
        return;
    }
    let old = lim.rlim_cur;
    lim.rlim_cur = lim.rlim_max;
    // SAFETY: as above.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) } == 0 {
        tracing::info!("raised the open-file limit from {old} to {}", lim.rlim_cur);
    } else {
        tracing::warn!(
            "cannot raise the open-file limit from {old} to {}: {}; fewer clients fit",
            lim.rlim_max,
            std::io::Error::last_os_error()
        );
    }
}

#[cfg(not(unix))]
fn raise_fd_limit() {}
