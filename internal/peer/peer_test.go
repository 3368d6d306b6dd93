package peer

import (
	"context"
	"os"
	"testing"
)

func TestUnitOf(t *testing.T) {
	cases := []struct {
		cgroup, want string
		fromV2       bool
	}{
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/run-u12.service\n", "run-u12.service", true},
		{"0::/user.slice/user-1000.slice/session-3.scope\n", "session-3.scope", true},
		{"0::/system.slice/torale-cred.service\n", "torale-cred.service", true},
		{"0::/user.slice/user-1000.slice/user@1000.service/app.slice/app-org.gnome.Terminal.slice/vte-spawn-1.scope\n", "vte-spawn-1.scope", true},
		{"0::/\n", "", true},
		{"0::/init.scope\n", "init.scope", true},
		// v1's answer: the v2 cgroup (the root, for everyone) cannot stand for it.
		{"12:pids:/user.slice\n1:name=systemd:/user.slice/user-1000.slice/session-2.scope\n0::/\n", "session-2.scope", false},
		{"9:name=systemd:/\n8:pids:/\n", "", false},
		{"", "", true},
		{"garbage", "", true},
		{"0::/docker/abc123\n", "", true},
	}
	for _, c := range cases {
		if got, fromV2 := unitOf(c.cgroup); got != c.want || fromV2 != c.fromV2 {
			t.Errorf("unitOf(%q) = %q, %v; want %q, %v", c.cgroup, got, fromV2, c.want, c.fromV2)
		}
	}
}

func TestSelf(t *testing.T) {
	c := Self()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if c.PID != os.Getpid() || c.UID != os.Getuid() || c.Exe != exe || c.Comm == "" {
		t.Fatalf("Self() = %+v, want pid %d exe %s", c, os.Getpid(), exe)
	}
	if !c.Ours() {
		t.Fatalf("this test binary is not its own: %+v", c)
	}
	if (&Caller{Exe: "/usr/bin/curl"}).Ours() || (&Caller{}).Ours() {
		t.Fatal("curl, or a caller with no executable, counted as ours")
	}
	if From(context.Background()) != c {
		t.Fatal("From without a caller is not Self")
	}
	other := &Caller{PID: 1}
	if From(With(context.Background(), other)) != other {
		t.Fatal("From does not return the caller put in")
	}
}

// A pid that has gone describes nothing but the pid and uid: never guessed.
func TestIdentifyGone(t *testing.T) {
	c := Identify(1<<22+12345, 7)
	if c.Exe != "" || c.Comm != "" || c.Unit != "" || c.SSHLogin || c.PID != 1<<22+12345 || c.UID != 7 {
		t.Fatalf("Identify(gone) = %+v", c)
	}
}

// A program names itself: Program, read on terminals and the desktop,
// shows its name escaped.
func TestProgramEscapes(t *testing.T) {
	cases := []struct {
		c    Caller
		want string
	}{
		{Caller{PID: 7, Exe: "/usr/bin/git"}, "/usr/bin/git (pid 7)"},
		{Caller{PID: 7, Comm: "git"}, "git (pid 7)"},
		{Caller{PID: 7}, "unknown program (pid 7)"},
		{Caller{PID: 7, Exe: "/tmp/x\r\x1b[2K/usr/bin/git"}, `/tmp/x\r\x1b[2K/usr/bin/git (pid 7)`},
		{Caller{PID: 7, Comm: "\u202etig"}, `\u202etig (pid 7)`},
	}
	for _, tc := range cases {
		if got := tc.c.Program(); got != tc.want {
			t.Errorf("Program() of %+v = %q, want %q", tc.c, got, tc.want)
		}
	}
}
