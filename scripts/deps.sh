#!/bin/sh
# Installs the Debian packages kmodvm needs, if any is missing, and checks
# for Go. Idempotent and quick when everything is there.
set -eu

missing=""
for p in "$@"; do
	if ! dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" -ne 0 ]; then
		echo "kmodvm needs these Debian packages:$missing" >&2
		echo "run 'make deps' as root, or: sudo apt-get install$missing" >&2
		exit 1
	fi
	echo "installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing
fi

if ! command -v go >/dev/null 2>&1; then
	echo "kmodvm needs Go 1.26 or later in PATH (https://go.dev/doc/install)" >&2
	exit 1
fi
