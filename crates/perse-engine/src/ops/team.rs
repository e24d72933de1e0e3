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
//! team runs them on at most one thread per core (its workers and the caller), each thread
//! claiming the next part not yet taken. One op uses the team at a time: an op that finds it
//! busy (a detection running in parallel on another server thread, which already keeps a
//! core busy) runs its parts one after the other on its own thread. Parts are independent,
//! so results never depend on who runs them. A panic in a part is caught and, once every
//! part has finished, raised on the calling thread, as a scoped thread's would be at its
//! join.

use std::panic::{catch_unwind, AssertUnwindSafe};
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

/// Bit layout of [`Shared::state`]: the next part to claim (bits 0-7), the op's part count
/// (8-15), how many threads may take part (16-23, the caller included), the op's number
/// (24 and up).
const PARTS: u32 = 8;
const THREADS: u32 = 16;
const OP: u32 = 24;

struct Shared {
    /// The current op (see `OP`); its parts are claimed by incrementing the low bits, so a
    /// claim names its op and a late worker cannot take a part of the next one. Published
    /// after `job` is set.
    state: AtomicU64,
    job: Mutex<Option<JobPtr>>,
    /// Parts of the current op finished.
    done: AtomicUsize,
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
            done: AtomicUsize::new(0),
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

/// Claims the next unclaimed part of op `op`, if any.
fn claim(state: &AtomicU64, op: u64) -> Option<usize> {
    let mut s = state.load(Ordering::Acquire);
    loop {
        let (next, parts) = (s & 0xff, (s >> PARTS) & 0xff);
        if s >> OP != op || next >= parts {
            return None;
        }
        match state.compare_exchange_weak(s, s + 1, Ordering::AcqRel, Ordering::Acquire) {
            Ok(_) => return Some(next as usize),
            Err(now) => s = now,
        }
    }
}

/// Runs the parts of op `op` this thread claims; returns whether they all ran without panic.
fn take_parts(shared: &Shared, op: u64, f: *const Job) -> bool {
    let mut ok = true;
    while let Some(part) = claim(&shared.state, op) {
        // SAFETY: `run` keeps the job alive until every part of its op is done, and this
        // part is claimed and not done yet.
        ok &= catch_unwind(AssertUnwindSafe(|| unsafe { (*f)(part) })).is_ok();
        shared.done.fetch_add(1, Ordering::Release);
    }
    ok
}

/// A worker: waits for each new op and takes parts of it while there are any left.
fn work(shared: &'static Shared, index: usize) {
    // Ops are numbered from 1: a worker that starts after the first op was published still
    // sees it as new.
    let mut seen = 0;
    loop {
        let spun = Instant::now();
        let mut spins = 0u32;
        let state = loop {
            let s = shared.state.load(Ordering::Acquire);
            if s >> OP != seen {
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
                // `run` unparks the workers it invites after publishing an op; a token left
                // by an earlier unpark only makes this return early, and the loop checks again.
                thread::park();
            }
        };
        seen = state >> OP;
        if index >= ((state >> THREADS) & 0xff) as usize {
            continue;
        }
        // The job is this op's while a part is unclaimed; `claim` checks that under the
        // op's number, so a stale pointer read here is never called.
        let job = *shared.job.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(JobPtr(f)) = job {
            if !take_parts(shared, seen, f) {
                shared.panicked.store(true, Ordering::Relaxed);
            }
        }
    }
}

/// Runs `f(0)` .. `f(parts - 1)`, each part once, at the same time on the calling thread and
/// the team's workers (see the module's doc); returns when all have finished. A panic in
/// any part is raised here afterwards.
///
/// Parts are claimed, not assigned: the caller starts on them at once and takes the ones
/// no worker has claimed yet, so a worker that is slow to wake (parked, or its core busy)
/// costs nothing but its share of the speed-up.
pub(crate) fn run(parts: usize, f: &(dyn Fn(usize) + Sync)) {
    let team = team();
    let threads = parts.min(team.workers.len() + 1).min(255);
    let guard = match team.busy.try_lock() {
        Ok(g) if threads > 1 && parts < 256 => g,
        _ => return (0..parts).for_each(f),
    };
    let shared = team.shared;
    // SAFETY (lifetime): the job is called only for claimed parts of this op, and this call
    // returns only when every part is done, even when one panics.
    let job: *const Job = unsafe { std::mem::transmute::<&(dyn Fn(usize) + Sync), &'static Job>(f) };
    *shared.job.lock().unwrap_or_else(|p| p.into_inner()) = Some(JobPtr(job));
    shared.done.store(0, Ordering::Relaxed);
    shared.panicked.store(false, Ordering::Relaxed);
    let op = (shared.state.load(Ordering::Relaxed) >> OP) + 1;
    shared.state.store(
        op << OP | (threads as u64) << THREADS | (parts as u64) << PARTS,
        Ordering::Release,
    );
    for t in &team.workers[..threads - 1] {
        t.unpark();
    }
    let mine = take_parts(shared, op, job);
    let mut spins = 0u32;
    while shared.done.load(Ordering::Acquire) != parts {
        spins = spins.wrapping_add(1);
        if !spins.is_multiple_of(64) {
            std::hint::spin_loop();
        } else {
            // A worker may be waiting for this very core.
            thread::yield_now();
        }
    }
    *shared.job.lock().unwrap_or_else(|p| p.into_inner()) = None;
    let panicked = !mine || shared.panicked.load(Ordering::Relaxed);
    drop(guard);
    if panicked {
        panic!("a part of an engine op panicked");
    }
}

/// [`run`] with one item per part: part `i` gets `&mut items[i]` (its output chunk, its
/// scratch), so that callers need no shared-pointer or lock plumbing of their own.
pub(crate) fn run_each<T: Send>(items: &mut [T], f: &(dyn Fn(usize, &mut T) + Sync)) {
    // One lock per item, taken once, by the part's own thread.
    let cells: Vec<Mutex<&mut T>> = items.iter_mut().map(Mutex::new).collect();
    run(cells.len(), &|i| {
        let mut item = cells[i].lock().unwrap_or_else(|p| p.into_inner());
        f(i, &mut item);
    });
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
