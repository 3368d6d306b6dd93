// Command daemonbench measures the daemon's look-up speed against its
// floor and prints the figures side by side: /v1/resolve with keep-alive
// and with a new connection per look-up, a direct go-keyring read, a raw
// Unix-socket echo round trip to a separate process, throughput from many
// concurrent clients, and the daemon's resident memory after a million
// look-ups. It needs a Secret Service (run it under .ci/with-keyring); the
// daemon and the echo server are separate processes (this binary re-run).
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/bench/sockbench"
	"github.com/torale-ai/torale-cred/internal/cli"
	"github.com/torale-ai/torale-cred/ipc"
)

const roleEnv = "TORALE_BENCH_ROLE"

// benchKey is a well-formed throw-away key stored under a unique service.
const benchKey = "sk_benchBENCHbenchBENCHbenchBENCH0123456789a"

func main() {
	switch os.Getenv(roleEnv) {
	case "daemon":
		os.Exit(cli.Main())
	case "echo":
		l, err := net.Listen("unix", os.Args[1])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		_ = sockbench.EchoServe(l)
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "daemonbench:", err)
		os.Exit(1)
	}
}

func run() error {
	n := flag.Int("n", 20000, "look-ups per latency figure")
	kn := flag.Int("keychain-n", 200, "direct keychain reads")
	clients := flag.Int("clients", 64, "concurrent clients for the throughput figure")
	total := flag.Int("total", 1_000_000, "look-ups in the throughput run (RSS is read after it)")
	procs := flag.String("daemon-gomaxprocs", "", "GOMAXPROCS for the daemon process (default: Go's)")
	flag.Parse()

	tmp, err := os.MkdirTemp("", "daemonbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	home := filepath.Join(tmp, "home")
	run := filepath.Join(tmp, "run")
	for _, d := range []string{home, run} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return err
		}
	}
	sock := filepath.Join(run, "torale", "cred.sock")
	echoSock := filepath.Join(tmp, "echo.sock")
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	service := "torale-bench-" + hex.EncodeToString(b)

	self, err := os.Executable()
	if err != nil {
		return err
	}
	echo := exec.Command(self, echoSock)
	echo.Env = append(os.Environ(), roleEnv+"=echo")
	echo.Stderr = os.Stderr
	if err := echo.Start(); err != nil {
		return err
	}
	defer func() { _ = echo.Process.Kill(); _ = echo.Wait() }()

	dm := exec.Command(self, "daemon", "--socket", sock)
	dm.Env = append(os.Environ(), roleEnv+"=daemon", "HOME="+home, "XDG_RUNTIME_DIR="+run,
		"XDG_STATE_HOME="+filepath.Join(home, ".local", "state"), "TORALE_CRED_KEYCHAIN_SERVICE="+service)
	if *procs != "" {
		dm.Env = append(dm.Env, "GOMAXPROCS="+*procs)
	}
	dm.Stderr = os.Stderr
	if err := dm.Start(); err != nil {
		return err
	}
	defer func() { _ = dm.Process.Signal(syscall.SIGTERM); _ = dm.Wait() }()
	for _, s := range []string{sock, echoSock} {
		if err := sockbench.WaitSocket(s, 10*time.Second); err != nil {
			return err
		}
	}

	ctx := context.Background()
	c := ipc.NewClient(sock)
	if _, err := c.Put(ctx, "default", benchKey, credstore.PutOptions{Source: credstore.SourceLogin}); err != nil {
		return fmt.Errorf("storing the bench key through the daemon: %w", err)
	}
	defer func() { _ = c.Delete(ctx, "default"); c.Close() }()

	req := sockbench.RequestBytes("/v1/resolve", sockbench.ResolveBody)
	fmt.Printf("daemonbench: %d look-ups per figure, GOMAXPROCS(daemon)=%s, CPUs=%d\n", *n, or(*procs, "default"), numCPU())

	kc, err := sockbench.Measure(*kn, 5, func() error {
		k, err := keyring.Get(service, "default")
		if err == nil && k != benchKey {
			err = fmt.Errorf("keychain returned another key")
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("direct keychain read: %w", err)
	}

	ec, err := sockbench.DialEcho(echoSock, len(req))
	if err != nil {
		return err
	}
	echoSt, err := sockbench.Measure(*n, 1000, ec.Do)
	ec.Close()
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}

	sc, err := sockbench.Dial(sock, req)
	if err != nil {
		return err
	}
	ka, err := sockbench.Measure(*n, 1000, sc.Do)
	sc.Close()
	if err != nil {
		return fmt.Errorf("keep-alive look-ups: %w", err)
	}

	nc, err := sockbench.Measure(*n/4, 200, func() error { return sockbench.OneShot(sock, req) })
	if err != nil {
		return fmt.Errorf("new-connection look-ups: %w", err)
	}

	rate, errs, err := sockbench.Throughput(sock, req, *clients, *total)
	if err != nil {
		return fmt.Errorf("throughput: %w", err)
	}
	rss, err := sockbench.RSS(dm.Process.Pid)
	if err != nil {
		return fmt.Errorf("reading the daemon's RSS: %w", err)
	}

	fmt.Printf("\n%-38s %s\n", "direct go-keyring read", kc)
	fmt.Printf("%-38s %s\n", "raw Unix echo, separate process", echoSt)
	fmt.Printf("%-38s %s\n", "/v1/resolve keep-alive", ka)
	fmt.Printf("%-38s %s\n", "/v1/resolve new connection each", nc)
	fmt.Printf("%-38s %.0f look-ups/s, %d errors (%d clients, %d look-ups)\n", "throughput", rate, errs, *clients, *total)
	fmt.Printf("%-38s %.1f MiB (%s)\n", "daemon RSS after the throughput run", float64(rss)/(1<<20), sockbench.MemDetail(dm.Process.Pid))

	fmt.Printf("%-38s %.0fx (keychain p50 / echo p50: the most any server could reach here)\n", "ceiling of the keychain speed-up", float64(kc.P50)/float64(echoSt.P50))

	fmt.Printf("\ntargets:\n")
	check("keychain read / keep-alive p50 >= 100x", float64(kc.P50)/float64(ka.P50), 100, true)
	check("keep-alive p50 / echo p50 <= 3x", float64(ka.P50)/float64(echoSt.P50), 3, false)
	check("look-ups/s with 64 clients >= 30000", rate, 30000, true)
	check("errors == 0", float64(errs), 0, false)
	check("RSS MiB < 20", float64(rss)/(1<<20), 20, false)
	return nil
}

func check(what string, got, limit float64, atLeast bool) {
	ok := got <= limit
	if atLeast {
		ok = got >= limit
	}
	mark := "MISS"
	if ok {
		mark = "ok  "
	}
	fmt.Printf("  %s %-42s %.1f\n", mark, what, got)
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func numCPU() int { return runtime.NumCPU() }
