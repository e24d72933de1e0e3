'use strict'

// Preloaded into every node.exe of test:windows (NODE_OPTIONS=--require), for Wine only.
// Wine 8 fails the keep-alive socket options on a socket that is still connecting, and libuv
// then fails the connect itself ("connect UNKNOWN"). undici, behind Node's fetch, sets
// keep-alive right after net.connect(), so every fetch() fails under Wine, while net.connect and
// http.get (which set it once connected) work. Windows itself accepts it. This defers
// setKeepAlive to the 'connect' event, as http.Agent does.

const net = require('node:net')

const setKeepAlive = net.Socket.prototype.setKeepAlive
net.Socket.prototype.setKeepAlive = function (enable, initialDelay) {
  if (this.connecting) {
    this.once('connect', () => setKeepAlive.call(this, enable, initialDelay))
    return this
  }
  return setKeepAlive.call(this, enable, initialDelay)
}
