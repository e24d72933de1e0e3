'use strict'

// Finished calls arrive in batches as one Float64Array of numbers plus a list of strings
// (src/queue/batch.rs) and become result objects here. Object literals give V8 one fixed
// shape per result type, which is far cheaper than setting properties one napi call at a
// time. The readers of each result and of a failure are generated from the Rust declarations
// that also write them (lib/decode.generated.js, `npm run generate`); this file holds the
// cursor they read through and the settling of the calls. __test__/layout.spec.js proves the
// two halves agree for every field of every model.

const { fromInfo } = require('./errors')
const { FAILED, readResult, readFailure } = require('./decode.generated.js')

const NO_NUMS = new Float64Array(0)
const NO_STRS = []

// @hot
/**
 * A reader over one batch. There is one, reused for every batch, on purpose: V8 reaches an
 * instance's final shape through transitions it holds only weakly, and TurboFan code that
 * embeds a shape is thrown away when that shape dies. With a Cursor per batch, no Cursor is
 * alive at a full GC, so every full GC deoptimized the whole decode path (and TurboFan then
 * spent ~50 ms of a helper thread's CPU recompiling it, competing with the JS thread).
 */
class Cursor {
  constructor() {
    this.nums = NO_NUMS
    this.strs = NO_STRS
    this.n = 0
    this.s = 0
  }

  // @hot
  reset(nums, strs) {
    this.nums = nums
    this.strs = strs
    this.n = 0
    this.s = 0
  }

  // @hot
  num() {
    return this.nums[this.n++]
  }

  // @hot
  str() {
    return this.strs[this.s++]
  }

  // @hot
  /** An optional string: its flag, then the string when the flag is 1. */
  optStr() {
    return this.nums[this.n++] === 1 ? this.strs[this.s++] : undefined
  }
}

const cursor = new Cursor()

/** A tag no reader knows: the two halves disagree (a bug). */
function corrupt() {
  throw new Error('perse-node: corrupt completion batch (a bug; please report it)')
}

// @hot
/** Reads one finished call's outcome after its id and tag: a result, or a PerseError. */
function outcome(tag, c) {
  if (tag === FAILED) return fromInfo(readFailure(c))
  return readResult(tag, c) ?? corrupt()
}

/** Every call in a batch as `{ id, ok, value }` (for tests; the completer settles in place). */
function decodeBatch(nums, strs) {
  const c = new Cursor()
  c.reset(nums, strs)
  const out = []
  while (c.n < nums.length) {
    const id = c.num()
    const tag = c.num()
    out.push({ id, ok: tag !== FAILED, value: outcome(tag, c) })
  }
  return out
}

/**
 * The callback given to NativeClient: settles the calls in `pending` (a lib/pending.js
 * Pending), then rearms the queue through `holder.waker` (NativeClient#waker(), set right
 * after the client is made) once this turn of the event loop is over: the native side
 * delivers at most one batch per turn (src/queue/mod.rs). It must never throw: it runs from
 * a native callback.
 */
function completer(pending, holder) {
  let rearmQueued = false
  // @hot
  const rearm = () => {
    rearmQueued = false
    holder.waker.rearm()
  }
  return (nums, strs) => {
    if (!rearmQueued) {
      rearmQueued = true
      setImmediate(rearm)
    }
    // Settling runs no user code synchronously (results are plain objects, not thenables),
    // so batches never nest and one module-wide cursor serves every client.
    const c = cursor
    c.reset(nums, strs)
    try {
      while (c.n < nums.length) {
        const id = c.num()
        const tag = c.num()
        pending.settle(id, tag !== FAILED, outcome(tag, c))
      }
      c.reset(NO_NUMS, NO_STRS)
    } catch (e) {
      c.reset(NO_NUMS, NO_STRS)
      // Unreachable unless the two halves disagree: fail every pending call loudly rather
      // than leave promises hanging.
      const err = fromInfo({ code: 'internal_error', message: e.message, retryable: false, attempts: 0 })
      pending.rejectAll(err)
    }
  }
}

module.exports = { completer, decodeBatch }
