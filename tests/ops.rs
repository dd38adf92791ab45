//! Operating the binary: start-up hooks (`serve --init-dir`) and CLI errors that say what was
//! tried and what to do.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn openice() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_openice"));
    for (k, _) in std::env::vars() {
        if k.starts_with("OPENICE_") {
            c.env_remove(k);
        }
    }
    c.stdin(Stdio::null());
    c
}

fn write_script(path: &Path, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn init_hooks_run_in_order_with_endpoint_and_key_and_failures_do_not_stop_the_server() {
    let dir = tempfile::tempdir().unwrap();
    let (data, init, out) = (
        dir.path().join("data"),
        dir.path().join("init"),
        dir.path().join("out"),
    );
    let ready = init.join("ready.d");
    std::fs::create_dir_all(&ready).unwrap();
    std::fs::create_dir_all(&out).unwrap();
    let out_s = out.display();
    write_script(
        &ready.join("10-seed.sh"),
        &format!(
            "echo \"$OPENICE_ENDPOINT $OPENICE_ACCESS_KEY_ID $OPENICE_ACCESS_KEY_SECRET\" > {out_s}/env\n\
             curl -fsS \"$OPENICE_ENDPOINT/healthz\" > {out_s}/healthz\n\
             echo seeded-from-hook\n\
             ls {out_s} > {out_s}/seen-by-10"
        ),
    );
    write_script(&ready.join("20-fail.sh"), "echo about-to-fail >&2\nexit 3");
    write_script(
        &ready.join("30-after.sh"),
        // Written aside and renamed, so the test never reads it half-written.
        &format!("ls {out_s} > {out_s}/.seen-by-30 && mv {out_s}/.seen-by-30 {out_s}/seen-by-30"),
    );
    std::fs::write(ready.join("40-not-executable.sh"), "touch {out_s}/never").unwrap();

    let port = free_port();
    let log = dir.path().join("server.log");
    let mut server = openice()
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--data-dir")
        .arg(&data)
        .arg("--init-dir")
        .arg(&init)
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    wait_for("the last hook", Duration::from_secs(30), || {
        out.join("seen-by-30").exists()
    });

    let creds: serde_json::Value =
        serde_json::from_slice(&std::fs::read(data.join("default-credentials.json")).unwrap())
            .unwrap();
    let env = std::fs::read_to_string(out.join("env")).unwrap();
    assert_eq!(
        env.trim(),
        format!(
            "http://127.0.0.1:{port} {} {}",
            creds["AccessKeyId"].as_str().unwrap(),
            creds["AccessKeySecret"].as_str().unwrap()
        )
    );
    // The hook ran once the server answered /healthz.
    assert_eq!(
        std::fs::read_to_string(out.join("healthz")).unwrap().trim(),
        "ok"
    );
    // Name order: 30 ran after 10, and the failing 20 did not stop it.
    let seen_by_30 = std::fs::read_to_string(out.join("seen-by-30")).unwrap();
    assert!(seen_by_30.contains("seen-by-10"), "{seen_by_30}");
    assert!(!out.join("never").exists());

    // Output and failures are logged with the hook's name; the server keeps serving.
    wait_for("the failure in the log", Duration::from_secs(10), || {
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("init hook failed")
    });
    let logged = std::fs::read_to_string(&log).unwrap();
    for line in ["seeded-from-hook", "about-to-fail"] {
        assert!(logged.contains(line), "{line} not in the log:\n{logged}");
    }
    assert!(logged.contains("10-seed.sh") && logged.contains("20-fail.sh"));
    let health = Command::new("curl")
        .args(["-fsS", &format!("http://127.0.0.1:{port}/healthz")])
        .output()
        .unwrap();
    assert!(health.status.success());
    server.kill().unwrap();
    server.wait().unwrap();
}

/// Runs a CLI command that must fail; returns its stderr and how long it took.
fn fails(args: &[&str], data_dir: &Path) -> (String, Duration) {
    let started = Instant::now();
    let out = openice()
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} succeeded");
    (
        String::from_utf8_lossy(&out.stderr).into_owned(),
        started.elapsed(),
    )
}

#[test]
fn an_unreachable_postgres_store_fails_fast_naming_host_port_and_cause() {
    let dir = tempfile::tempdir().unwrap();
    let (err, took) = fails(
        &[
            "serve",
            "--database-url",
            "postgres://nobody@127.0.0.1:1/x",
            "--listen",
            &format!("127.0.0.1:{}", free_port()),
        ],
        dir.path(),
    );
    assert!(took < Duration::from_secs(8), "took {took:?}");
    assert!(err.contains("127.0.0.1:1"), "{err}");
    assert!(err.contains("refused"), "{err}");
    assert!(err.contains("--database-url"), "{err}");
}

#[test]
fn a_missing_postgres_database_or_role_is_named() {
    let Ok(url) = std::env::var("OPENICE_TEST_DATABASE_URL") else {
        assert!(
            std::env::var("OPENICE_REQUIRE_POSTGRES").is_err(),
            "OPENICE_REQUIRE_POSTGRES is set but OPENICE_TEST_DATABASE_URL is not"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let base = url.rsplit_once('/').unwrap().0;
    let (err, _) = fails(
        &[
            "account",
            "list",
            "--database-url",
            &format!("{base}/openice_no_such_database"),
        ],
        dir.path(),
    );
    assert!(
        err.contains("database \"openice_no_such_database\" does not exist"),
        "{err}"
    );
}

#[test]
fn media_put_of_a_missing_file_names_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let (err, _) = fails(
        &[
            "media",
            "put",
            "/nonexistent/clip.mp4",
            "oss://my-bucket/k.mp4",
        ],
        dir.path(),
    );
    assert!(err.contains("/nonexistent/clip.mp4"), "{err}");
}

#[test]
fn a_taken_port_is_named() {
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let (err, _) = fails(&["serve", "--listen", &addr], dir.path());
    assert!(err.contains(&addr) && err.contains("--listen"), "{err}");
}
