package remote

import "testing"

func TestDestination(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"devbox"}, "devbox"},
		{[]string{"-o", "SendEnv=X", "-R", "127.0.0.1:1:127.0.0.1:2", "bob@devbox", "ls", "-l"}, "bob@devbox"},
		{[]string{"-p", "2222", "-l", "bob", "devbox"}, "bob@devbox:2222"},
		{[]string{"-tt", "-p2222", "devbox"}, "devbox:2222"},
		{[]string{"-vp", "22", "--", "devbox"}, "devbox"},
		{[]string{"ssh://bob@devbox:2200"}, "bob@devbox:2200"},
		{[]string{"devbox", "-p", "2222", "ls", "-p", "1"}, "devbox:2222"},
	} {
		if got, err := Destination(tc.args); err != nil || got != tc.want {
			t.Errorf("Destination(%q) = %q, %v; want %q", tc.args, got, err, tc.want)
		}
	}
	for _, bad := range [][]string{nil, {"-p", "22"}, {"-o"}} {
		if got, err := Destination(bad); err == nil {
			t.Errorf("Destination(%q) = %q, want an error", bad, got)
		}
	}
}
