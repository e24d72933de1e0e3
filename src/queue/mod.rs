//! The completion queue: how calls start on the runtime and how their outcomes get back to
//! the JS thread, one batch per event-loop turn. [`Hub::launch`] is its one entry point; why
//! it exists and the invariants it keeps are in ARCHITECTURE.md ("The completion queue").

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use futures_util::FutureExt;
use napi::bindgen_prelude::*;
use napi::sys;
use napi::threadsafe_function::{ThreadsafeCallContext, ThreadsafeFunction, ThreadsafeFunctionCallMode};
mod batch;
#[cfg(feature = "layout-samples")]
mod samples;
mod waker;

use batch::Batch;
pub use batch::Done;
pub use waker::{CompletionWaker, Nums};

/// Finished calls handed to JS per turn of the event loop (see `Shared::deliver`). Settling a
/// call runs the code awaiting it, so this bounds the work of one turn. 8 kept the event-loop
/// delay p99 under 1 ms at full load in `bench/http.mjs` (32 calls in flight), with the same
/// throughput as unbounded batches.
pub const PER_TICK: usize = 8;

/// The JS side is `(nums, strs) => void`, implemented by `lib/decode.js`.
pub type Args = FnArgs<(Nums, Vec<String>)>;
type Tsfn = ThreadsafeFunction<(), (), Args, Status, false, true>;

/// Finished calls waiting for the JS thread.
#[derive(Default)]
struct Ready {
    batch: Batch,
    /// A delivery is on its way or the JS side has yet to rearm: finishing tasks must not wake
    /// the JS thread again.
    scheduled: bool,
}

/// State shared by the JS thread and the tasks.
#[derive(Default)]
struct Shared {
    /// Finished calls, already encoded.
    ready: Mutex<Ready>,
    /// The hub, while the client lives. Without it no one will rearm, so a delivery takes all.
    hub: OnceLock<Weak<Hub>>,
    /// Calls started and not yet delivered. Only the JS thread changes it.
    in_flight: AtomicUsize,
    raw: AtomicPtr<sys::napi_threadsafe_function__>,
}

pub struct Hub {
    shared: Arc<Shared>,
    /// `None` once shut down: nothing is delivered after `close()`.
    tsfn: Mutex<Option<Tsfn>>,
    /// Calls started since the last `flush` (JS thread only).
    queued: Mutex<Vec<(u32, Task)>>,
}

type Task = std::pin::Pin<Box<dyn Future<Output = ()> + Send>>;

impl Hub {
    pub fn new(on_complete: Function<Args, ()>) -> Result<Arc<Self>> {
        let shared = Arc::new(Shared::default());
        let s = shared.clone();
        let tsfn: Tsfn = on_complete
            .build_threadsafe_function::<()>()
            .callee_handled::<false>()
            .weak::<true>()
            .build_callback(move |ctx: ThreadsafeCallContext<()>| Ok(s.deliver(&ctx.env)))?;
        shared.raw.store(tsfn.raw(), Ordering::Release);
        let hub = Arc::new(Hub {
            shared: shared.clone(),
            tsfn: Mutex::new(Some(tsfn)),
            queued: Mutex::new(Vec::new()),
        });
        let _ = shared.hub.set(Arc::downgrade(&hub));
        Ok(hub)
    }

    /// Queues `fut` to run on the tokio runtime at the next `flush`; its outcome (a result,
    /// its error, or a caught panic as `internal_error`) is delivered to JS under `id`. Call on
    /// the JS thread. The future is boxed here, where it is made: it is several kilobytes, and
    /// each move of an unboxed one is a memcpy on the JS thread.
    /// `log` is the call's (`CallOptions::log`): its request id and trace go into the outcome.
    pub fn launch<F>(self: &Arc<Self>, env: &Env, id: u32, log: Arc<perse_core::CallLog>, fut: F)
    where
        F: Future<Output = perse_core::Result<Done>> + Send + 'static,
    {
        let fut = Box::pin(fut);
        if self.shared.in_flight.fetch_add(1, Ordering::Relaxed) == 0 {
            // SAFETY: on the JS thread of the env that created the function, which is alive.
            unsafe { sys::napi_ref_threadsafe_function(env.raw(), self.shared.raw.load(Ordering::Acquire)) };
        }
        let hub = self.clone();
        let task = async move {
            crate::priority::background();
            let done = match AssertUnwindSafe(fut).catch_unwind().await {
                Ok(Ok(done)) => done,
                Ok(Err(e)) => Done::from(e),
                Err(panic) => Done::from(perse_napi_edge::panic_error(&*panic)),
            };
            hub.finish(id, done.with_log(&log));
        };
        lock(&self.queued).push((id, Box::pin(task)));
    }

    /// Hands the calls queued since the last flush to the runtime (JS thread, once per tick:
    /// `lib/transport.js` queues it after the tick's first call). Waking a parked runtime thread is a system call, so one
    /// wake-up starts a whole tick's calls, which are spawned from inside the runtime.
    pub fn flush(&self) {
        let tasks = std::mem::take(&mut *lock(&self.queued));
        if tasks.is_empty() {
            return;
        }
        let ids: Vec<u32> = tasks.iter().map(|(id, _)| *id).collect();
        let spawn_all = async move {
            crate::priority::background();
            for (_, task) in tasks {
                tokio::spawn(task);
            }
        };
        // `spawn` panics only when napi's runtime is gone (environment teardown).
        let spawned = std::panic::catch_unwind(AssertUnwindSafe(|| napi::bindgen_prelude::spawn(spawn_all)));
        if spawned.is_err() {
            for id in ids {
                let e =
                    perse_core::Error::from(perse_core::ErrorKind::Internal("the async runtime is shut down".into()));
                self.finish(id, Done::from(e));
            }
        }
    }

    /// Encodes a finished call into the batch (on the calling thread, so the result's
    /// allocations are freed where they were made); wakes the JS thread unless a delivery is
    /// already scheduled.
    fn finish(&self, id: u32, done: Done) {
        let wake = {
            let mut ready = lock(&self.shared.ready);
            ready.batch.push(id, done);
            !std::mem::replace(&mut ready.scheduled, true)
        };
        if wake {
            self.wake();
        }
    }

    /// The handle the JS side rearms the queue with (see `CompletionWaker`).
    pub fn waker(self: &Arc<Self>) -> CompletionWaker {
        CompletionWaker::new(Arc::downgrade(self))
    }

    /// After a delivery, once that turn of the event loop is over (JS thread, outside the
    /// function's callback): schedules the next delivery if calls are waiting, or lets the next
    /// finishing task wake the JS thread.
    pub(crate) fn rearm(&self) {
        let more = {
            let mut ready = lock(&self.shared.ready);
            ready.scheduled = ready.batch.len() > 0;
            ready.scheduled
        };
        if more {
            // Called outside the function's own callback, so this is a real wake-up, handled in
            // the next turn of the event loop.
            self.wake();
        }
    }

    /// Asks the JS thread for a delivery. Fails only when the environment is closing or the
    /// hub is shut down, when there is no one to tell.
    fn wake(&self) {
        if let Some(tsfn) = lock(&self.tsfn).as_ref() {
            let _ = tsfn.call((), ThreadsafeFunctionCallMode::NonBlocking);
        }
    }

    /// Releases the threadsafe function (JS thread, at `close()`): no libuv handle outlives
    /// the client (jest's `--detectOpenHandles` checks this), and outcomes that finish later
    /// are dropped. `lib/transport.js` rejects the calls still in flight itself. No call is
    /// launched after this (`NativeClient::start` refuses on a closed client).
    pub fn shutdown(&self) {
        drop(lock(&self.tsfn).take());
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Shared {
    /// On the JS thread: takes up to `PER_TICK` finished calls and unrefs the function when no
    /// call is left in flight. The rest waits for the JS side's `rearm`, in a later turn of the
    /// event loop. `scheduled` stays set until then.
    fn deliver(&self, env: &Env) -> Args {
        let hub = self.hub.get().and_then(Weak::upgrade);
        let batch = {
            let mut ready = lock(&self.ready);
            // Without a hub there is no one left to rearm: deliver everything.
            let k = if hub.is_some() { PER_TICK } else { usize::MAX };
            ready.batch.take_front(k)
        };
        let n = batch.len();
        if n > 0 && self.in_flight.fetch_sub(n, Ordering::Relaxed) == n {
            // SAFETY: JS thread of the owning env (this runs inside the function's callback).
            unsafe { sys::napi_unref_threadsafe_function(env.raw(), self.raw.load(Ordering::Acquire)) };
        }
        FnArgs::from((Nums(batch.nums), batch.strs))
    }
}
