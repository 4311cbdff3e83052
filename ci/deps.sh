#!/usr/bin/env bash
# Installs the real peers the tests run against when they are missing:
# Debian packages (libzmq through python3-zmq and libzmq3-dev, redis-server,
# chromium, ...) and the npm packages pinned by interop/node/package-lock.json.
# Fails loudly when a peer cannot be installed.
set -euo pipefail
cd "$(dirname "$0")/.."

pkgs=(python3-zmq libzmq3-dev pkg-config redis-server chromium python3-socketio python3-irc ngircd irssi tmux iproute2 systemd netcat-openbsd)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	echo "deps: installing Debian packages: ${missing[*]}"
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO="sudo"
	$SUDO apt-get update -qq || { echo "deps: FATAL: apt-get update failed" >&2; exit 1; }
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/tmp/switchboard-apt.log 2>&1 || {
		tail -20 /tmp/switchboard-apt.log >&2
		echo "deps: FATAL: could not install ${missing[*]}" >&2
		exit 1
	}
fi
/usr/bin/python3 -c 'import zmq' || { echo "deps: FATAL: /usr/bin/python3 cannot import zmq" >&2; exit 1; }

command -v node >/dev/null || { echo "deps: FATAL: node is not installed" >&2; exit 1; }
lock=interop/node/package-lock.json
stamp=interop/node/node_modules/.switchboard-lock
if ! cmp -s "$lock" "$stamp" 2>/dev/null; then
	echo "deps: npm ci in interop/node"
	(cd interop/node && npm ci --no-audit --no-fund --loglevel=error) || { echo "deps: FATAL: npm ci failed" >&2; exit 1; }
	cp "$lock" "$stamp"
fi
echo "deps: all peers present"
