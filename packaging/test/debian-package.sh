#!/usr/bin/env bash
# packaging/test/debian-package.sh: the built packages as a distribution
# sees them. Run by `make test-package` through .ci/debian-root (a booted
# Debian root, PID 1 at TORALE_DEBROOT_PID), as root on the host, with
# TORALE_DEB, TORALE_RPM, TORALE_VERSION (what `torale-cred version` must
# say) and TORALE_PKG_VERSION (the upstream part of the package version).
# Each check prints what it checked; any failure shows what was seen, and
# the script exits 1.
set -uo pipefail

deb=${TORALE_DEB:?} rpm=${TORALE_RPM:?} version=${TORALE_VERSION:?} pkgversion=${TORALE_PKG_VERSION:?}
pid1=${TORALE_DEBROOT_PID:?}
user=ann
failures=0

pass() { printf 'ok   %s\n' "$1"; }
fail() {
	printf 'FAIL %s\n' "$1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/     | /'; done
	failures=$((failures + 1))
}
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$what"; else fail "$what" "$out"; fi
}
note() { printf '     %s\n' "$@"; }
expect_eq() { [ "$2" = "$3" ] || { echo "$1: got '$2', want '$3'"; return 1; }; }
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
# in_root CMD: runs CMD as root inside the booted root.
in_root() { nsenter --target "$pid1" --all -- "$@"; }
# as_user CMD: runs CMD inside the root as the test user, in the
# environment of a login session (its runtime directory and user bus).
as_user() {
	in_root setpriv --reuid "$uid" --regid "$uid" --init-groups env -i HOME="/home/$user" USER="$user" \
		PATH=/usr/bin:/bin XDG_RUNTIME_DIR="/run/user/$uid" DBUS_SESSION_BUS_ADDRESS="unix:path=/run/user/$uid/bus" "$@"
}
usc() { as_user systemctl --user "$@"; }
uprop() { usc show -p "$2" --value "$1"; }
# snapshot FILE: every file, link and directory the package could touch,
# with its type, mode, size and link target, minus what belongs to dpkg,
# apt, logs, the running system and the test user.
snapshot() {
	in_root find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/tmp \
		-o -path /var/lib/dpkg -o -path /var/lib/apt -o -path /var/cache -o -path /var/log -o -path /var/lib/systemd/linger \
		-o -path /home -o -path /etc/ld.so.cache -o -path /var/lib/systemd/timers -o -path /var/lib/systemd/catalog \) -prune \
		-o -printf '%y %m %s %p -> %l\n' | awk '$1 == "d" { $3 = "-" } { print }' | sort >"$1"
}
snapdir=$(mktemp -d)
trap 'rm -rf "$snapdir"' EXIT

echo "== Debian's checks on the .deb"
# lintian refuses nothing as root but warns on stderr; it runs as nobody.
# spelling-error-in-binary is suppressed: lintian reads runs of bytes in Go's
# compiled code as words ("Stoppped", "runnning": in no source of ours or
# our dependencies'), and which runs appear changes with every build, so an
# override would go unused as often as it is needed.
lint=$(setpriv --reuid nobody --regid nogroup --clear-groups env HOME=/tmp lintian --display-info --suppress-tags spelling-error-in-binary "$deb" 2>&1)
check "lintian --display-info $(basename "$deb"): no error, warning or info that is not overridden with a reason" \
	bash -c '[ -z "$1" ] || { echo "$1"; exit 1; }' _ "$lint"
note "lintian --display-info --show-overrides:"
setpriv --reuid nobody --regid nogroup --clear-groups env HOME=/tmp lintian --display-info --show-overrides "$deb" 2>&1 | sed 's/^/       /'

export -f expect_eq wait_for
debversion=$(dpkg-deb -f "$deb" Version)
x=$(mktemp -d)
dpkg-deb -x "$deb" "$x"
# What the packaged binary says, spelt by the Makefile's one rule for
# package versions, must be the package's version.
binversion=$("$x/usr/bin/torale-cred" version --json | jq -r .version)
spelt=$(make -s --no-print-directory -C "$(dirname "$0")/../.." pkg-version VERSION="$binversion")
check "the package version ($debversion) is what the packaged torale-cred says ($binversion), in Debian's spelling, revision 1" \
	expect_eq "Version" "$debversion" "$spelt-1"
check "the packaged torale-cred version says $version" bash -c '
	out=$("$1/usr/bin/torale-cred" version); case "$out" in "torale-cred $2 ("*) ;; *) echo "$out"; exit 1 ;; esac' _ "$x" "$version"
check "changelog.Debian.gz's newest entry is torale-cred ($debversion) and names $version" bash -c '
	top=$(zcat "$1/usr/share/doc/torale-cred/changelog.Debian.gz" | head -n 3)
	case "$top" in "torale-cred ($2) "*"$3"*) ;; *) echo "$top"; exit 1 ;; esac' _ "$x" "$debversion" "$version"
check "Recommends: a Secret Service provider" bash -c '
	r=$(dpkg-deb -f "$1" Recommends); case "$r" in *gnome-keyring*) ;; *) echo "Recommends: $r"; exit 1 ;; esac' _ "$deb"
rm -rf "$x"

echo "== the .rpm lists its files as the .deb does"
debfiles=$(dpkg-deb -c "$deb" | awk '$1 !~ /^d/ { sub(/^\./, "", $6); print $6 }' | sort)
rpmfiles=$(rpm -qlp "$rpm" 2>/dev/null | sort)
check "rpm -qlp = dpkg-deb -c, apart from Debian's own files (copyright, changelog.Debian.gz, lintian overrides), rpm's LICENSE, and where each distribution's zsh looks for completions" bash -c '
	only_deb=$(comm -23 <(echo "$1") <(echo "$2")); only_rpm=$(comm -13 <(echo "$1") <(echo "$2"))
	expect_eq "only in the .deb" "$(echo $only_deb)" "/usr/share/doc/torale-cred/changelog.Debian.gz /usr/share/doc/torale-cred/copyright /usr/share/lintian/overrides/torale-cred /usr/share/zsh/vendor-completions/_torale-cred" &&
	expect_eq "only in the .rpm" "$(echo $only_rpm)" "/usr/share/doc/torale-cred/LICENSE /usr/share/zsh/site-functions/_torale-cred"' _ "$debfiles" "$rpmfiles"
note "both: $(comm -12 <(echo "$debfiles") <(echo "$rpmfiles") | wc -l) files, among them $(comm -12 <(echo "$debfiles") <(echo "$rpmfiles") | grep -c /man1/) man pages"
check "rpm's Version-Release is $pkgversion-1" bash -c '
	expect_eq "rpm" "$(rpm -qp --qf "%{VERSION}-%{RELEASE}" "$1" 2>/dev/null)" "$2-1"' _ "$rpm" "$pkgversion"

echo "== install into a booted Debian, a user with linger"
in_root useradd --create-home --shell /bin/bash "$user"
uid=$(in_root id -u "$user")
snapshot "$snapdir/before"
cp "$deb" "/proc/$pid1/root/tmp/torale-cred.deb"
out=$(in_root env DEBIAN_FRONTEND=noninteractive dpkg -i /tmp/torale-cred.deb 2>&1)
rc=$?
note "dpkg -i said:" "${out//$'\n'/$'\n'     }"
check "dpkg -i installs it (exit 0) and tells the user the one command to run" bash -c '
	[ "$1" = 0 ] && grep -q "run: systemctl --user enable --now torale-cred.socket torale-cred.service" <<<"$2"' _ "$rc" "$out"
rm -f "/proc/$pid1/root/tmp/torale-cred.deb"
check "postinst enabled the socket and the service for every user (sockets.target.wants and default.target.wants links, systemctl --global is-enabled)" bash -c '
	expect_eq link "$(nsenter --target "$1" --all -- readlink /etc/systemd/user/sockets.target.wants/torale-cred.socket)" /usr/lib/systemd/user/torale-cred.socket &&
	expect_eq "service link" "$(nsenter --target "$1" --all -- readlink /etc/systemd/user/default.target.wants/torale-cred.service)" /usr/lib/systemd/user/torale-cred.service &&
	expect_eq global "$(nsenter --target "$1" --all -- systemctl --global is-enabled torale-cred.socket)" enabled &&
	expect_eq "global service" "$(nsenter --target "$1" --all -- systemctl --global is-enabled torale-cred.service)" enabled' _ "$pid1"
check "man torale-cred and man git-credential-torale are installed where man finds them" bash -c '
	for p in torale-cred git-credential-torale torale-cred-service-install; do
		nsenter --target "$1" --all -- test -s /usr/share/man/man1/$p.1.gz || { echo "no $p.1.gz"; exit 1; }
	done' _ "$pid1"

# The keyring for the user's session: unlocked with a test password when
# its manager starts it (as .ci/systemd-user does).
in_root install -d -o "$uid" -g "$uid" /home/$user/.config /home/$user/.config/systemd /home/$user/.config/systemd/user \
	/home/$user/.config/systemd/user/gnome-keyring-daemon.service.d
in_root sh -c "printf '%s\n' '[Service]' 'ExecStart=' \"ExecStart=/bin/sh -c 'printf %%s torale-test | exec /usr/bin/gnome-keyring-daemon --foreground --unlock --components=secrets --control-directory=%t/keyring'\" >/home/$user/.config/systemd/user/gnome-keyring-daemon.service.d/unlock.conf"

in_root loginctl enable-linger "$user"
check "loginctl enable-linger $user starts the user's manager (user@$uid.service)" \
	wait_for 20 sh -c "nsenter --target $pid1 --all -- systemctl is-active user@$uid.service | grep -qx active && nsenter --target $pid1 --all -- test -S /run/user/$uid/systemd/private"
wait_for 10 sh -c "$(declare -f in_root as_user usc); pid1=$pid1 uid=$uid user=$user; usc is-system-running | grep -Eqx 'running|degraded'"
check "in $user's manager, nobody having run enable: torale-cred.socket listening and the service started at login (its watcher runs)" bash -c "
	$(declare -f in_root as_user usc uprop expect_eq); pid1=$pid1 uid=$uid user=$user
	expect_eq 'socket UnitFileState' \"\$(uprop torale-cred.socket UnitFileState)\" enabled &&
	expect_eq 'socket ActiveState' \"\$(uprop torale-cred.socket ActiveState)\" active &&
	expect_eq 'service UnitFileState' \"\$(uprop torale-cred.service UnitFileState)\" enabled &&
	expect_eq 'service ActiveState' \"\$(uprop torale-cred.service ActiveState)\" active &&
	as_user test -S /run/user/$uid/torale/cred.sock"

usc start gnome-keyring-daemon.service
key="sk_$(head -c 33 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-43)"
check "a look-up answers: PUT, then GET /v1/credentials/default over the socket, served by /usr/bin/torale-cred daemon" bash -c "
	$(declare -f in_root as_user usc uprop expect_eq); pid1=$pid1 uid=$uid user=$user
	sock=/run/user/$uid/torale/cred.sock
	as_user curl -sSf --max-time 10 --unix-socket \$sock -X PUT -d '{\"api_key\":\"$key\"}' http://torale/v1/credentials/default >/dev/null || exit 1
	got=\$(as_user curl -sSf --max-time 10 --unix-socket \$sock http://torale/v1/credentials/default) || exit 1
	case \"\$got\" in *'\"api_key\":\"$key\"'*) ;; *) echo \"\$got\"; exit 1 ;; esac
	expect_eq 'service' \"\$(uprop torale-cred.service ActiveState)/\$(uprop torale-cred.service ExecMainPID | xargs -I{} nsenter --target $pid1 --all -- readlink /proc/{}/exe)\" active//usr/bin/torale-cred"
check "torale-cred token, as $user, prints the stored key (the daemon answers)" bash -c "
	$(declare -f in_root as_user); pid1=$pid1 uid=$uid user=$user
	[ \"\$(as_user torale-cred token 2>/dev/null)\" = '$key' ] || { as_user torale-cred status; exit 1; }"

echo "== a headless system service: the key from a systemd credential, no plaintext file"
# The recipe of packaging/systemd/headless/torale-cred-headless@.service, as
# an admin follows it: the key encrypted with the host's key, the system
# unit running torale-cred as the user, the user's programs asking its
# socket. Everything it adds is removed again before dpkg -r's comparison.
hkey="sk_$(head -c 33 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-43)"
had_secret=no
in_root test -e /var/lib/systemd/credential.secret && had_secret=yes
cp "$(dirname "$0")/../systemd/headless/torale-cred-headless@.service" "/proc/$pid1/root/etc/systemd/system/torale-cred-headless@.service"
in_root install -d -m 0700 /etc/credstore.encrypted
check "systemd-creds encrypt --with-key=host takes the key on stdin (never argv) into /etc/credstore.encrypted" bash -c "
	printf %s '$hkey' | nsenter --target $pid1 --all -- systemd-creds encrypt --with-key=host --name=torale-api-key - /etc/credstore.encrypted/torale-api-key.$user"
in_root systemctl daemon-reload
# Can this system manager give a User= service its credentials at all?
# systemd 250+ does (systemd.exec(5)), in .ci/debian-root's root too since it
# boots with shared mount propagation, which systemd needs to bring a unit's
# credentials mount from (sd-mkdcreds)'s namespace to /run/credentials.
# Unreadable there is a failure; only another system manager is skipped.
probe=$(in_root systemd-run --wait --pipe --quiet -p User=$user -p LoadCredentialEncrypted=torale-api-key:/etc/credstore.encrypted/torale-api-key.$user \
	sh -c 'test -r "$CREDENTIALS_DIRECTORY/torale-api-key" && echo readable || echo unreadable' 2>&1)
manager=$(in_root systemctl --version 2>/dev/null | awk 'NR == 1 { print $1, $2 }')
if [ "$probe" = readable ]; then
	pass "a User=$user service started with LoadCredentialEncrypted= can read its credential (systemd-run probe)"
elif [ "${CI:-}" != true ] && ! [[ $manager =~ ^systemd\ ([0-9]+) && ${BASH_REMATCH[1]} -ge 250 ]]; then
	note "SKIP the headless service's checks: '${manager:-no systemd}' is not the systemd 250+ they are written for, and it gives a User= service no readable credential: $probe"
else
	fail "a User=$user service started with LoadCredentialEncrypted= can read its credential (systemd-run probe, $manager)" \
		"probe said: $probe" "/run's mount propagation (must be shared): $(in_root findmnt -n -o PROPAGATION /run 2>&1)"
fi
if [ "$probe" = readable ]; then
	check "systemctl start torale-cred-headless@$user: active, its daemon running as $user" bash -c "
		$(declare -f in_root expect_eq wait_for); pid1=$pid1
		in_root systemctl start torale-cred-headless@$user.service || { in_root journalctl -u torale-cred-headless@$user.service --no-pager | tail -20; exit 1; }
		wait_for 10 in_root test -S /run/torale-cred-$user/cred.sock || { echo no socket; in_root journalctl -u torale-cred-headless@$user.service --no-pager | tail -20; exit 1; }
		expect_eq ActiveState \"\$(in_root systemctl show -p ActiveState --value torale-cred-headless@$user.service)\" active &&
		expect_eq User \"\$(in_root stat -c %U /proc/\$(in_root systemctl show -p MainPID --value torale-cred-headless@$user.service))\" $user"
	check "torale-cred token, as $user with TORALE_CRED_SOCKET, prints the credential's key" bash -c "
		$(declare -f in_root as_user); pid1=$pid1 uid=$uid user=$user
		got=\$(as_user env TORALE_CRED_SOCKET=/run/torale-cred-$user/cred.sock torale-cred token 2>&1)
		[ \"\$got\" = '$hkey' ] || { echo \"\${got//$hkey/KEY}\"; in_root journalctl -u torale-cred-headless@$user.service --no-pager | tail -10; exit 1; }"
	# The plaintext's one place: the unit's credentials directory, its own
	# read-only ramfs (tmpfs where ramfs cannot be mounted), not systemd's
	# plain-directory fallback in /run that a User= service cannot read.
	check "the key is in no file on disk (/etc, /var, /home, /root, /usr, /tmp), only in the encrypted credential and systemd's in-memory credentials mount" bash -c "
		$(declare -f in_root expect_eq); pid1=$pid1
		fstype=\$(in_root findmnt -n -o FSTYPE /run/credentials/torale-cred-headless@$user.service)
		case \"\$fstype\" in ramfs | tmpfs) ;; *) echo \"/run/credentials/torale-cred-headless@$user.service is not its own ramfs/tmpfs mount: '\$fstype'\"; exit 1 ;; esac
		hits=\$(in_root grep -rlsF -- '$hkey' /etc /var /home /root /usr /tmp)
		[ -z \"\$hits\" ] || { echo \"found in: \$hits\"; exit 1; }"
fi
in_root systemctl stop torale-cred-headless@$user.service 2>/dev/null
in_root rm -rf /etc/systemd/system/torale-cred-headless@.service /etc/credstore.encrypted /var/lib/torale-cred-$user /var/lib/private/torale-cred-$user
[ "$had_secret" = yes ] || in_root rm -f /var/lib/systemd/credential.secret
in_root systemctl daemon-reload

echo "== dpkg -r"
out=$(in_root dpkg -r torale-cred 2>&1)
rc=$?
note "dpkg -r said:" "${out//$'\n'/$'\n'     }"
check "dpkg -r removes it (exit 0) and says how each user stops a running daemon" bash -c '
	[ "$1" = 0 ] && grep -q "systemctl --user disable --now torale-cred.socket torale-cred.service" <<<"$2"' _ "$rc" "$out"
check "the global enable is gone (no link, systemctl --global: not found)" bash -c '
	! nsenter --target "$1" --all -- test -L /etc/systemd/user/sockets.target.wants/torale-cred.socket || { echo "link left"; exit 1; }
	! nsenter --target "$1" --all -- test -L /etc/systemd/user/default.target.wants/torale-cred.service || { echo "service link left"; exit 1; }
	st=$(nsenter --target "$1" --all -- systemctl --global is-enabled torale-cred.socket 2>&1); [ "$st" != enabled ] || { echo "$st"; exit 1; }' _ "$pid1"
snapshot "$snapdir/after"
check "dpkg -r left the system as it was before dpkg -i ($(wc -l <"$snapdir/before") paths: type, mode, file size, link target; dpkg's own records aside)" \
	diff "$snapdir/before" "$snapdir/after"
usc daemon-reload
check "after daemon-reload $user's manager knows no torale-cred.socket" bash -c "
	$(declare -f in_root as_user usc uprop expect_eq); pid1=$pid1 uid=$uid user=$user
	usc stop torale-cred.socket torale-cred.service 2>/dev/null
	expect_eq LoadState \"\$(uprop torale-cred.socket LoadState)\" not-found"

echo
if [ "$failures" -gt 0 ]; then
	echo "test-package: $failures check(s) FAILED"
	exit 1
fi
echo "test-package: every check passed"
