'use strict'

// npm run fuzz — the long fuzz runs: each proptest target in crates/perse-core/tests/fuzz.rs,
// release build, with a case count sized for at least a minute each on a 2-core machine; then
// the hostile-input-object target (scripts/fuzz-inputs.js: random objects, getters and
// streams given to the public API, 60 s). Prints cases, seconds and the outcome per target.
// FUZZ_SCALE=2 doubles every count and the duration.

const { execFileSync, spawnSync } = require('node:child_process')

const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
const scale = Number(process.env.FUZZ_SCALE ?? 1)
const targets = {
  response_parser_never_panics: 12_000_000,
  sniffer_never_panics_on_arbitrary_bytes: 7_000_000,
  // Each decoder case also runs prepare with a tiny upload limit, so that every mutated file
  // that still parses is decoded, resized and encoded (0.3-1.2 ms a case).
  decoder_never_panics_on_mutated_jpeg: 200_000,
  decoder_never_panics_on_mutated_exif_jpeg: 85_000,
  decoder_never_panics_on_mutated_png: 160_000,
  decoder_never_panics_on_mutated_bmp: 120_000,
  decoder_never_panics_on_mutated_webp_gif_tiff: 60_000,
}

let failed = false
for (const [name, cases] of Object.entries(targets)) {
  const n = Math.round(cases * scale)
  const started = Date.now()
  const r = spawnSync('cargo', ['test', '-q', '--release', '--target', host, '-p', 'perse-core', '--test', 'fuzz', '--', '--exact', name], {
    env: { ...process.env, PROPTEST_CASES: String(n) },
    encoding: 'utf8',
  })
  const secs = ((Date.now() - started) / 1000).toFixed(0)
  const ok = r.status === 0
  failed ||= !ok
  process.stdout.write(`${name.padEnd(48)} ${String(n).padStart(10)} cases  ${secs.padStart(4)} s  ${ok ? '0 panics' : 'FAILED'}\n`)
  if (!ok) process.stdout.write(r.stdout + r.stderr)
}
// The public API with hostile input objects, on the addon as `npm run build` left it.
const inputs = spawnSync(process.execPath, [require('node:path').join(__dirname, 'fuzz-inputs.js'), String(Math.round(60 * scale))], { stdio: 'inherit' })
failed ||= inputs.status !== 0
process.exitCode = failed ? 1 : 0
