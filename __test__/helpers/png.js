'use strict'

// PNGs built in tests: a valid file with chosen dimensions and pixel data.

const zlib = require('node:zlib')

function chunk(type, data) {
  const body = Buffer.concat([Buffer.from(type), data])
  const len = Buffer.alloc(4)
  len.writeUInt32BE(data.length)
  const crc = Buffer.alloc(4)
  crc.writeUInt32BE(zlib.crc32(body))
  return Buffer.concat([len, body, crc])
}

/**
 * An 8-bit RGB PNG of `w` x `h` whose compressed data is `idat` (by default a deflated
 * kilobyte of zeros: a valid file that declares many pixels in a few dozen bytes).
 */
function png(w, h, idat = zlib.deflateSync(Buffer.alloc(1024))) {
  const ihdr = Buffer.alloc(13)
  ihdr.writeUInt32BE(w, 0)
  ihdr.writeUInt32BE(h, 4)
  ihdr.set([8, 2, 0, 0, 0], 8)
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))])
}

/**
 * A grey RGB PNG of `w` x `h` with `noise` random bytes in its top rows, so its size (and
 * whether it must be shrunk) is chosen while its decoded size stays w * h * 3.
 */
function noisyPng(w, h, noise) {
  const stride = 1 + w * 3
  const raw = Buffer.alloc(stride * h, 0x80)
  for (let y = 0; y < h; y++) raw[y * stride] = 0 // filter: none
  const random = require('node:crypto').randomBytes(noise)
  for (let i = 0; i * w * 3 < noise; i++) random.copy(raw, i * stride + 1, i * w * 3, Math.min(noise, (i + 1) * w * 3))
  return png(w, h, zlib.deflateSync(raw, { level: 6 }))
}

module.exports = { png, noisyPng }
