// The application code under test: a selfie check that keeps the Perse call in one place.
import { PerseClient } from 'perse-node'

export function createSelfieCheck(options) {
  const perse = new PerseClient(options)
  return {
    /** One face, big and sharp enough: what a sign-up form accepts as a selfie. */
    async accept(photo) {
      const q = await perse.quality(photo, { enduserConsent: true })
      return { ok: q.status && q.totalFaces === 1, code: q.code }
    },
    close: () => perse.close(),
  }
}
