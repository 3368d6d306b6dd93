#!/bin/sh
# torale-cred post-install (deb postinst and rpm %post). It enables the
# socket for every user's *future* logins (a symlink in
# /etc/systemd/user/sockets.target.wants, as Debian's dh_installsystemduser
# does) on a first install only, so an admin's `--global disable` survives
# upgrades. It never starts a user unit: a package script runs outside the
# users' sessions and cannot reach their keychains.
set -e
first=
case "$1" in
configure) [ -z "$2" ] && first=1 ;; # deb: configure <old-version>, empty on a first install
1) first=1 ;;                        # rpm: 1 install, 2 upgrade
esac
if [ -n "$first" ] && command -v systemctl >/dev/null 2>&1; then
	systemctl --global enable torale-cred.socket >/dev/null 2>&1 ||
		echo "torale-cred: could not enable torale-cred.socket for future logins (systemctl --global enable torale-cred.socket)" >&2
fi
echo "torale-cred: installed. To start it now for your user, run: systemctl --user enable --now torale-cred.socket"
