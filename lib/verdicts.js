'use strict'

// The browser SDK's verdict helpers (isSimilar, quality, qualityWithSpoofCheck), as pure
// functions over compare and detect results. Their rules, as users read them: docs/api.md,
// "Verdict helpers".

/** compare's result with the verdict: `status` true and code `similar` at or above the threshold. */
function similarityVerdict(r) {
  const similar = r.similarity >= r.defaultThresholds.similarity
  return {
    ...r,
    status: similar,
    code: similar ? 'similar' : 'not_similar',
    message: similar ? 'The faces are similar' : 'The faces are not similar enough',
  }
}

/** The quality verdict when detect found no face (it rejected with `no_face_detected`). */
function noFaceVerdict(e) {
  return { status: false, code: 'no_face_detected', message: e.message, totalFaces: 0, detailedFaces: [] }
}

/** The quality verdict over a detect result: per-face flags, `bad_image_quality` if any is set. */
function qualityVerdict(d, spoofCheck) {
  const t = d.defaultThresholds
  if (d.totalFaces === 0 || d.faces.length === 0) {
    return { status: false, code: 'no_face_detected', message: 'No face was detected', totalFaces: 0, detailedFaces: [], imageMetrics: d.imageMetrics, timeTaken: d.timeTaken, defaultThresholds: t, requestId: d.requestId }
  }
  let bad = false
  const detailedFaces = d.faces.map((f) => {
    const m = f.faceMetrics
    const flags = {
      isUnderexposed: m.underexposure > t.underexposure,
      isOverexposed: m.overexposure > t.overexposure,
      isBlurred: m.sharpness < t.sharpness,
    }
    const clear = !flags.isUnderexposed && !flags.isOverexposed && !flags.isBlurred
    if (spoofCheck) flags.isSpoofing = clear && f.livenessScore < t.liveness
    if (!clear || flags.isSpoofing) bad = true
    return { ...f, ...flags }
  })
  return {
    status: !bad,
    code: bad ? 'bad_image_quality' : 'success',
    message: bad ? 'At least one face fails the quality thresholds' : 'Image quality is good',
    totalFaces: d.totalFaces,
    detailedFaces,
    imageMetrics: d.imageMetrics,
    timeTaken: d.timeTaken,
    defaultThresholds: t,
    requestId: d.requestId,
  }
}

module.exports = { similarityVerdict, qualityVerdict, noFaceVerdict }
