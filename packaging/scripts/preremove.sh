#!/bin/sh
# torale-cred pre-remove (deb prerm and rpm %preun). On a real removal (not an
# upgrade) it undoes postinstall's `systemctl --global enable`. Running user
# daemons belong to their sessions: it tells how to stop them, and stops none.
set -e
case "$1" in
remove | purge | 0) ;; # deb: remove; rpm: 0 packages left
*) exit 0 ;;
esac
if command -v systemctl >/dev/null 2>&1; then
	systemctl --global disable torale-cred.socket >/dev/null 2>&1 || true
fi
echo "torale-cred: to stop a running daemon, each user runs: systemctl --user disable --now torale-cred.socket torale-cred.service"
