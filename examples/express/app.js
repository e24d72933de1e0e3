'use strict'

// POST /api/detect with the photo as the request body (image/jpeg or image/png).
// The private key stays on the server: the SDK logs in and refreshes tokens by itself.

const express = require('express')
const { PerseClient, isPerseError } = require('perse-node')

function createApp({ baseUrl = process.env.PERSE_BASE_URL, privateKey = process.env.PERSE_PRIVATE_KEY } = {}) {
  const perse = new PerseClient({ baseUrl, privateKey, prepare: 'fit' })
  const app = express()
  app.post('/api/detect', express.raw({ type: ['image/*', 'application/octet-stream'], limit: '20mb' }), async (req, res) => {
    try {
      const result = await perse.detect(req.body, { enduserConsent: true })
      res.json({ faces: result.totalFaces, boxes: result.faces.map((f) => f.boundingBox) })
    } catch (e) {
      if (!isPerseError(e)) throw e
      res.status(e.code === 'unauthorized' ? 502 : 400).json({ error: e.code, message: e.message })
    }
  })
  app.close = () => perse.close()
  return app
}

module.exports = { createApp }
