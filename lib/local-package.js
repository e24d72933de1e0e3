'use strict'

// Finds the optional perse-node-local package, which holds the local server and its face
// engine (native binary and weights) so that perse-node itself stays small. Looked up from
// perse-node's own location first (an ordinary install, where both sit in the project's
// node_modules), then from the working directory (perse-node run through npx or a global
// install, with perse-node-local in the project). Every failure is a PerseError
// `local_server_unavailable` whose message says exactly what to install.

const { fail } = require('./errors.js')
const { version } = require('../package.json')

const NAME = 'perse-node-local'
const INSTALL = `npm install --save-dev ${NAME}@${version}`

let loaded = null

function unavailable(why, cause) {
  const e = fail('local_server_unavailable', why)
  if (cause) Object.defineProperty(e, 'cause', { value: cause, enumerable: false, configurable: true, writable: true })
  return e
}

function find() {
  const missing = (e) => e?.code === 'MODULE_NOT_FOUND' && String(e.message).includes(`'${NAME}'`)
  try {
    return require(NAME)
  } catch (e) {
    if (!missing(e)) throw unavailable(`${NAME} is installed but could not be loaded: ${e.message}`, e)
  }
  try {
    return require(require.resolve(NAME, { paths: [process.cwd()] }))
  } catch (e) {
    if (!missing(e)) throw unavailable(`${NAME} is installed but could not be loaded: ${e.message}`, e)
  }
  throw unavailable(
    `the local server is in the separate package ${NAME} (the server and its face engine; perse-node alone only calls the hosted API). Install it next to perse-node: ${INSTALL} (with npx: npx -p perse-node@${version} -p ${NAME}@${version} perse-node serve).`,
  )
}

/** `{ native, weightsDir }` of perse-node-local, loaded once; throws a PerseError when it cannot be used. */
function localPackage() {
  if (loaded !== null) return loaded
  const pkg = find()
  if (pkg.version !== version) {
    throw unavailable(`${NAME} ${pkg.version} is installed, but perse-node ${version} needs the same version: ${INSTALL}`)
  }
  let native
  try {
    native = pkg.native()
  } catch (e) {
    throw unavailable(require('./native.js').denoFfiDenied(e, NAME) || `${NAME} is installed but has no native binary for this platform. ${e.message}`, e)
  }
  loaded = { native, weightsDir: pkg.weightsDir }
  return loaded
}

/** The package when it can be used, else null (for callers that only want its option specs). */
function localPackageIfInstalled() {
  try {
    return localPackage()
  } catch {
    return null
  }
}

module.exports = { localPackage, localPackageIfInstalled }
