#!/usr/bin/env bash
# honeytrap-ts setup: installs everything this checkout needs (Debian packages,
# npm dependencies, the build), idempotently, then runs the daemon or the tests.
#
#   ./scripts/setup.sh run [honeytrap run options]   install, then run the daemon
#   ./scripts/setup.sh test                          install, then run the whole test suite
#   ./scripts/setup.sh install                       install only
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

# Debian packages: the real clients and peers the tests use, and the tools the
# daemon drives. Kept in one list so the install step and the docs agree.
DEB_PACKAGES=(ca-certificates curl ncat nmap socat iproute2 iptables procps util-linux
  build-essential python3 libnetfilter-queue-dev nginx-light redis-server redis-tools hping3 ssdeep
  vsftpd tftpd-hpa tftp-hpa postgresql clamav-daemon)

say() { printf '\033[1msetup:\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    say "need root to run: $*"; exit 1
  fi
}

install_debian_packages() {
  local missing=()
  for p in "${DEB_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  if ! command -v apt-get >/dev/null; then
    say "missing packages ${missing[*]} and no apt-get: install them with your package manager"; exit 1
  fi
  say "installing Debian packages: ${missing[*]}"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

check_node() {
  if ! command -v node >/dev/null; then
    say "Node.js >= 20.19 is required and not installed (https://nodejs.org)"; exit 1
  fi
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)' || {
    say "Node.js >= 20.19 is required; this is $(node --version)"; exit 1
  }
}

install_npm_dependencies() {
  # Re-run npm ci only when the lock file changed since the last install.
  local stamp=node_modules/.setup-stamp want
  want="$(sha256sum package-lock.json | cut -d' ' -f1) $(node --version)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    say "installing npm dependencies"
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" >"$stamp"
  fi
  # The nfqueue binding is native and optional: (re)build it when it did not
  # build (e.g. libnetfilter-queue-dev arrived after the first install).
  if ! node -e "require('nfqueue')" 2>/dev/null; then
    say "building the nfqueue binding"
    npm rebuild nfqueue --foreground-scripts --loglevel=error >/dev/null || say "nfqueue binding did not build: the nfqueue capture is unavailable"
  fi
  # The nfqueue reader thread (capture.nfqueue.reader: thread): our own small
  # N-API addon, built with the node-gyp npm ships; rebuilt when its source changed.
  local addon=core/native/nfq-reader/build/Release/nfq_reader.node
  if [ ! -f "$addon" ] || [ core/native/nfq-reader/nfq_reader.c -nt "$addon" ] || [ core/native/nfq-reader/binding.gyp -nt "$addon" ]; then
    say "building the nfqueue reader thread"
    npm run --silent build:native >/dev/null || say "the nfqueue reader thread did not build: capture.nfqueue.reader thread is unavailable"
  fi
}

build() {
  say "building"
  npm run --silent build
}

link_command() {
  # Puts `honeytrap` on PATH when we may write /usr/local/bin (root, as in CI).
  if [ -w /usr/local/bin ]; then
    ln -sf "$root/core/bin/honeytrap.js" /usr/local/bin/honeytrap
  else
    say "cannot write /usr/local/bin: use $root/core/bin/honeytrap.js (or npx honeytrap)"
  fi
}

install_all() {
  install_debian_packages
  check_node
  install_npm_dependencies
  build
  link_command
}

cmd="${1:-install}"
shift || true
case "$cmd" in
  install) install_all ;;
  run) install_all; say "starting the daemon (Ctrl-C stops it)"; exec node core/bin/honeytrap.js run "$@" ;;
  test) install_all; exec npm test ;;
  *) say "usage: $0 install|run|test"; exit 2 ;;
esac
