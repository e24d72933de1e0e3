'use strict'

// `npm run demo`: starts the bundled local Perse-compatible server in-process and walks
// through every call on the bundled photos. No network, no account.

const path = require('node:path')
const { startLocalServer, isPerseError } = require('..')

const photo = (name) => path.join(__dirname, '..', '__test__', 'fixtures', name)
const CONSENT = { enduserConsent: true }
const line = (label, text) => process.stdout.write(`${label.padEnd(34)} ${text}\n`)

async function main() {
  const server = await startLocalServer()
  const client = server.client()
  process.stdout.write(`Local Perse server at ${server.url}\n\n`)
  try {
    const d = await client.detect(photo('astronaut.jpg'), CONSENT)
    const f = d.faces[0]
    line('detect astronaut.jpg', `${d.totalFaces} face, box [${f.boundingBox}], sharpness ${f.faceMetrics.sharpness}`)
    line('detect rocket.jpg', `${(await client.detect(photo('rocket.jpg'), CONSENT)).totalFaces} faces`)
    for (const name of ['astronaut-underexposed.jpg', 'astronaut-overexposed.jpg', 'astronaut-blurred.jpg']) {
      const q = await client.quality(photo(name), CONSENT)
      const flags = q.detailedFaces.flatMap((x) => ['isUnderexposed', 'isOverexposed', 'isBlurred'].filter((k) => x[k]))
      const hint = q.code === 'no_face_detected' && q.imageMetrics ? ` (image overexposure ${q.imageMetrics.overexposure})` : ''
      line(`quality ${name}`, `${q.code}${flags.length ? ` (${flags.join(', ')})` : hint}`)
    }
    const same = await client.compare(photo('astronaut.jpg'), photo('astronaut-crop.jpg'), CONSENT)
    const diff = await client.compare(photo('astronaut.jpg'), photo('obama.jpg'), CONSENT)
    line('compare astronaut vs crop', `similarity ${same.similarity} (threshold ${same.defaultThresholds.similarity})`)
    line('compare astronaut vs obama', `similarity ${diff.similarity}`)
    const { userToken } = await client.enroll(photo('astronaut.jpg'), CONSENT)
    line('enroll astronaut.jpg', userToken)
    line('enrollment.list', `${(await client.enrollment.list()).totalUsers} user(s)`)
    const byToken = await client.isSimilar({ userToken }, photo('astronaut-crop.jpg'), CONSENT)
    line('isSimilar(user, astronaut-crop)', `${byToken.code} (${byToken.similarity})`)
    await client.enrollment.update(userToken, photo('astronaut.png'), CONSENT)
    line('enrollment.update', 'replaced with astronaut.png')
    await client.enrollment.delete(userToken)
    line('enrollment.delete', `${(await client.enrollment.list()).totalUsers} user(s) left`)
    try {
      await client.compare({ userToken }, photo('astronaut.jpg'), CONSENT)
    } catch (e) {
      if (!isPerseError(e)) throw e
      line('compare with the deleted user', `PerseError ${e.code} (HTTP ${e.httpStatus})`)
    }
  } finally {
    client.close()
    await server.close()
  }
}

main().catch((e) => {
  process.stderr.write(`demo failed: ${e.stack || e}\n`)
  process.exitCode = 1
})
