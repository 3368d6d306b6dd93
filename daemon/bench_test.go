package daemon_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zalando/go-keyring"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/internal/bench/sockbench"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
)

// The benchmarks run the daemon and the echo floor as separate processes
// (this test binary re-run), on the real Secret Service. For every figure
// side by side in one run, use the daemonbench program:
//
//	.ci/with-keyring go run ./internal/bench/daemonbench

// benchDaemon starts a daemon with a stored key for "default".
func benchDaemon(b *testing.B) (*proctest.World, *proctest.Proc) {
	b.Helper()
	testkeyring.Require(b)
	w := proctest.NewWorld(b)
	p := w.Daemon(b, nil)
	c := newClient(w.Sock)
	defer c.Close()
	if _, err := c.Put(b.Context(), "default", keyStored, credstore.PutOptions{}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = w.Store().Keychain.Delete(b.Context(), "default") })
	return w, p
}

// latencies times each iteration and reports p50 and p99.
func latencies(b *testing.B, fn func() error) {
	b.Helper()
	for range 200 {
		if err := fn(); err != nil {
			b.Fatal(err)
		}
	}
	ds := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for b.Loop() {
		t := time.Now()
		if err := fn(); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(t))
	}
	b.StopTimer()
	slices.Sort(ds)
	b.ReportMetric(float64(ds[len(ds)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(ds[len(ds)*99/100].Nanoseconds()), "p99-ns")
}

func BenchmarkResolveKeepAlive(b *testing.B) {
	w, _ := benchDaemon(b)
	c, err := sockbench.Dial(w.Sock, sockbench.RequestBytes("/v1/resolve", sockbench.ResolveBody))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	latencies(b, c.Do)
}

func BenchmarkResolveNewConnection(b *testing.B) {
	w, _ := benchDaemon(b)
	req := sockbench.RequestBytes("/v1/resolve", sockbench.ResolveBody)
	latencies(b, func() error { return sockbench.OneShot(w.Sock, req) })
}

// BenchmarkResolve64Clients: 64 keep-alive clients at once; reports
// look-ups per second and the daemon's resident memory afterwards.
func BenchmarkResolve64Clients(b *testing.B) {
	w, p := benchDaemon(b)
	req := sockbench.RequestBytes("/v1/resolve", sockbench.ResolveBody)
	const clients = 64
	n := max(b.N, clients*100)
	b.ResetTimer()
	rate, errs, err := sockbench.Throughput(w.Sock, req, clients, n)
	b.StopTimer()
	if err != nil || errs != 0 {
		b.Fatalf("%v, %d errors", err, errs)
	}
	rss, err := sockbench.RSS(p.Cmd.Process.Pid)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(rate, "lookups/s")
	b.ReportMetric(float64(rss)/(1<<20), "daemon-RSS-MiB")
}

// BenchmarkKeychainRead is a direct go-keyring read: what a look-up costs
// without the daemon.
func BenchmarkKeychainRead(b *testing.B) {
	testkeyring.Require(b)
	svc := testkeyring.Service()
	if err := keyring.Set(svc, "default", keyStored); err != nil {
		b.Fatal(err)
	}
	defer keyring.Delete(svc, "default")
	latencies(b, func() error { _, err := keyring.Get(svc, "default"); return err })
}

var echoOnce sync.Mutex

// BenchmarkEchoFloor is a raw Unix-socket round trip of a look-up's size
// to a separate process: no daemon can beat it.
func BenchmarkEchoFloor(b *testing.B) {
	echoOnce.Lock()
	defer echoOnce.Unlock()
	sock := filepath.Join(b.TempDir(), "echo.sock")
	cmd := exec.Command(proctest.Self(b))
	cmd.Env = append(os.Environ(), echoEnv+"="+sock)
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()
	if err := sockbench.WaitSocket(sock, 10*time.Second); err != nil {
		b.Fatal(err)
	}
	c, err := sockbench.DialEcho(sock, len(sockbench.RequestBytes("/v1/resolve", sockbench.ResolveBody)))
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	latencies(b, c.Do)
}
