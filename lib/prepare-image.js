'use strict'

// prepareImage(): what an upload would send for an image, without sending it.

const native = require('./native.js')
const { fromInfo, nativeError } = require('./errors.js')
const { options, timeoutMsArg, asPerseError } = require('./args.js')
const { imageArg, readKind } = require('./images.js')
const { readImages } = require('./inputs.js')

/** How long prepareImage waits for a Blob, Response or stream to deliver its bytes, by default. */
const READ_TIMEOUT_MS = 60_000

/**
 * `{ data, width, height, format, resized, orientationApplied }` for `image` (any ImageInput;
 * a Blob, Response or stream is read first, within the budget and `timeoutMs`, default
 * READ_TIMEOUT_MS). Options: `timeoutMs`, `prepare` ('auto' default, 'fit' the same, or 'validate'), `maxUploadBytes`,
 * `maxInputBytes`, `maxPixels`, `maxDimension`, `quality` (their ranges: src/options.rs).
 */
async function prepareImage(image, opts) {
  let args
  try {
    const { timeoutMs: t = READ_TIMEOUT_MS, ...o } = options(opts, 'prepareImage')
    const timeoutMs = timeoutMsArg(t, 'options.timeoutMs')
    const kind = readKind(image)
    if (kind !== undefined) {
      const budget = native().prepareReadBudget(o)
      if (typeof budget !== 'number') throw fromInfo(budget)
      image = (await readImages([image], [kind], ['image'], { budget, timeoutMs }))[0]
    }
    args = [imageArg(image, 'image'), o]
  } catch (e) {
    throw asPerseError(e)
  }
  let r
  try {
    r = await native().prepareImage(...args)
  } catch (e) {
    throw nativeError(e)
  }
  if (r.status === false) throw fromInfo(r)
  return r
}

module.exports = { prepareImage }
