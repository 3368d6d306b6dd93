// Command bench is `make bench`: torale-cred's look-ups beside the helpers
// a user would pick instead (git's credential cache, the keychain-backed
// docker-credential-secretservice, secret-tool and pass, each holding the
// same key), and the daemon's socket beside a trivial net/http server, as
// ratios from one run. It works in a temporary HOME under a keychain
// service of its own, inside the test keyring that .ci/with-keyring starts;
// it never prints a key.
//
//	.ci/with-keyring go run ./internal/bench -bin bin [-out docs/benchmarks.md] [-quick]
//
// -quick is a smoke run with tiny counts (torale-cred and git's cache only),
// run by this package's test so the bench cannot rot.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

// roleEnv makes this program the echo floor (a separate process, as the
// daemon is) instead of the bench.
const roleEnv = "TORALE_BENCH_ROLE"

// options are one run's counts and files.
type options struct {
	bin, out string
	quick    bool
	rounds   int // runs of each process row
	sockN    int // keep-alive look-ups of each socket row
	clients  int // concurrent keep-alive clients of the throughput run
	tputN    int // look-ups of the throughput run
	endN     int // keep-alive requests each straight and through the endpoint
	endCli   int // concurrent clients of the endpoint's rate
	endTotal int // requests of the endpoint's rate run
}

func fullOptions() options {
	return options{rounds: 300, sockN: 20000, clients: 64, tputN: 300_000, endN: 5000, endCli: 16, endTotal: 40_000}
}

func quickOptions() options {
	return options{quick: true, rounds: 5, sockN: 200, clients: 64, tputN: 2000, endN: 50, endCli: 16, endTotal: 400}
}

func main() {
	if os.Getenv(roleEnv) == "floor" {
		if err := serveFloor(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "bench floor:", err)
			os.Exit(1)
		}
		return
	}
	bin := flag.String("bin", "bin", "directory holding the built torale-cred and git-credential-torale (make build)")
	out := flag.String("out", "", "also write the report (markdown) to this file")
	quick := flag.Bool("quick", false, "a smoke run: tiny counts, torale-cred and git's cache only (figures meaningless)")
	flag.Parse()
	o := fullOptions()
	if *quick {
		o = quickOptions()
	}
	o.bin, o.out = *bin, *out
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}
