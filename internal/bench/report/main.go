// Command report is `make bench`: it measures torale-cred's look-ups, its
// peers (a direct keychain read, secret-tool, git's credential-cache), its
// throughput, memory, idle cost, plaintext exposure window and start-up in
// one run, and prints them side by side as a table, also written to
// docs/benchmarks.md with the machine's description. It works only in
// temporary directories and under a keychain service of its own, which it
// removes; it never prints a key nor touches the user's own config, socket
// or keychain entries.
//
// Run it inside the test keyring: .ci/with-keyring go run ./internal/bench/report -bin bin
package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/torale-ai/torale-cred/internal/bench/sockbench"
	"github.com/torale-ai/torale-cred/internal/cli"
)

// roleEnv makes this program (or its test binary) play another process: the
// echo floor, or torale-cred and git-credential-torale themselves when no
// built binaries are given.
const roleEnv = "TORALE_BENCH_ROLE"

const (
	roleEcho    = "echo"
	roleCred    = "torale-cred"
	roleGitCred = "git-credential-torale"
)

func main() {
	if role := os.Getenv(roleEnv); role != "" {
		os.Exit(runRole(role))
	}
	o := fullOptions()
	quick := flag.Bool("quick", false, "a smoke run with tiny counts (figures meaningless; writes no file unless -out is given)")
	flag.StringVar(&o.bin, "bin", "", "directory holding the built torale-cred and git-credential-torale (make build's bin); empty: this program plays them")
	flag.StringVar(&o.out, "out", "", "write the report (markdown) to this file too")
	idle := flag.Duration("idle", 0, "how long the idle daemon is watched (default 60s, quick 1s)")
	flag.Parse()
	if *quick {
		q := quickOptions()
		q.bin, q.out = o.bin, o.out
		o = q
	}
	if *idle > 0 {
		o.idle = *idle
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// runRole is this process as one of the others.
func runRole(role string) int {
	switch role {
	case roleEcho:
		l, err := net.Listen("unix", os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		_ = sockbench.EchoServe(l)
		return 0
	case roleCred:
		return cli.Main()
	case roleGitCred:
		return cli.GitCredentialMain()
	}
	fmt.Fprintf(os.Stderr, "%s=%q: unknown role\n", roleEnv, role)
	return 2
}

// options are the counts of one run.
type options struct {
	quick bool
	bin   string // built binaries' directory; "" = this program plays them
	out   string // markdown file to write ("" = stdout only)

	n         int // socket look-ups per latency figure
	keychainN int // direct keychain reads
	procN     int // processes per process figure
	starts    int // daemon starts timed to READY=1
	exposureN int // plaintext writes
	// throughput: clients → look-ups; the last (most clients) is also the
	// run after which memory is read.
	tput []tputRun
	idle time.Duration
}

type tputRun struct{ clients, total int }

func fullOptions() options {
	return options{
		n: 20000, keychainN: 300, procN: 200, starts: 11, exposureN: 50,
		tput: []tputRun{{1, 100_000}, {8, 200_000}, {64, 1_000_000}},
		idle: 60 * time.Second,
	}
}

func quickOptions() options {
	return options{
		quick: true,
		n:     300, keychainN: 10, procN: 5, starts: 2, exposureN: 5,
		tput: []tputRun{{1, 500}, {8, 1000}, {64, 5000}},
		idle: time.Second,
	}
}
