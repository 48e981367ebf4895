#!/usr/bin/env bash
# deps.sh - make deps: install the Debian packages the build, make run and
# make test need, only those missing; then the pinned npm packages of the
# SDK tests and of the console's browser tests (tests/browser: puppeteer-
# core driving Debian's chromium). Safe to run again and again.
set -eu
cd "$(dirname "$0")/.."

pkgs=(build-essential pkg-config clang libclang-rt-dev clang-format curl ca-certificates
	libfcgi-dev libfcgi-bin libcurl4-openssl-dev libjansson-dev libmemcached-dev
	libcmocka-dev libssl-dev memcached lighttpd caddy nodejs npm valgrind
	prometheus chromium tinyproxy microsocks lighttpd-mod-openssl openssl
	podman runc mmdebstrap uidmap aardvark-dns podman-compose)
# nodejs/npm: any node >= 18 will do; keep one that is already there.
missing=()
for p in "${pkgs[@]}"; do
	case $p in
	nodejs | npm) command -v "${p/nodejs/node}" >/dev/null && continue ;;
	esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
	    missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	echo "deps: installing ${missing[*]}"
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	$SUDO apt-get update -qq
	# Packages such as lighttpd and memcached must not start system
	# services here: the relay starts its own on loopback.
	DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $SUDO apt-get install -y -qq \
	    --no-install-recommends "${missing[@]}" >/dev/null
fi

for d in tests/node tests/browser tests/k8s; do
	[ -f "$d/package-lock.json" ] || continue
	stamp=$d/node_modules/.lock-stamp
	if [ ! -f "$stamp" ] || ! cmp -s "$d/package-lock.json" "$stamp"; then
		echo "deps: npm ci in $d"
		(cd "$d" && npm ci --no-audit --no-fund --loglevel=error)
		cp "$d/package-lock.json" "$stamp"
	fi
done

# The coding agents of tests/integration/t_agents.sh (about 1 GB): npm
# install, not npm ci, which refuses npm's own lockfile when it leaves out
# other platforms' optional binaries; the versions stay the lockfile's.
if [ -f tests/agents/package-lock.json ]; then
	stamp=tests/agents/node_modules/.lock-stamp
	if [ ! -f "$stamp" ] || ! cmp -s tests/agents/package-lock.json "$stamp"; then
		echo "deps: npm install in tests/agents"
		(cd tests/agents && npm install --no-audit --no-fund --loglevel=error)
		cp tests/agents/package-lock.json "$stamp"
	fi
fi
