//! The SDK's runtime threads yield to the JS thread when CPU is short.
//!
//! The JS thread's latency is the host application's latency: every timer, request and
//! callback of the app waits behind it. The native threads only move bytes for calls the JS
//! thread already made. When more threads are runnable than there are cores (a busy small
//! container, or a benchmark with its server on the same machine), the kernel shares the
//! cores by weight. So on Linux each runtime thread lowers its own priority by
//! `PERSE_NATIVE_NICE` (default 5, 0 to disable, at most 19 in total) the first time it runs
//! one of our tasks. With nothing else competing for a core, this changes nothing.
//!
//! Measured with `bench/http.mjs` on 2 cores shared with the bench server (`CLIENTS=perse-node
//! ROUNDS=5`): the median event-loop delay p99 fell from 2.73 ms to 1.64 ms (nice 10: 2.77 ms),
//! for about 15% less throughput, still 6-7x undici's.

#[cfg(target_os = "linux")]
pub fn background() {
    use std::cell::Cell;
    use std::sync::OnceLock;

    thread_local! {
        static DONE: Cell<bool> = const { Cell::new(false) };
    }
    static NICE: OnceLock<i32> = OnceLock::new();
    if DONE.with(|d| d.replace(true)) {
        return;
    }
    let delta = *NICE.get_or_init(|| {
        std::env::var("PERSE_NATIVE_NICE")
            .ok()
            .and_then(|v| v.trim().parse::<i32>().ok())
            .map(|n| n.clamp(0, 19))
            .unwrap_or(5)
    });
    if delta == 0 {
        return;
    }
    // On Linux, PRIO_PROCESS with `who` 0 addresses the calling thread only. Nice values
    // can only go up without privileges, which is the direction wanted. A failure (seccomp,
    // unusual kernels) leaves the priority as it was.
    // SAFETY: plain system calls on the calling thread.
    unsafe {
        let current = libc::getpriority(libc::PRIO_PROCESS, 0);
        libc::setpriority(libc::PRIO_PROCESS, 0, (current + delta).min(19));
    }
}

#[cfg(not(target_os = "linux"))]
pub fn background() {}
