'use strict'

// Time bounds in the specs are for a native run. On a slower runner (the arm64 suite under
// QEMU: npm run test:arm64 sets PERSE_TEST_TIME_SCALE=6) they are multiplied by this factor.
const SCALE = Math.max(1, Number(process.env.PERSE_TEST_TIME_SCALE) || 1)

/** `n` milliseconds, scaled for this runner. */
const ms = (n) => Math.round(n * SCALE)

module.exports = { SCALE, ms }
