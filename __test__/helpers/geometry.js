'use strict'

// Box arithmetic shared by the upload specs and scripts/test-examples.js.

/** Intersection over union of two `[x, y, w, h]` boxes. */
function iou(a, b) {
  const x = Math.max(0, Math.min(a[0] + a[2], b[0] + b[2]) - Math.max(a[0], b[0]))
  const y = Math.max(0, Math.min(a[1] + a[3], b[1] + b[3]) - Math.max(a[1], b[1]))
  return (x * y) / (a[2] * a[3] + b[2] * b[3] - x * y)
}

module.exports = { iou }
