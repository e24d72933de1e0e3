'use strict'

// The JS half of the completion queue (src/completion.rs, src/encode.rs): finished calls
// arrive in batches as one Float64Array of numbers plus a list of strings, and become result
// objects here. Object literals give V8 one fixed shape per result type, which is far cheaper
// than setting properties one napi call at a time. The layout is written in src/encode.rs;
// the two files change together.

const { PerseError } = require('./errors')

const FAILED = 0
const DETECT = 1
const COMPARE = 2
const ENROLL = 3
const LIST = 4
const DELETE = 5
const LOGIN = 6

/** A reader over one batch. */
class Cursor {
  constructor(nums, strs) {
    this.nums = nums
    this.strs = strs
    this.n = 0
    this.s = 0
  }

  num() {
    return this.nums[this.n++]
  }

  str() {
    return this.strs[this.s++]
  }
}

function metrics(c) {
  const m = { underexposure: c.num(), overexposure: c.num(), sharpness: c.num() }
  const color = c.num()
  const rotation = c.num()
  if (!Number.isNaN(color)) m.color = color
  if (!Number.isNaN(rotation)) m.rotation = rotation
  return m
}

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

function detect(c) {
  const totalFaces = c.num()
  const timeTaken = c.num()
  const defaultThresholds = { underexposure: c.num(), overexposure: c.num(), sharpness: c.num(), liveness: c.num() }
  const imageMetrics = metrics(c)
  const faces = new Array(c.num())
  for (let i = 0; i < faces.length; i++) faces[i] = face(c)
  return { status: true, code: 'success', message: 'Face detection completed', totalFaces, faces, imageMetrics, timeTaken, defaultThresholds }
}

function compare(c) {
  const similarity = c.num()
  const timeTaken = c.num()
  return { status: true, code: 'success', message: 'Face comparison completed', similarity, timeTaken, defaultThresholds: { similarity: c.num() } }
}

function list(c) {
  const totalUsers = c.num()
  const timeTaken = c.num()
  const userTokens = new Array(c.num())
  for (let i = 0; i < userTokens.length; i++) userTokens[i] = c.str()
  return { status: true, code: 'success', message: 'Enrollment list retrieved', userTokens, totalUsers, timeTaken }
}

function failure(c) {
  const httpStatus = c.num()
  const retryable = c.num() === 1
  const attempts = c.num()
  const hasCause = c.num() === 1
  const code = c.str()
  const message = c.str()
  const info = { code, message, retryable, attempts }
  if (!Number.isNaN(httpStatus)) info.httpStatus = httpStatus
  if (hasCause) info.cause = c.str()
  return new PerseError(info)
}

/** Reads one finished call's outcome after its id and tag: a result, or a PerseError. */
function outcome(tag, c) {
  switch (tag) {
    case FAILED:
      return failure(c)
    case DETECT:
      return detect(c)
    case COMPARE:
      return compare(c)
    case ENROLL: {
      const timeTaken = c.num()
      return { status: true, code: 'success', message: 'Enrollment completed', userToken: c.str(), timeTaken }
    }
    case LIST:
      return list(c)
    case DELETE:
      return { status: true, code: 'success', message: 'Enrollment deleted', timeTaken: c.num() }
    case LOGIN:
      return { status: true, code: 'success', message: 'Logged in', token: c.str() }
    default:
      throw new Error('perse-node: corrupt completion batch (a bug; please report it)')
  }
}

/**
 * The callback given to NativeClient: settles the calls in `pending` (a lib/pending.js
 * Pending), then rearms the queue through `holder.waker` (NativeClient#waker(), set right
 * after the client is made) once this turn of the event loop is over: the native side
 * delivers at most one batch per turn (src/completion.rs). It must never throw: it runs from
 * a native callback.
 */
function completer(pending, holder) {
  let rearmQueued = false
  const rearm = () => {
    rearmQueued = false
    holder.waker.rearm()
  }
  return (nums, strs) => {
    if (!rearmQueued) {
      rearmQueued = true
      setImmediate(rearm)
    }
    const c = new Cursor(nums, strs)
    try {
      while (c.n < nums.length) {
        const id = c.num()
        const tag = c.num()
        pending.settle(id, tag !== FAILED, outcome(tag, c))
      }
    } catch (e) {
      // Unreachable unless the two halves disagree: fail every pending call loudly rather
      // than leave promises hanging.
      const err = new PerseError({ code: 'internal_error', message: e.message, retryable: false, attempts: 0 })
      pending.rejectAll(err)
    }
  }
}

module.exports = { completer }
