'use strict'

// What `cargo test` (test:cargo) and `cargo build` of the generator (generate) select, in one
// place: the same --target as `napi build`, the whole workspace and the features `build:debug`
// gives perse-node. Cargo compiles a crate once per feature set it is asked for, so a command
// that selected less (`cargo run -p perse-core`: perse-core's features alone) compiled
// perse-core and its dependents a second time: 143 s of a warm `npm test` on 2 cores.

const { execFileSync } = require('node:child_process')

const host = /host: (\S+)/.exec(execFileSync('rustc', ['-vV'], { encoding: 'utf8' }))[1]
// The addon crates' own unit tests (pure Rust, e.g. the completion batch layout) link on Linux,
// where napi's symbols may stay unresolved in a test binary that never calls them; elsewhere
// they are left to the Linux run.
const addons = process.platform === 'linux' ? [] : ['--exclude', 'perse-node', '--exclude', 'perse-node-local']
const workspace = ['--workspace', ...addons, '--features', 'perse-node/layout-samples', '--target', host]

module.exports = { host, workspace }
