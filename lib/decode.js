'use strict'

// Finished calls arrive in batches as one Float64Array of numbers plus a list of strings
// (src/queue/batch.rs) and become result objects here. Object literals give V8 one fixed
// shape per result type, which is far cheaper than setting properties one napi call at a
// time. The layout is written in src/queue/batch.rs and src/error.rs; __test__/layout.spec.js
// proves this reader agrees with them for every field of every model.

const { fromInfo } = require('./errors')

const FAILED = 0
const DETECT = 1
const COMPARE = 2
const ENROLL = 3
const LIST = 4
const DELETE = 5
const LOGIN = 6

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

// @hot
// Optional fields are written as separate object literals, not added afterwards: a shape
// reached by adding a property lives only as long as some object has it (see Cursor).
function metrics(c) {
  const underexposure = c.num()
  const overexposure = c.num()
  const sharpness = c.num()
  const color = c.num()
  const rotation = c.num()
  if (Number.isNaN(color)) {
    if (Number.isNaN(rotation)) return { underexposure, overexposure, sharpness }
    return { underexposure, overexposure, sharpness, rotation }
  }
  if (Number.isNaN(rotation)) return { underexposure, overexposure, sharpness, color }
  return { underexposure, overexposure, sharpness, color, rotation }
}

// @hot
function face(c) {
  const boundingBox = [c.num(), c.num(), c.num(), c.num()]
  const livenessScore = c.num()
  const faceMetrics = metrics(c)
  if (c.num() === 1) {
    const landmarks = {
      rightEye: [c.num(), c.num()],
      leftEye: [c.num(), c.num()],
      nose: [c.num(), c.num()],
      mouthRight: [c.num(), c.num()],
      mouthLeft: [c.num(), c.num()],
    }
    return { boundingBox, landmarks, faceMetrics, livenessScore }
  }
  return { boundingBox, faceMetrics, livenessScore }
}

// Each result ends with the server's message when it sent one (otherwise the default here),
// then, for image calls, what each image was uploaded as.

// @hot
/** `{ width, height, format, bytes, scale, orientationApplied }`, or null (flag 0). */
function uploaded(c) {
  if (c.num() !== 1) return null
  const width = c.num()
  const height = c.num()
  const format = c.num() === 1 ? 'png' : 'jpeg'
  const bytes = c.num()
  const scale = c.num()
  const orientationApplied = c.num() === 1
  return { width, height, format, bytes, scale, orientationApplied }
}

// @hot
function detect(c) {
  const totalFaces = c.num()
  const timeTaken = c.num()
  const defaultThresholds = { underexposure: c.num(), overexposure: c.num(), sharpness: c.num(), liveness: c.num() }
  const imageMetrics = metrics(c)
  const faces = new Array(c.num())
  for (let i = 0; i < faces.length; i++) faces[i] = face(c)
  const message = c.optStr() ?? 'Face detection completed'
  return { status: true, code: 'success', message, totalFaces, faces, imageMetrics, timeTaken, defaultThresholds, uploaded: uploaded(c) }
}

// @hot
function compare(c) {
  const similarity = c.num()
  const timeTaken = c.num()
  const defaultThresholds = { similarity: c.num() }
  const message = c.optStr() ?? 'Face comparison completed'
  const a = uploaded(c)
  return { status: true, code: 'success', message, similarity, timeTaken, defaultThresholds, uploaded: { a, b: uploaded(c) } }
}

// @hot
function enroll(c) {
  const timeTaken = c.num()
  const userToken = c.str()
  const message = c.optStr() ?? 'Enrollment completed'
  return { status: true, code: 'success', message, userToken, timeTaken, uploaded: uploaded(c) }
}

// @hot
function list(c) {
  const totalUsers = c.num()
  const timeTaken = c.num()
  const userTokens = new Array(c.num())
  for (let i = 0; i < userTokens.length; i++) userTokens[i] = c.str()
  const message = c.optStr() ?? 'Enrollment list retrieved'
  return { status: true, code: 'success', message, userTokens, totalUsers, timeTaken }
}

// @hot
function remove(c) {
  const timeTaken = c.num()
  const message = c.optStr() ?? 'Enrollment deleted'
  return { status: true, code: 'success', message, timeTaken }
}

/** The fields src/error.rs encode() writes after the FAILED tag. */
function failure(c) {
  const httpStatus = c.num()
  const retryable = c.num() === 1
  const attempts = c.num()
  const hasCause = c.num() === 1
  const code = c.str()
  const message = c.str()
  const cause = hasCause ? c.str() : undefined
  return fromInfo({ code, message, retryable, attempts, httpStatus: Number.isNaN(httpStatus) ? undefined : httpStatus, cause })
}

// @hot
/** Reads one finished call's outcome after its id and tag: a result, or a PerseError. */
function outcome(tag, c) {
  switch (tag) {
    case FAILED:
      return failure(c)
    case DETECT:
      return detect(c)
    case COMPARE:
      return compare(c)
    case ENROLL:
      return enroll(c)
    case LIST:
      return list(c)
    case DELETE:
      return remove(c)
    case LOGIN:
      return { status: true, code: 'success', message: 'Logged in', token: c.str() }
    default:
      throw new Error('perse-node: corrupt completion batch (a bug; please report it)')
  }
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
