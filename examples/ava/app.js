'use strict'

// The application code under test: enroll a user, then verify a new selfie against them.

const { PerseClient, isPerseError } = require('perse-node')

function createVerifier(options) {
  const perse = new PerseClient(options)
  return {
    async enroll(photo) {
      return (await perse.enroll(photo, { enduserConsent: true })).userToken
    },
    async verify(userToken, selfie) {
      try {
        const v = await perse.isSimilar({ userToken }, selfie, { enduserConsent: true })
        return { verified: v.status, similarity: v.similarity }
      } catch (e) {
        if (isPerseError(e)) return { verified: false, error: e.code }
        throw e
      }
    },
    close: () => perse.close(),
  }
}

module.exports = { createVerifier }
