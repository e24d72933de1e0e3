'use strict'

// Runs the Rust tests with the same `--target` that `napi build` uses, so both share one set
// of compiled dependencies instead of building everything twice (target/<triple>/ vs debug/).

const { execFileSync, spawnSync } = require('node:child_process')

const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
const extra = process.argv.slice(2)
// The addon crate's own unit tests (pure Rust, e.g. the completion batch layout) link on Linux,
// where napi's symbols may stay unresolved in a test binary that never calls them; elsewhere
// they are left to the Linux run.
const addon = process.platform === 'linux' ? [] : ['--exclude', 'perse-node', '--exclude', 'perse-node-local']
// The workspace's tests build perse-node with the features `build:debug` gives it, so both
// share perse-core's compiled artifacts (a feature set of their own would compile it twice).
const scope = extra.includes('-p') ? [] : ['--workspace', ...addon, '--features', 'perse-node/layout-samples']
const args = ['test', ...scope, '--target', host, ...extra]
const r = spawnSync('cargo', args, { stdio: 'inherit' })
process.exit(r.status ?? 1)
