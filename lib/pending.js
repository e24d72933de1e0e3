'use strict'

// Calls in flight, by id: what lib/decode.js settles when an outcome arrives.
//
// Not a Map keyed by call id, on purpose. Under load a Map of in-flight calls is rebuilt
// every few dozen calls (deleted entries pile up until it rehashes), and V8 keeps each
// replaced table with its entries as a link to the next one. Tables that outlive a young-
// generation GC are promoted; from old space they then keep every call they list alive,
// with its promise and its result, until the next full GC. Measured with bench/http.mjs's
// traffic (--trace-gc-nvp): a Map made ~1 MB of results survive each scavenge and scavenges
// took 1.5-3 ms on the JS thread; with these slots ~20-50 KB survive and they take 0.3-0.5 ms.
//
// Slots are array indexes. An id is a slot, reused once its call is settled: the native side
// delivers each started call's outcome exactly once (src/queue/), so a late delivery
// for a reused id cannot happen. Settled slots are overwritten, so nothing old points to a
// finished call.

/** A promise executor without a per-call closure: it parks the resolvers here. */
let parkedResolve
let parkedReject
function park(resolve, reject) {
  parkedResolve = resolve
  parkedReject = reject
}

/** Marks a reserved slot whose promise does not exist yet. */
const RESERVED = () => {}

class Pending {
  #resolves = []
  #rejects = []
  #free = []

  // @hot
  /** A free slot for a call about to start. Fill it with `promise(id)` or give it back with `release(id)`. */
  reserve() {
    const id = this.#free.length > 0 ? this.#free.pop() : this.#resolves.length
    this.#resolves[id] = RESERVED
    this.#rejects[id] = RESERVED
    return id
  }

  // @hot
  /** The promise of the call started under a reserved `id`. */
  promise(id) {
    const p = new Promise(park)
    this.#resolves[id] = parkedResolve
    this.#rejects[id] = parkedReject
    parkedResolve = parkedReject = undefined
    return p
  }

  // @hot
  /** Frees a reserved slot whose call did not start. */
  release(id) {
    this.#resolves[id] = undefined
    this.#rejects[id] = undefined
    this.#free.push(id)
  }

  // @hot
  /** Settles the call under `id` with `value` (a rejection when `ok` is false). Unknown ids are ignored. */
  settle(id, ok, value) {
    const resolve = this.#resolves[id]
    if (resolve === undefined || resolve === RESERVED) return
    const reject = this.#rejects[id]
    this.release(id)
    if (ok) resolve(value)
    else reject(value)
  }

  /** Rejects every call in flight with `err`. */
  rejectAll(err) {
    for (let id = 0; id < this.#resolves.length; id++) this.settle(id, false, err)
  }

  /** Calls in flight. */
  get size() {
    let n = 0
    for (const r of this.#resolves) if (r !== undefined && r !== RESERVED) n++
    return n
  }
}

module.exports = { Pending }
