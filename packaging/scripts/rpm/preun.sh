#!/bin/sh
# torale-cred %preun (.rpm; the .deb's scripts are in packaging/scripts/deb).
# On a real removal (not an upgrade) it undoes %post's
# `systemctl --global enable` of both units. Running user daemons belong to their
# sessions: it tells how to stop them, and stops none.
set -e
[ "$1" = 0 ] || exit 0 # 0 packages left: a removal; 1: an upgrade
if command -v systemctl >/dev/null 2>&1; then
	systemctl --global disable torale-cred.socket torale-cred.service >/dev/null 2>&1 || true
fi
echo "torale-cred: to stop a running daemon, each user runs: systemctl --user disable --now torale-cred.socket torale-cred.service"
