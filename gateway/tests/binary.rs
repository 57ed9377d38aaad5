//! The built `worker-gateway` binary as a user runs it: the first stdout
//! line names the address, the bus carries beats, SIGTERM exits 0.

mod common;

use std::process::Stdio;
use std::time::Duration;

use common::*;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

#[tokio::test]
async fn binary_announces_serves_and_exits_cleanly_on_sigterm() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_worker-gateway"))
        .args(["--listen", "127.0.0.1:0", "--simulate", "--interval", "0.2"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");

    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let first = tokio::time::timeout(WAIT, lines.next_line())
        .await
        .expect("first line in time")
        .expect("readable")
        .expect("a line");
    let addr = first
        .strip_prefix("worker-gateway listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {first:?}"));
    assert!(
        addr.starts_with("127.0.0.1:") && !addr.ends_with(":0"),
        "{addr}"
    );
    // Keep draining stdout so the child can never block on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

    let mut ws = connect(&format!("ws://{addr}/bus")).await;
    sub(&mut ws, 1, "system.*.health").await;
    let beat = next_json(&mut ws).await;
    assert_eq!(beat["type"], "health");
    assert!(beat["payload"]["worker"].is_string());

    let pid = child.id().expect("running") as libc::pid_t;
    // SAFETY: sends a signal to the child we spawned; no memory involved.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    assert_eq!(close_code(&mut ws, WAIT).await, 1001, "going away");
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits in time")
        .expect("exit status");
    assert_eq!(status.code(), Some(0), "{status:?}");
}
