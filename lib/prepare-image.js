'use strict'

// prepareImage(): what an upload would send for an image, without sending it.

const native = require('./native.js')
const { fromInfo, nativeError } = require('./errors.js')
const { options, imageArg, asPerseError } = require('./args.js')

/**
 * `{ data, width, height, format, resized, orientationApplied }` for `image`. Options:
 * `prepare` ('validate' default, or 'fit'), `maxUploadBytes`, `maxInputBytes`, `maxPixels`,
 * `maxDimension`, `quality` (their ranges: src/options.rs).
 */
async function prepareImage(image, opts) {
  let args
  try {
    const o = options(opts, 'prepareImage')
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
