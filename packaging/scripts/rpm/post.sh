#!/bin/sh
# torale-cred %post (.rpm; the .deb's scripts are in packaging/scripts/deb).
# It enables the socket for every user's *future* logins (a symlink in
# /etc/systemd/user/sockets.target.wants) on a first install only, so an
# admin's `--global disable` survives upgrades. It never starts a user unit:
# a package script runs outside the users' sessions and cannot reach their
# keychains.
set -e
if [ "$1" = 1 ] && command -v systemctl >/dev/null 2>&1; then # 1: install, 2: upgrade
	systemctl --global enable torale-cred.socket >/dev/null 2>&1 ||
		echo "torale-cred: could not enable torale-cred.socket for future logins (systemctl --global enable torale-cred.socket)" >&2
fi
echo "torale-cred: installed. To start it now for your user, run: systemctl --user enable --now torale-cred.socket"
