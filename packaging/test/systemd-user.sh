#!/usr/bin/env bash
# packaging/test/systemd-user.sh: the shipped systemd user units under a real
# `systemd --user` manager. Run by `make test-systemd` through
# .ci/systemd-user, as the test user, with TORALE_SRC (the repository) and
# TORALE_BIN (the built binaries) set. Each check prints what it checked;
# any failure is shown with what was seen, and the script exits 1.
#
#   TORALE_SYSTEMD_ONLY="socket-activation watchdog"  runs a subset (names below)
set -uo pipefail

src=${TORALE_SRC:?} bin=${TORALE_BIN:?}
units=$HOME/.config/systemd/user
dropins=$units/torale-cred.service.d
exe=$HOME/.local/bin/torale-cred
sock=$XDG_RUNTIME_DIR/torale/cred.sock
failures=()

# --- reporting ---------------------------------------------------------------
note() { printf '     %s\n' "$@"; }
pass() { printf 'ok   %s\n' "$1"; }
fail() {
	printf 'FAIL %s\n' "$1"
	shift
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/     | /'; done
	failures+=("$current")
}
# check DESCRIPTION CMD...: CMD's output is shown only when it fails.
check() {
	local what=$1 out
	shift
	if out=$("$@" 2>&1); then pass "$what"; else fail "$what" "$out"; fi
}
# expect_eq WHAT GOT WANT
expect_eq() { [ "$2" = "$3" ] || { echo "$1: got '$2', want '$3'"; return 1; }; }

# --- helpers -----------------------------------------------------------------
sc() { systemctl --user "$@"; }
prop() { sc show -p "$2" --value "$1"; }
api() { curl -sS --max-time "${TIMEOUT:-10}" --unix-socket "$sock" -w '\n%{http_code}' "$@"; }
# status_of RESPONSE: the HTTP code api() appended; body_of: the rest.
status_of() { tail -n1 <<<"$1"; }
body_of() { sed '$d' <<<"$1"; }
newkey() { printf 'sk_%s' "$(head -c 33 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n' | cut -c1-43)"; }
hint() { printf 'sk_...%s' "${1: -5}"; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $deadline ] && return 1
		sleep 0.1
	done
}
journal_since() { journalctl --user --no-pager -q -o cat --since "@$1" "${@:2}"; }

render_service() { # the shipped service with ExecStart at $exe: one line differs
	local shipped=$src/packaging/systemd/torale-cred.service
	sed "s|^ExecStart=/usr/bin/torale-cred daemon\$|ExecStart=$exe daemon|" "$shipped"
}
install_units() {
	mkdir -p "$units"
	render_service >"$units/torale-cred.service"
	cp "$src/packaging/systemd/torale-cred.socket" "$units/"
	sc daemon-reload
}
reset_service() { # stop everything, forget failures, drop the test drop-ins
	sc stop torale-cred.socket torale-cred.service 2>/dev/null
	rm -rf "$dropins"
	sc daemon-reload
	sc reset-failed torale-cred.service torale-cred.socket 2>/dev/null
	sc start torale-cred.socket
}
dropin() { # dropin NAME CONTENT: a [Service] drop-in, then daemon-reload
	mkdir -p "$dropins"
	printf '[Service]\n%s\n' "$2" >"$dropins/$1.conf"
	sc daemon-reload
}
mainpid() { prop torale-cred.service MainPID; }

# put PROFILE KEY / get PROFILE: through the socket, failing with what came back
put() {
	local r
	r=$(api -X PUT -H 'Content-Type: application/json' -d "{\"api_key\":\"$2\"}" "http://torale/v1/credentials/$1") || { echo "PUT /v1/credentials/$1: curl failed: $r"; return 1; }
	case $(status_of "$r") in 2??) ;; *) echo "PUT /v1/credentials/$1 answered $(status_of "$r"): $(body_of "$r")"; return 1 ;; esac
}
get_key() {
	local r
	r=$(api "http://torale/v1/credentials/$1") || { echo "GET: curl failed: $r"; return 1; }
	[ "$(status_of "$r")" = 200 ] || { echo "GET /v1/credentials/$1 answered $(status_of "$r"): $(body_of "$r")"; return 1; }
	body_of "$r" | jq -r .api_key
}
expect_key() { # expect_key PROFILE KEY
	local got
	got=$(get_key "$1") || { echo "$got"; return 1; }
	[ "$got" = "$2" ] || { echo "GET /v1/credentials/$1 gave $(hint "$got"), want $(hint "$2")"; return 1; }
}
health() {
	local r
	r=$(api http://torale/v1/health) || { echo "health: curl failed: $r"; return 1; }
	[ "$(status_of "$r")" = 200 ] || { echo "health answered $(status_of "$r")"; return 1; }
	body_of "$r" | jq -e '.status == "ok" and .keychain == "ok"' >/dev/null || { echo "health: $(body_of "$r")"; return 1; }
}
migrate() { # a plaintext key in config.json moves into the keychain, other fields kept
	local key=$1 cfg=$HOME/.torale/config.json
	mkdir -p "$HOME/.torale"
	printf '{"api_key": "%s", "api_url": "https://api.torale.ai", "theme": "dark"}\n' "$key" >"$cfg.tmp"
	mv "$cfg.tmp" "$cfg"
	wait_for 5 sh -c "! grep -q '\"sk_' '$cfg'" || { echo "config.json still holds the key after 5s: $(cat "$cfg")"; return 1; }
	# In the key's place: the local token and the local endpoint (issue 26).
	jq -e '.theme == "dark" and (.api_key | startswith("tcl_")) and (.api_url | startswith("http://127.0.0.1:"))' "$cfg" >/dev/null ||
		{ echo "config.json lost a field or holds no local token: $(jq -c '.api_key |= .[0:4]' "$cfg")"; return 1; }
	expect_key default "$key"
}
operations() { # every operation the daemon serves, through the unit
	health || return 1
	local k1 k2
	k1=$(newkey) k2=$(newkey)
	put ops "$k1" || return 1
	expect_key ops "$k1" || return 1
	local r
	r=$(api -X POST -d '{"profile":"ops"}' http://torale/v1/resolve) || { echo "resolve: $r"; return 1; }
	[ "$(body_of "$r" | jq -r .api_key_source)" = keychain ] || { echo "resolve: $(status_of "$r")"; return 1; }
	r=$(api http://torale/v1/credentials) || { echo "list: $r"; return 1; }
	body_of "$r" | jq -e '.. | objects | select(has("key_hint"))' >/dev/null || { echo "list: $(status_of "$r") $(body_of "$r")"; return 1; }
	r=$(api -X DELETE http://torale/v1/credentials/ops) || { echo "DELETE: $r"; return 1; }
	case $(status_of "$r") in 2??) ;; *) echo "DELETE answered $(status_of "$r")"; return 1 ;; esac
	[ "$(status_of "$(api http://torale/v1/credentials/ops)")" = 404 ] || { echo "a deleted profile still answers"; return 1; }
	migrate "$k2" || return 1
	[ -n "$(mainpid)" ] && [ "$(mainpid)" != 0 ] || { echo "the daemon is gone after the operations"; return 1; }
}
clean_stop() { # the daemon stops on SIGTERM with status 0, not killed
	local pid
	pid=$(mainpid)
	sc stop torale-cred.service || return 1
	expect_eq "Result" "$(prop torale-cred.service Result)" success || return 1
	expect_eq "ExecMainCode (1 = exited)" "$(prop torale-cred.service ExecMainCode)" 1 || return 1
	expect_eq "ExecMainStatus" "$(prop torale-cred.service ExecMainStatus)" 0 || return 1
	[ "$pid" != 0 ] && ! kill -0 "$pid" 2>/dev/null || { echo "pid $pid still runs"; return 1; }
}

# --- the checks ---------------------------------------------------------------
check_socket_activation() {
	check "the shipped service, rendered for $exe, differs from packaging/systemd in the ExecStart line only" \
		bash -c "diff <(render_service) '$src/packaging/systemd/torale-cred.service' | grep -c '^[<>]' | grep -qx 2"
	sc enable --now torale-cred.socket >/dev/null 2>&1
	check "torale-cred.socket is enabled and listening on $sock" bash -c '
		expect_eq "socket ActiveState" "$(prop torale-cred.socket ActiveState)" active &&
		expect_eq "socket UnitFileState" "$(prop torale-cred.socket UnitFileState)" enabled &&
		[ -S "$1" ] || { echo "no socket at $1"; exit 1; }' _ "$sock"
	check "the socket is 0600 in a 0700 directory, both the user's" bash -c '
		expect_eq "socket mode" "$(stat -c %a:%U "$1")" "600:$USER" &&
		expect_eq "directory mode" "$(stat -c %a:%U "$(dirname "$1")")" "700:$USER"' _ "$sock"
	check "torale-cred.service is inactive, no process, until the first connection" bash -c '
		expect_eq ActiveState "$(prop torale-cred.service ActiveState)" inactive &&
		expect_eq MainPID "$(mainpid)" 0 && ! pgrep -u "$USER" -x torale-cred'
	local t0=$EPOCHSECONDS
	check "the first curl --unix-socket GET /v1/health socket-activates the daemon and answers ok" health
	check "Type=notify: READY=1 made it active (running), STATUS= shows as StatusText" bash -c '
		expect_eq Type "$(prop torale-cred.service Type)" notify &&
		expect_eq ActiveState "$(prop torale-cred.service ActiveState)" active &&
		expect_eq SubState "$(prop torale-cred.service SubState)" running &&
		st=$(prop torale-cred.service StatusText) &&
		case "$st" in "serving on $1"*) ;; *) echo "StatusText=$st"; exit 1 ;; esac' _ "$sock"
	check "the daemon says it got its socket from systemd (socket_activated=true) in the journal" \
		wait_for 3 sh -c "journalctl --user --no-pager -q -o cat -u torale-cred.service --since @$t0 | grep -q 'serving .*socket_activated=true'"
	note "StatusText=$(prop torale-cred.service StatusText)"
}

check_put_get_migration() {
	local key
	key=$(newkey)
	check "PUT then GET /v1/credentials/work through the unit returns the key stored" \
		bash -c 'put work "$1" && expect_key work "$1"' _ "$key"
	check "the key is in the user's Secret Service (secret-tool lookup service torale username work)" \
		bash -c 'expect_eq "secret-tool" "$(secret-tool lookup service torale username work)" "$1"' _ "$key"
	check "a plaintext key written to ~/.torale/config.json moves into the keychain, the local token and endpoint in its place, other fields kept" migrate "$(newkey)"
}

check_audit_unit() {
	# A program inside a transient unit of the user manager asks the socket:
	# its line in the audit trail names that unit (from /proc/PID/cgroup),
	# its executable and the socket door, and never the key.
	local key unit=torale-audit-probe trail=$HOME/.local/state/torale-cred/audit.jsonl out rc
	key=$(newkey)
	check "PUT a key for profile audit" put audit "$key"
	out=$(systemd-run --user --wait --pipe --quiet --collect --unit="$unit" -- \
		curl -sS --max-time 10 --unix-socket "$sock" -d '{"profile":"audit"}' http://torale/v1/resolve 2>&1)
	rc=$?
	check "curl in the transient unit $unit.service (systemd-run --user --wait --pipe) is given the key" bash -c '
		[ "$1" = 0 ] || { echo "systemd-run exit $1: $(head -c 300 <<<"$2" | grep -v sk_)"; exit 1; }
		[ "$(jq -r .api_key <<<"$2")" = "$3" ] || { echo "answered: $(jq -c "del(.api_key)" <<<"$2")"; exit 1; }' _ "$rc" "$out" "$key"
	check "exactly one line of the trail names $unit.service: profile audit, the key's hint, door socket, exe curl, no ssh login, not forwarded" bash -c '
		wait_for 5 grep -q "\"unit\":\"$1.service\"" "$2" || { echo "no line names $1.service in $2:"; tail -3 "$2"; exit 1; }
		sleep 0.3 # a second line would be flushed by now (every 100 ms)
		lines=$(jq -c --arg u "$1.service" "select(.caller.unit == \$u)" "$2") || exit 1
		expect_eq "lines naming the unit" "$(grep -c . <<<"$lines")" 1 &&
		jq -e --arg h "$(hint "$3")" ".profile == \"audit\" and .key_hint == \$h and .door == \"socket\" and .result == \"ok\"
			and (.caller.exe | endswith(\"/curl\")) and .caller.comm == \"curl\" and (.caller.ssh_login | not) and (.caller.forwarded | not) and (.remote | not)" <<<"$lines" >/dev/null ||
			{ echo "$lines"; exit 1; }' _ "$unit" "$trail" "$key"
	check "the trail is 0600 and neither it, seen.json nor the journal holds the key" bash -c '
		expect_eq "trail mode" "$(stat -c %a "$2")" 600 &&
		! grep -qF "$1" "$2" "${2%/*}/seen.json" && ! journalctl --user --no-pager -q -o cat | grep -qF "$1"' _ "$key" "$trail"
	check "torale-cred audit --profile audit shows curl in $unit.service" bash -c '
		out=$("$exe" audit --profile audit 2>&1) &&
		grep -Eq "^[0-9-]+ [0-9:]+ +audit +sk_\.\.\.[^ ]+ +/[^ ]*/curl \(pid [0-9]+\) +$1\.service +socket +ok$" <<<"$out" || { echo "$out"; exit 1; }' _ "$unit"
	check "the first use was logged in the journal: curl, unit $unit.service" bash -c '
		journalctl --user --no-pager -q -o cat -u torale-cred.service | grep "received a profile.s key for the first time" | grep -F "profile=audit" | grep -F "unit=$1.service" | grep -q "exe=/[^ ]*/curl" ||
			{ journalctl --user --no-pager -q -o cat -u torale-cred.service | tail -5; exit 1; }' _ "$unit"
}

check_restart_after_kill() {
	local key old new t0
	key=$(newkey)
	put restart "$key" >/dev/null
	old=$(mainpid)
	t0=$EPOCHSECONDS
	kill -9 "$old"
	# The manager notices and waits RestartSec before starting it again;
	# a look-up sent now must queue on the socket and be answered.
	check "after kill -9 the service waits to restart (auto-restart), the socket still listening" bash -c '
		wait_for 5 sh -c "systemctl --user show -p SubState --value torale-cred.service | grep -qx auto-restart" ||
			{ echo "SubState=$(prop torale-cred.service SubState)"; exit 1; }
		expect_eq "socket" "$(prop torale-cred.socket ActiveState)" active'
	local out=$HOME/queued.out
	TIMEOUT=20 api "http://torale/v1/credentials/restart" >"$out" 2>&1 &
	local curlpid=$! sent_in=$(prop torale-cred.service SubState)
	wait "$curlpid"
	local rc=$?
	check "the look-up sent while it was down ($sent_in) queued on the socket and was answered by the restarted daemon" bash -c '
		[ "$1" = 0 ] || { echo "curl exit $1: $(cat "$2")"; exit 1; }
		expect_eq "HTTP" "$(tail -n1 "$2")" 200 &&
		expect_eq "key" "$(sed "\$d" "$2" | jq -r .api_key)" "$3"' _ "$rc" "$out" "$key"
	new=$(mainpid)
	check "a new process (pid $old -> $new), NRestarts counted, journal names the SIGKILL" bash -c '
		[ "$2" != 0 ] && [ "$1" != "$2" ] || { echo "MainPID $1 -> $2"; exit 1; }
		[ "$(prop torale-cred.service NRestarts)" -ge 1 ] || { echo "NRestarts=$(prop torale-cred.service NRestarts)"; exit 1; }
		journal_since "$3" | grep -q "Main process exited, code=killed, status=9/KILL" ||
			{ journal_since "$3" | tail -5; exit 1; }' _ "$old" "$new" "$t0"
}

check_watchdog() {
	# WatchdogSec= is 30s as shipped; a drop-in shortens it so the test
	# waits seconds, not half a minute. The daemon reads the interval from
	# WATCHDOG_USEC, so the mechanism under test is the same.
	dropin watchdog 'WatchdogSec=3s'
	sc restart torale-cred.service
	wait_for 5 health
	local old t0=$EPOCHSECONDS
	old=$(mainpid)
	check "the daemon pings the watchdog: still running 5s after start with WatchdogSec=3s" bash -c '
		sleep 5; expect_eq "MainPID" "$(mainpid)" "$1" && expect_eq SubState "$(prop torale-cred.service SubState)" running' _ "$old"
	kill -STOP "$old"
	t0=$EPOCHSECONDS
	check "frozen with SIGSTOP, it is killed by the watchdog and restarted (within 15s)" bash -c '
		wait_for 15 sh -c "p=\$(systemctl --user show -p MainPID --value torale-cred.service); [ \"\$p\" != 0 ] && [ \"\$p\" != $1 ] && curl -sf --unix-socket $2 http://torale/v1/health >/dev/null" ||
			{ echo "MainPID=$(mainpid) SubState=$(prop torale-cred.service SubState)"; exit 1; }
		! kill -0 "$1" 2>/dev/null || { echo "pid $1 still exists"; exit 1; }' _ "$old" "$sock"
	check "the journal has the manager's watchdog line for torale-cred.service" bash -c '
		journal_since "$1" -u torale-cred.service | grep -E "torale-cred.service: Watchdog timeout \(limit 3s\)" ||
			{ journal_since "$1" -u torale-cred.service | tail -8; exit 1; }' _ "$t0"
	check "journalctl --user -u torale-cred shows the daemon's own lines (serving, socket_activated)" bash -c '
		journalctl --user --no-pager -q -o cat -u torale-cred.service | grep -E "^serving socket=.* socket_activated=true" | tail -1 | grep . ||
			{ journalctl --user --no-pager -q -u torale-cred.service | tail -8; exit 1; }'
	kill -CONT "$old" 2>/dev/null
	reset_service
}

check_seccomp_kills() {
	# As shipped a filtered call fails with EPERM, which the daemon may
	# survive unnoticed. With SystemCallErrorNumber= emptied a filtered call
	# kills the process (SIGSYS): every operation must still succeed.
	dropin seccomp-kill 'SystemCallErrorNumber='
	check "the drop-in took: SystemCallErrorNumber is empty (a filtered call kills)" bash -c '
		# 2147483646 is systemd'"'"'s SECCOMP_ERROR_NUMBER_KILL; EPERM, as shipped, is 1.
		expect_eq SystemCallErrorNumber "$(prop torale-cred.service SystemCallErrorNumber)" 2147483646'
	local t0=$EPOCHSECONDS
	check "with filtered calls killing: health, PUT, GET, resolve, list, DELETE, config.json migration all succeed" operations
	check "with filtered calls killing: a clean stop (SIGTERM, exit 0)" clean_stop
	check "no SIGSYS in the journal for the run" bash -c '! journal_since "$1" -u torale-cred.service | grep -E "SIGSYS|status=31/SYS"' _ "$t0"

	# The negative control: forbid a call the daemon needs (rename, for
	# the atomic write of state.json) and the same check must fail.
	dropin seccomp-negative 'SystemCallFilter=~rename renameat renameat2'
	sc start torale-cred.socket
	if out=$(operations 2>&1); then
		fail "negative control: with rename filtered the operations check must fail, and it passed"
	else
		pass "negative control: with rename filtered the operations check fails (it said: $(head -n1 <<<"$out"))"
	fi
	check "negative control: the manager saw the daemon killed by SIGSYS" bash -c '
		wait_for 5 sh -c "systemctl --user show -p ExecMainStatus --value torale-cred.service | grep -qx 31" ||
			journal_since "$1" -u torale-cred.service | grep -q "status=31/SYS" ||
			{ echo "ExecMainCode=$(prop torale-cred.service ExecMainCode) ExecMainStatus=$(prop torale-cred.service ExecMainStatus)"; journal_since "$1" -u torale-cred.service | tail -5; exit 1; }' _ "$t0"
	reset_service
}

# The namespace hardening the unit lists in comments, taken from the unit
# itself (the lines after "add:"), applied as a drop-in.
commented_hardening() {
	sed -n '/add:$/,/^# The daemon/{/^#   /s/^#   //p}' "$src/packaging/systemd/torale-cred.service"
}
check_commented_hardening() {
	local lines
	lines=$(commented_hardening)
	check "the unit's commented hardening is found (PrivateUsers=, ProtectSystem=, ReadWritePaths=...)" bash -c '
		grep -q "^PrivateUsers=yes" <<<"$1" && grep -q "^ProtectSystem=strict" <<<"$1" && grep -q "^ReadWritePaths=" <<<"$1" || { echo "$1"; exit 1; }' _ "$lines"
	note "${lines//$'\n'/ · }"
	# A fresh account: none of the paths exists before the first start.
	sc stop torale-cred.service 2>/dev/null
	rm -rf "$HOME/.torale" "$HOME/.local/state"
	dropin hardening "$lines"
	local t0=$EPOCHSECONDS
	check "with the commented hardening on a fresh account: the daemon starts and every operation succeeds" operations
	check "with the commented hardening: it really runs in its own user and mount namespace, home read-only" bash -c '
		p=$(mainpid); [ "$p" != 0 ] || { echo "not running"; exit 1; }
		[ "$(readlink /proc/$p/ns/user)" != "$(readlink /proc/self/ns/user)" ] || { echo "same user namespace as the test"; exit 1; }
		# The mount holding ~/.cache (not a ReadWritePaths= entry) is read-only.
		m=$(awk -v p="$HOME/.cache" '"'"'index(p"/", $5 "/") == 1 || $5 == "/" { if (length($5) >= length(best)) { best = $5; opts = $6 } } END { print best, opts }'"'"' /proc/$p/mountinfo)
		case ",${m#* }," in *,ro,*) ;; *) echo "the mount holding ~/.cache is \"$m\", not read-only"; exit 1 ;; esac'
	check "with the commented hardening: a clean stop" clean_stop
	check "no 226/NAMESPACE in the journal" bash -c '! journal_since "$1" -u torale-cred.service | grep -E "226/NAMESPACE|status=226|Failed to set up mount namespacing"' _ "$t0"
	reset_service
}

check_service_install() {
	# From a clean slate: no unit of ours in the manager.
	sc disable --now torale-cred.socket torale-cred.service >/dev/null 2>&1
	rm -f "$units/torale-cred.service" "$units/torale-cred.socket"
	rm -rf "$dropins"
	sc daemon-reload
	sc reset-failed >/dev/null 2>&1
	local before after out
	before=$(cd "$HOME/.config" && find . | sort)
	check "before install the manager knows no torale-cred units" bash -c '
		expect_eq LoadState "$(prop torale-cred.service LoadState)" not-found'
	out=$("$exe" service install 2>&1)
	local rc=$?
	note "service install said:" "${out//$'\n'/$'\n'     }"
	check "torale-cred service install exits 0" expect_eq "exit" "$rc" 0
	check "it wrote the shipped socket unit and the shipped service with ExecStart=$exe daemon, byte for byte" bash -c '
		cmp "$1/torale-cred.socket" "$2/packaging/systemd/torale-cred.socket" &&
		diff <(render_service) "$1/torale-cred.service"' _ "$units" "$src"
	check "it printed every file it wrote" bash -c '
		grep -q "$1/torale-cred.socket" <<<"$2" && grep -q "$1/torale-cred.service" <<<"$2"' _ "$units" "$out"
	after=$(cd "$HOME/.config" && find . | sort)
	check "it added exactly the two units and their two enable links under ~/.config" bash -c '
		got=$(comm -13 <(echo "$1") <(echo "$2"))
		want="./systemd/user/default.target.wants
./systemd/user/default.target.wants/torale-cred.service
./systemd/user/sockets.target.wants
./systemd/user/sockets.target.wants/torale-cred.socket
./systemd/user/torale-cred.service
./systemd/user/torale-cred.socket"
		[ "$got" = "$want" ] || { echo "added:"; echo "$got"; exit 1; }
		[ -z "$(comm -23 <(echo "$1") <(echo "$2"))" ] || { echo "removed something"; exit 1; }' _ "$before" "$after"
	check "the socket is enabled and listening, the service enabled and idle until used" bash -c '
		expect_eq socket "$(prop torale-cred.socket ActiveState)/$(prop torale-cred.socket UnitFileState)" active/enabled &&
		expect_eq service "$(prop torale-cred.service UnitFileState)" enabled'
	check "a look-up through the installed units answers" health
	local snap
	snap=$(cd "$HOME/.config" && find . -type f -o -type l | sort | xargs -d '\n' sha256sum)
	out=$("$exe" service install 2>&1)
	check "a second install changes nothing and says so" bash -c '
		[ "$1" = "$(cd "$HOME/.config" && find . -type f -o -type l | sort | xargs -d "\n" sha256sum)" ] || { echo "files changed"; exit 1; }
		grep -q "Unchanged" <<<"$2" || { echo "$2"; exit 1; }' _ "$snap" "$out"
	out=$("$exe" service status --json 2>&1)
	check "service status --json: systemd (user), both units, the service running, both files" bash -c '
		jq -e --arg d "$2" ".manager == \"systemd (user)\" and (.files | sort) == ([\$d+\"/torale-cred.service\", \$d+\"/torale-cred.socket\"] | sort)" <<<"$1" >/dev/null &&
		jq -e "[.units[] | select(.name == \"torale-cred.service\") | .active] == [\"active (running)\"]" <<<"$1" >/dev/null ||
		{ echo "$1"; exit 1; }' _ "$out" "$units"
	note "service status: $("$exe" service status 2>&1 | tr '\n' ' ')"
	out=$("$exe" service uninstall 2>&1)
	rc=$?
	note "service uninstall said:" "${out//$'\n'/$'\n'     }"
	check "torale-cred service uninstall exits 0" expect_eq "exit" "$rc" 0
	check "uninstall leaves ~/.config as it was before install" bash -c '
		diff <(echo "$1") <(cd "$HOME/.config" && find . | sort)' _ "$before"
	check "after uninstall: units not found, no daemon, no socket file" bash -c '
		expect_eq service "$(prop torale-cred.service LoadState)" not-found &&
		expect_eq socket "$(prop torale-cred.socket LoadState)" not-found &&
		! pgrep -u "$USER" -x torale-cred && [ ! -e "$1" ]' _ "$sock"
	out=$("$exe" service status 2>&1)
	note "service status after uninstall: ${out//$'\n'/ }"
}

# --- main ---------------------------------------------------------------------
export -f sc prop api status_of body_of hint wait_for journal_since render_service expect_eq mainpid \
	put get_key expect_key health migrate operations clean_stop newkey
export src exe sock units

mkdir -p "$HOME/.local/bin"
install -m 0755 "$bin/torale-cred" "$bin/git-credential-torale" "$HOME/.local/bin/"
install_units

all="socket-activation put-get-migration audit-unit restart-after-kill watchdog seccomp-kills commented-hardening service-install"
start=$SECONDS
for current in ${TORALE_SYSTEMD_ONLY:-$all}; do
	echo "== $current"
	"check_${current//-/_}"
done
echo
if [ ${#failures[@]} -gt 0 ]; then
	echo "test-systemd: FAILED: $(printf '%s\n' "${failures[@]}" | sort | uniq -c | awk '{printf "%s (%s) ", $2, $1}')in $((SECONDS - start))s"
	exit 1
fi
echo "test-systemd: every check passed in $((SECONDS - start))s"
