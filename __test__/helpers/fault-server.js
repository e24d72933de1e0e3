'use strict'

// A fault server written on `net`: it reads each HTTP request itself and then misbehaves in
// exactly one chosen way, byte by byte, counting the requests it saw per path. Used by the
// fault suite; not the Rust local server.

const net = require('node:net')

const JSON_OK = JSON.stringify({
  total_faces: 0,
  faces: [],
  image_metrics: { underexposure: 0, overexposure: 0, sharpness: 1 },
  time_taken: 0.01,
  default_thresholds: { underexposure: 0.5, overexposure: 0.5, sharpness: 0.3, liveness: 0.5 },
  user_tokens: [],
  total_users: 0,
  user_token: 'usr_x',
})

function response(status, body, headers = {}) {
  const reason = { 200: 'OK', 401: 'Unauthorized', 429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status] || 'X'
  const head = [`HTTP/1.1 ${status} ${reason}`, `Content-Length: ${Buffer.byteLength(body)}`, 'Connection: close']
  for (const [k, v] of Object.entries(headers)) head.push(`${k}: ${v}`)
  return `${head.join('\r\n')}\r\n\r\n${body}`
}

/** What each fault does once the request has been read. */
const FAULTS = {
  reset: (s) => {
    s.write('HTTP/1.1 200 OK\r\nContent-Length: 400\r\n\r\n{"total_faces":')
    setTimeout(() => s.resetAndDestroy(), 20)
  },
  500: (s) => s.end(response(500, JSON.stringify({ message: 'boom', code: 'internal', status: false }))),
  502: (s) => s.end(response(502, '<html><body><h1>502 Bad Gateway</h1></body></html>', { 'Content-Type': 'text/html' })),
  503: (s) => s.end(response(503, '', { 'Retry-After': '1' })),
  504: (s) => s.end(response(504, '')),
  429: (s) => s.end(response(429, JSON.stringify({ message: 'slow down', code: 'rate_limited', status: false }))),
  html: (s) => s.end(response(200, '<!DOCTYPE html><html><body>Maintenance</body></html>', { 'Content-Type': 'text/html' })),
  empty: (s) => s.end(response(200, '')),
  truncated: (s) => {
    const body = JSON_OK
    s.end(`HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body.slice(0, 40)}`)
  },
  'stall-headers': () => {},
  'stall-body': (s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 4000\r\n\r\n{"total_faces": 0,'),
  401: (s) => s.end(response(401, JSON.stringify({ message: 'Unauthorized', code: 'unauthorized', status: false }))),
  ok: (s) => s.end(response(200, JSON_OK)),
}

/** Starts a server that answers every request with `fault` (a key of FAULTS). */
async function startFaultServer(fault) {
  const counts = new Map()
  const sockets = new Set()
  const server = net.createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    let buf = Buffer.alloc(0)
    let done = false
    socket.on('data', (chunk) => {
      if (done) return
      buf = Buffer.concat([buf, chunk])
      const end = buf.indexOf('\r\n\r\n')
      if (end === -1) return
      const head = buf.subarray(0, end).toString()
      const length = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
      if (buf.length < end + 4 + length) return
      done = true
      const [method, target] = head.split(' ')
      const path = new URL(target, 'http://x').pathname
      counts.set(`${method} ${path}`, (counts.get(`${method} ${path}`) ?? 0) + 1)
      FAULTS[fault](socket)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/v0`,
    count: (key) => counts.get(key) ?? 0,
    total: () => [...counts.values()].reduce((a, b) => a + b, 0),
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy()
        server.close(() => resolve())
      }),
  }
}

/** A loopback port with nothing listening (connections are refused). */
async function refusedUrl() {
  const s = net.createServer()
  await new Promise((resolve) => s.listen(0, '127.0.0.1', resolve))
  const { port } = s.address()
  await new Promise((resolve) => s.close(resolve))
  return `http://127.0.0.1:${port}/v0`
}

module.exports = { startFaultServer, refusedUrl, FAULTS }
