//! Pinning gateway workers to CPUs (thread-per-core, as nginx's `worker_cpu_affinity auto`).
//!
//! Why: left to itself the Linux scheduler sometimes stacks both busy workers of a 2-core box
//! on one core, where they take turns at the timer tick (4 ms at `HZ=250`) while every
//! connection of the waiting one stalls; `perf sched timehist` showed runs of 4–8 ms, and the
//! gateway benchmark's p99 was 3–4 ms against nginx's 1.1 ms. Pinned, p99 is 0.8–0.9 ms.

/// The CPUs this process may run on, in ascending order (empty when they cannot be read).
pub(crate) fn allowed_cpus() -> Vec<usize> {
    match rustix::thread::sched_getaffinity(None) {
        Ok(set) => (0..rustix::thread::CpuSet::MAX_CPU).filter(|&cpu| set.is_set(cpu)).collect(),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the CPUs this process may use; workers are not pinned");
            Vec::new()
        }
    }
}

/// The CPU of worker `index` among `allowed`: round-robin, so more workers than CPUs share
/// them evenly. `None` when there is nothing to pin to.
pub(crate) fn cpu_for(index: usize, allowed: &[usize]) -> Option<usize> {
    if allowed.is_empty() { None } else { allowed.get(index % allowed.len()).copied() }
}

/// Pin the calling thread to `cpu`.
///
/// # Errors
/// The kernel refused (the CPU is not in the process's cpuset, or no permission).
pub(crate) fn pin_current_thread(cpu: usize) -> std::io::Result<()> {
    let mut set = rustix::thread::CpuSet::new();
    set.set(cpu);
    rustix::thread::sched_setaffinity(None, &set).map_err(std::io::Error::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_are_spread_round_robin_over_the_allowed_cpus() {
        let allowed = [2, 5, 7];
        let cpus: Vec<_> = (0..5).map(|i| cpu_for(i, &allowed)).collect();
        assert_eq!(cpus, [Some(2), Some(5), Some(7), Some(2), Some(5)]);
        assert_eq!(cpu_for(0, &[]), None);
    }

    #[test]
    fn a_pinned_thread_runs_only_on_its_cpu() {
        let allowed = allowed_cpus();
        let cpu = *allowed.last().expect("this process may run on some CPU");
        let seen = std::thread::spawn(move || {
            pin_current_thread(cpu).expect("pin to an allowed CPU");
            let set = rustix::thread::sched_getaffinity(None).expect("read own affinity");
            (0..rustix::thread::CpuSet::MAX_CPU).filter(|&c| set.is_set(c)).collect::<Vec<_>>()
        })
        .join()
        .expect("thread");
        assert_eq!(seen, [cpu]);
        // The pin is per thread: this one keeps every allowed CPU.
        assert_eq!(allowed_cpus(), allowed);
    }
}
