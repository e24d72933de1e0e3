'use strict'

module.exports = async () => {
  await globalThis.__PERSE_LOCAL__.close()
}
