//! The SDK's runtime threads yield to the JS thread when CPU is short.
//!
//! The JS thread's latency is the host application's latency: every timer, request and
//! callback of the app waits behind it. The native threads only move bytes for calls the JS
//! thread already made. When more threads are runnable than there are cores (a busy small
//! container, or a benchmark with its server on the same machine), the kernel shares the
//! cores by weight. So on Linux, when the application asks for it with `PERSE_NATIVE_NICE=n`
//! (1 to 19; unset or 0: off, the default), each runtime thread lowers its own priority by
//! `n` the first time it runs one of our tasks. Off by default because a library should not
//! change thread priorities in its host process unasked. With nothing else competing for a
//! core it changes nothing; nice is a weight, not a ban: under contention the threads still
//! get a share, so calls slow down but never starve (unlike `SCHED_IDLE`).
//!
//! Measured on 2 cores shared with the bench server, 3000-call rounds of `bench/http.mjs`'s
//! perse-node traffic, 7 runs of 10 rounds each, alternating: the median of the rounds'
//! event-loop delay p99 was 1.75 ms at nice 5 and 1.33 ms at nice 10 (p99 over all ticks: 2.40
//! and 2.11 ms), with no loss of throughput. (Nice 0 → 5 had moved it from 2.73 to 1.64 ms.)

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
            .unwrap_or(0)
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
