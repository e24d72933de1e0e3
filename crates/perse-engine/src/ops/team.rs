//! A fork-join team of helper threads, started once per process, that runs the parts of one
//! op at a time.
//!
//! Why: an op split over threads used to spawn them under `std::thread::scope`, ~20 µs per
//! spawn, so ops under a few million multiply-adds (most of a 150 px chip's CenterFace) stayed
//! on one thread. The team's workers wait for the next op spinning for a short while, then
//! parked: an op handed to a spinning worker starts within a microsecond or two, so small ops
//! can use two cores too.
//!
//! How many parts an op is split into is still the caller's choice (`Ctx::threads`); the
//! team runs them on at most one thread per core (its workers and the caller), a thread
//! taking every T-th part when there are more parts than threads. One op uses the team at a
//! time: an op that finds it busy (a detection running in parallel on another server thread,
//! which already keeps a core busy) runs its parts one after the other on its own thread.
//! Parts are independent, so results never depend on who runs them. A worker's panic is
//! caught and raised again on the calling thread after every part has finished, as a scoped
//! thread's would be.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

/// Most helper threads the team starts (the local server uses at most 4 threads).
const MAX_WORKERS: usize = 3;

/// How long an idle worker spins before it parks. Between two split ops of one forward pass
/// there are a few microseconds to a few hundred (small single-threaded ops, the next op's
/// setup): long enough to cover those gaps, short enough that a worker does not burn a core
/// after the last op. Measured on CenterFace at a 150 px chip with 2 threads: see the
/// `PAR_MIN_WORK` note in `ops/mod.rs`.
const SPIN: Duration = Duration::from_micros(200);

type Job = dyn Fn(usize) + Sync;

/// The job of the current op, valid while its `run` waits.
#[derive(Clone, Copy)]
struct JobPtr(*const Job);
// SAFETY: the pointee is `Sync`, and `run` keeps it alive until every worker reading it is done.
unsafe impl Send for JobPtr {}

struct Shared {
    /// The op count (bits 16 and up), the threads taking part (bits 8-15, the caller
    /// included) and the part count (bits 0-7), published after `job` and `pending` are set.
    state: AtomicU64,
    job: Mutex<Option<JobPtr>>,
    /// Workers taking part that have not finished.
    pending: AtomicUsize,
    /// A worker's part panicked.
    panicked: AtomicBool,
}

struct Team {
    shared: &'static Shared,
    workers: Vec<Thread>,
    /// Held by the op using the team.
    busy: Mutex<()>,
}

static TEAM: OnceLock<Team> = OnceLock::new();

fn team() -> &'static Team {
    TEAM.get_or_init(|| {
        let shared: &'static Shared = Box::leak(Box::new(Shared {
            state: AtomicU64::new(0),
            job: Mutex::new(None),
            pending: AtomicUsize::new(0),
            panicked: AtomicBool::new(false),
        }));
        let want = thread::available_parallelism()
            .map_or(1, |n| n.get())
            .clamp(1, MAX_WORKERS + 1)
            - 1;
        let workers = (0..want)
            .map_while(|i| {
                thread::Builder::new()
                    .name(format!("perse-engine-{}", i + 1))
                    .spawn(move || work(shared, i + 1))
                    .ok()
                    .map(|h| h.thread().clone())
            })
            .collect();
        Team {
            shared,
            workers,
            busy: Mutex::new(()),
        }
    })
}

/// A worker: waits for each new op and runs its part `index` if the op has that many parts.
fn work(shared: &'static Shared, index: usize) {
    // Ops are counted from 1: a worker that starts after the first op was published still
    // sees it as new.
    let mut seen = 0;
    loop {
        let spun = Instant::now();
        let mut spins = 0u32;
        let state = loop {
            let s = shared.state.load(Ordering::Acquire);
            if s >> 16 != seen {
                break s;
            }
            spins = spins.wrapping_add(1);
            if !spins.is_multiple_of(64) {
                std::hint::spin_loop();
            } else if spun.elapsed() < SPIN {
                // Let a thread waiting for this core run (on a busy machine the caller of the
                // next op may be it).
                thread::yield_now();
            } else {
                // `run` unparks every worker after publishing an op; a token left by an
                // earlier unpark only makes this return early, and the loop checks again.
                thread::park();
            }
        };
        seen = state >> 16;
        let (threads, parts) = ((state >> 8) as u8 as usize, state as u8 as usize);
        if index < threads {
            let job = *shared.job.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(JobPtr(f)) = job {
                // SAFETY: `run` published this job for this op and waits for `pending` to
                // reach zero before it returns, so the closure is alive.
                let ok = catch_unwind(AssertUnwindSafe(|| {
                    for part in (index..parts).step_by(threads) {
                        unsafe { (*f)(part) }
                    }
                }))
                .is_ok();
                if !ok {
                    shared.panicked.store(true, Ordering::Relaxed);
                }
            }
            shared.pending.fetch_sub(1, Ordering::Release);
        }
    }
}

/// Runs `f(0)` .. `f(parts - 1)`, each part once, at the same time on the calling thread and
/// the team's workers (see the module's doc); returns when all have finished. A panic in
/// any part is raised here afterwards.
pub(crate) fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    let team = team();
    let threads = parts.min(team.workers.len() + 1).min(255);
    let guard = match team.busy.try_lock() {
        Ok(g) if threads > 1 && parts < 256 => g,
        _ => return (0..parts).for_each(f),
    };
    let shared = team.shared;
    // SAFETY (lifetime): the job is read by workers only while this call waits for them
    // below, which it does even when the caller's parts panic.
    let job: *const Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static Job>(f) };
    *shared.job.lock().unwrap_or_else(|p| p.into_inner()) = Some(JobPtr(job));
    shared.pending.store(threads - 1, Ordering::Relaxed);
    shared.panicked.store(false, Ordering::Relaxed);
    let op = (shared.state.load(Ordering::Relaxed) >> 16) + 1;
    shared
        .state
        .store(op << 16 | (threads as u64) << 8 | parts as u64, Ordering::Release);
    for t in &team.workers[..threads - 1] {
        t.unpark();
    }
    let mine = catch_unwind(AssertUnwindSafe(|| (0..parts).step_by(threads).for_each(f)));
    let mut spins = 0u32;
    while shared.pending.load(Ordering::Acquire) != 0 {
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(64) {
            std::hint::spin_loop();
        } else {
            // A worker may be waiting for this very core.
            thread::yield_now();
        }
    }
    *shared.job.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let panicked = shared.panicked.load(Ordering::Relaxed);
    drop(guard);
    if let Err(p) = mine {
        resume_unwind(p);
    }
    if panicked {
        panic!("a part of an engine op panicked on a helper thread");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_runs_once() {
        for parts in [0, 1, 2, 3, 4, 7, 300] {
            let hits: Vec<AtomicUsize> = (0..parts).map(|_| AtomicUsize::new(0)).collect();
            for _ in 0..200 {
                run(parts, &|i| {
                    hits[i].fetch_add(1, Ordering::Relaxed);
                });
            }
            assert!(hits.iter().all(|h| h.load(Ordering::Relaxed) == 200), "{parts}");
        }
    }

    #[test]
    fn ops_from_many_threads_at_once() {
        let total = AtomicUsize::new(0);
        thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..500 {
                        run(2, &|i| {
                            total.fetch_add(i + 1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(total.load(Ordering::Relaxed), 4 * 500 * 3);
    }

    #[test]
    fn a_panicking_part_reaches_the_caller_and_the_team_goes_on() {
        for bad in [0, 1] {
            let r = catch_unwind(|| run(2, &|i| assert!(i != bad, "part {i}")));
            assert!(r.is_err(), "part {bad}");
        }
        let n = AtomicUsize::new(0);
        run(2, &|_| {
            n.fetch_add(1, Ordering::Relaxed);
        });
        assert_eq!(n.load(Ordering::Relaxed), 2);
    }

    /// A worker that parked (idle past `SPIN`) wakes for the next op.
    #[test]
    fn parked_workers_wake() {
        let n = AtomicUsize::new(0);
        for _ in 0..3 {
            thread::sleep(Duration::from_millis(5));
            run(2, &|_| {
                n.fetch_add(1, Ordering::Relaxed);
            });
        }
        assert_eq!(n.load(Ordering::Relaxed), 6);
    }
}
