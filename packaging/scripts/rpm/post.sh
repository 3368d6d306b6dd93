#!/bin/sh
# torale-cred %post (.rpm; the .deb's scripts are in packaging/scripts/deb).
# It enables the service and the socket for every user's *future* logins
# (symlinks in /etc/systemd/user/default.target.wants and
# sockets.target.wants): the service at login, so its watcher moves a
# plaintext key out of ~/.torale/config.json even for a user who never asks
# the socket; the socket for look-ups. On a first install only, so an admin's
# `--global disable` survives upgrades. It never starts a user unit: a
# package script runs outside the users' sessions and cannot reach their
# keychains.
set -e
if [ "$1" = 1 ] && command -v systemctl >/dev/null 2>&1; then # 1: install, 2: upgrade
	systemctl --global enable torale-cred.socket torale-cred.service >/dev/null 2>&1 ||
		echo "torale-cred: could not enable torale-cred for future logins (systemctl --global enable torale-cred.socket torale-cred.service)" >&2
fi
echo "torale-cred: installed; it starts at every user's next login. To start it now for your user, run: systemctl --user enable --now torale-cred.socket torale-cred.service"
