//! Project commands in one place, so a developer and CI run the same steps:
//! `cargo xtask ci` (fmt check, clippy -D warnings, the test suite), `test`, `lint`, `demo`,
//! `bench`, `bench-shadow`.

use std::process::{Command, ExitCode};

const USAGE: &str = "usage: cargo xtask <ci|test|lint|demo|bench|bench-shadow>
  ci            cargo fmt --check, clippy -D warnings, then the test suite (what .ci/run runs)
  test          cargo test --workspace (the README's test command)
  lint          cargo fmt --check and clippy -D warnings
  demo          cargo run --release -- demo
  bench         bash bench/gateway.sh (proxy overhead vs nginx)
  bench-shadow  bash bench/shadow.sh (shadow reads: latency at a fixed load, max req/s vs nginx mirror)";

fn run(program: &str, args: &[&str]) -> bool {
    eprintln!("xtask: {program} {}", args.join(" "));
    match Command::new(program).args(args).status() {
        Ok(s) => s.success(),
        Err(e) => {
            eprintln!("xtask: cannot run {program}: {e}");
            false
        }
    }
}

fn lint() -> bool {
    run("cargo", &["fmt", "--all", "--check"])
        && run("cargo", &["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])
}

fn test() -> bool {
    run("cargo", &["test", "--workspace"])
}

fn main() -> ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let ok = match task.as_str() {
        "ci" => lint() && test(),
        "test" => test(),
        "lint" => lint(),
        "demo" => run("cargo", &["run", "--release", "--", "demo"]),
        "bench" => run("bash", &["bench/gateway.sh"]),
        "bench-shadow" => run("bash", &["bench/shadow.sh"]),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    if ok { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}
