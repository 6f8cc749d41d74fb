//! Background work that must not take the CPU from the clients: a thread of its own, at a
//! lower CPU priority (a higher nice value), running its own single-threaded runtime.
//!
//! The relay is such work. Replaying a write is never on a client's path, so when the
//! machine is saturated the gateway's workers should get the cores and the relay what is
//! left: the queue absorbs the difference (durably) and drains when the load eases, and its
//! depth and lag say so. On Linux a nice value belongs to a thread (`setpriority(2)`, NOTES),
//! so only this thread is lowered; the kernel's CFS then gives it a share of a contended core
//! by weight (nice 10 ≈ a tenth of a nice-0 thread's), never nothing.

use std::future::Future;
use tokio::task::JoinHandle;

/// The relay's nice value: below every client-facing thread (0), still scheduled under load.
pub const RELAY_NICE: i32 = 10;

/// Run `work` to its end on a new thread named `name` at nice `nice`. The returned handle
/// resolves when the work and its runtime have finished.
///
/// # Errors
/// The runtime or the thread cannot be created.
pub fn spawn<F>(name: &str, nice: i32, work: F) -> std::io::Result<JoinHandle<()>>
where
    F: Future<Output = ()> + Send + 'static,
{
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (done, finished) = tokio::sync::oneshot::channel::<()>();
    let thread_name = name.to_owned();
    std::thread::Builder::new().name(thread_name.clone()).spawn(move || {
        lower_priority(&thread_name, nice);
        runtime.block_on(work);
        // The runtime's own tasks (connection drivers) end before the handle resolves.
        drop(runtime);
        let _ = done.send(());
    })?;
    Ok(tokio::spawn(async move {
        let _ = finished.await;
    }))
}

/// Lower the calling thread's priority to `nice`. Not being allowed is not fatal (the work
/// then runs at the normal priority), so it is logged, not returned.
fn lower_priority(name: &str, nice: i32) {
    let tid = rustix::thread::gettid();
    match rustix::process::setpriority_process(Some(tid), nice) {
        Ok(()) => tracing::debug!(thread = name, nice, "background thread priority lowered"),
        Err(e) => {
            tracing::warn!(thread = name, nice, error = %e, "could not lower the background thread's priority; it runs at the normal one")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_work_runs_on_its_own_thread_at_the_lower_priority() {
        let own = || rustix::process::getpriority_process(Some(rustix::thread::gettid())).unwrap();
        let before = own();
        // Lower than where the test runs (raising it back would need a privilege).
        let target = (before + 3).min(19);
        let (tx, rx) = tokio::sync::oneshot::channel();
        let handle = spawn("ficus-test-bg", target, async move {
            let tid = rustix::thread::gettid();
            let nice = rustix::process::getpriority_process(Some(tid));
            let name = std::thread::current().name().map(str::to_owned);
            let _ = tx.send((nice.ok(), name));
        })
        .unwrap();
        handle.await.unwrap();
        let (nice, name) = rx.await.unwrap();
        assert_eq!(name.as_deref(), Some("ficus-test-bg"));
        assert_eq!(nice, Some(target), "the thread's own nice value");
        assert_eq!(own(), before, "the caller's thread keeps its priority");
    }
}
