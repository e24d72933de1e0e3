'use strict'

// The application code under test: a handler that checks a selfie's quality before use.
// It uses perse-node's module-level default client (PERSE_BASE_URL / PERSE_PRIVATE_KEY).

const perse = require('perse-node')

async function checkSelfie(photo) {
  try {
    const q = await perse.quality(photo, { enduserConsent: true })
    return { status: q.status ? 200 : 422, body: { ok: q.status, verdict: q.code } }
  } catch (e) {
    if (perse.isPerseError(e)) return { status: 502, body: { ok: false, error: e.code } }
    throw e
  }
}

module.exports = { checkSelfie }
