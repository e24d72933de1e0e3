'use strict'

// prepublishOnly of both packages: a plain `npm publish` from a clone would publish a package
// with no platform packages (its optionalDependencies are added at release time), which no one
// could use. Releases go through scripts/release/publish.js (the workflow's publish job on a
// v* tag), which stages each package and publishes it with --ignore-scripts, so this never runs
// there.

const pkg = require(`${process.cwd()}/package.json`)
const optional = Object.keys(pkg.optionalDependencies || {})
const targets = (pkg.napi && pkg.napi.targets) || []
if (optional.length < targets.length) {
  process.stderr.write(
    `${pkg.name}: refusing a plain npm publish: package.json lists ${optional.length} platform packages as optionalDependencies, for ${targets.length} targets, so the published package would have no binaries.\n` +
      'Publish with node scripts/release/publish.js --tag v' + pkg.version + ' (it builds nothing: lay the binaries out first, see CONTRIBUTING.md#releases).\n',
  )
  process.exit(1)
}
