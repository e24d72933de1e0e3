'use strict'

// POST /api/detect with the photo as multipart field "photo" (multer, memory storage).
// The private key stays on the server: the SDK logs in and refreshes tokens by itself.

const express = require('express')
const multer = require('multer')
const { PerseClient, isPerseError } = require('perse-node')

const upload = multer({ storage: multer.memoryStorage(), limits: { fileSize: 50e6 } })

function createApp({ baseUrl = process.env.PERSE_BASE_URL, privateKey = process.env.PERSE_PRIVATE_KEY } = {}) {
  const perse = new PerseClient({ baseUrl, privateKey })
  const app = express()
  app.post('/api/detect', upload.single('photo'), async (req, res) => {
    if (!req.file) return res.status(400).json({ error: 'send the image as multipart field "photo"' })
    try {
      // multer's file object goes in as it is (req.file.buffer, or req.file.path with disk storage).
      const result = await perse.detect(req.file, { enduserConsent: true })
      res.json({ faces: result.totalFaces, boxes: result.faces.map((f) => f.boundingBox), uploaded: result.uploaded })
    } catch (e) {
      if (!isPerseError(e)) throw e
      res.status(e.code === 'unauthorized' ? 502 : 400).json({ error: e.code, message: e.message })
    }
  })
  app.close = () => perse.close()
  return app
}

module.exports = { createApp }
