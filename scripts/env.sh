# Sourced by the other scripts: where builds are cached and how missing tools get installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# One shared target directory outside the clone, so every clone and CI run reuses builds.
if [ -z "${CARGO_TARGET_DIR:-}" ]; then
  if mkdir -p /var/cache/picops/target 2>/dev/null && [ -w /var/cache/picops/target ]; then
    export CARGO_TARGET_DIR=/var/cache/picops/target
  else
    export CARGO_TARGET_DIR="$ROOT/target"
  fi
fi
CACHE="$(dirname "$CARGO_TARGET_DIR")"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=0
apt_install() { # apt_install <package>...
  [ $# -eq 0 ] && return 0
  log "installing $* (apt)"
  if [ $apt_updated = 0 ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

# Install Debian packages for the commands that are missing.
need_apt() { # need_apt <command> <package> [<command> <package> ...]
  local missing=()
  while [ $# -gt 0 ]; do
    command -v "$1" >/dev/null 2>&1 || missing+=("$2")
    shift 2
  done
  apt_install "${missing[@]}"
}

# Install Debian packages for the C libraries pkg-config does not find.
need_apt_lib() { # need_apt_lib <pkg-config module> <package> [<module> <package> ...]
  need_apt pkg-config pkg-config
  local missing=()
  while [ $# -gt 0 ]; do
    pkg-config --exists "$1" 2>/dev/null || missing+=("$2")
    shift 2
  done
  apt_install "${missing[@]}"
}

# cmake: pingora's zlib-ng is built with it. libheif (with its HEVC and AV1 decoders,
# libde265 and dav1d/aom): HEIC and AVIF input, linked through pkg-config.
need_build_tools() {
  command -v cargo >/dev/null || { echo "picops: a Rust toolchain (cargo, rustc >= 1.95) is required: https://rustup.rs" >&2; exit 1; }
  need_apt cmake cmake cc gcc
  need_apt_lib libheif libheif-dev
}

# Python clients and independent decoders used by the test suites.
need_python_tools() {
  need_apt vipsthumbnail libvips-tools identify imagemagick
  if ! python3 -c 'import PIL, numpy, boto3, qcloud_cos, pytest, requests, awscli, kubernetes_validate' 2>/dev/null; then
    log "installing Python test dependencies (pip)"
    python3 -m pip install -q --disable-pip-version-check -r "$ROOT/tests/requirements.txt"
  fi
}

# The Node.js SDKs of the compatibility suite, installed once per lock file outside the clone.
need_node_modules() {
  need_apt node nodejs npm npm
  local dir="$CACHE/node"
  mkdir -p "$dir"
  if ! cmp -s "$ROOT/tests/node/package-lock.json" "$dir/package-lock.json" || [ ! -d "$dir/node_modules" ]; then
    log "installing the Node.js SDKs (npm ci)"
    cp "$ROOT/tests/node/package.json" "$ROOT/tests/node/package-lock.json" "$dir/"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
  fi
  export NODE_PATH="$dir/node_modules"
}
