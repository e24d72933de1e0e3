'use strict'

// Loads the generated napi-rs binding on first use, so `require('perse-node')` stays cheap.
// When no binary matches this platform, the loader's error is rethrown with what a user
// needs: the platform, the files and packages that were tried, and how to fix it.

let binding = null

/** Node's names for the targets package.json builds: `x86_64-unknown-linux-gnu` → `linux-x64-gnu`. */
const SUPPORTED = require('../package.json').napi.targets.map((triple) => {
  const [arch, , os, abi] = triple.split('-')
  const platform = { linux: 'linux', darwin: 'darwin', windows: 'win32' }[os]
  const cpu = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  return [platform, cpu, abi].filter(Boolean).join('-')
})

function platformName() {
  let libc = ''
  if (process.platform === 'linux') {
    const glibc = process.report?.getReport?.()?.header?.glibcVersionRuntime
    libc = glibc ? '-gnu' : '-musl'
  } else if (process.platform === 'win32') {
    libc = '-msvc'
  }
  return `${process.platform}-${process.arch}${libc}`
}

function tried(err) {
  const names = new Set()
  for (let e = err; e; e = e.cause) {
    for (const m of String(e.message).matchAll(/Cannot find module '([^']+)'/g)) names.add(m[1])
  }
  // The generated loader also tries a WASI build, which this package does not ship.
  return [...names].filter((n) => !/wasi/.test(n))
}

/**
 * Deno loads Node-API addons only with FFI permission; without it, the loader's own error
 * ("Cannot find native binding", after a wasm32-wasi fallback) hides the real cause. Returns
 * the message naming the flag when `err`'s chain holds Deno's permission refusal, else null.
 */
function denoFfiDenied(err, what) {
  if (typeof globalThis.Deno === 'undefined') return null
  for (let e = err; e; e = e.cause) {
    const m = /Requires ffi access to "([^"]+)"/.exec(String(e.message))
    if (m) {
      return `${what}: Deno refused to load the native addon ${m[1]} because FFI is not allowed. Run with --allow-ffi (perse-node is a Node-API addon; it also needs --allow-read and --allow-env: deno run --allow-ffi --allow-read --allow-env your-script.mjs).`
    }
  }
  return null
}

function load() {
  try {
    return require('../binding.js')
  } catch (err) {
    const deno = denoFfiDenied(err, 'perse-node')
    if (deno) {
      const e = new Error(deno, { cause: err })
      e.code = 'ERR_PERSE_NATIVE_BINDING'
      throw e
    }
    const platform = platformName()
    const list = tried(err)
    const supported = SUPPORTED.includes(platform)
    const pkg = `perse-node-${platform}@${require('../package.json').version}`
    const message = [
      `perse-node: no native binary could be loaded for ${platform} (Node ${process.version}).`,
      list.length ? `Tried: ${list.join(', ')}.` : `Loader error: ${err.message}`,
      supported
        ? `Fix: npm install ${pkg} (the platform package: npm installs it as an optional dependency of perse-node, and skips it under --omit=optional / --no-optional, or when node_modules or package-lock.json were made on another OS or on glibc for Alpine/musl). Or reinstall everything: rm -rf node_modules package-lock.json && npm install. (A package packed from a clone has no binary of its own: build one there first with npm run build, or install the platform package.)`
        : `There is no prebuilt binary for ${platform}; supported: ${SUPPORTED.join(', ')}. Build from source with a Rust toolchain (npm run build in a clone) and point NAPI_RS_NATIVE_LIBRARY_PATH at the .node file.`,
    ].join(' ')
    const e = new Error(message, { cause: err })
    e.code = 'ERR_PERSE_NATIVE_BINDING'
    throw e
  }
}

module.exports = function native() {
  if (binding === null) binding = load()
  return binding
}
module.exports.denoFfiDenied = denoFfiDenied
