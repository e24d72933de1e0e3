#!/usr/bin/env bash
# The ava suite on a musl binary inside node:22-alpine (the workflow's test-alpine job; the
# binaries are placed first with scripts/release/artifacts.js place <platform>). No musl build
# of Node is in any package registry, so this runs only where Docker does (not on the
# development machines, which check the musl binaries with scripts/targets/musl-load.js).
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
docker run --rm -v "$ROOT:/w" -w /w node:22-alpine sh -c "npm ci --ignore-scripts && npm run test:ava"
