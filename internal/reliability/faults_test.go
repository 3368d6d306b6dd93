//go:build linux

package reliability

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/torale-ai/torale-cred/credstore"
	"github.com/torale-ai/torale-cred/credstore/keychain"
	"github.com/torale-ai/torale-cred/internal/proctest"
	"github.com/torale-ai/torale-cred/internal/testkeyring"
	"github.com/torale-ai/torale-cred/ipc"
)

// TestSecretServiceRestartUnderLoad kills the Secret Service while clients
// keep asking, then starts it again: the daemon answers 503
// keychain_unavailable (never another error, never a wrong key), and
// serves the key again without a restart.
func TestSecretServiceRestartUnderLoad(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	bus := testkeyring.PrivateBus(t)
	data := t.TempDir()
	stopKeyring := testkeyring.StartKeyring(t, bus, data, "torale-test")
	w := newWorld(t)
	env := []string{"DBUS_SESSION_BUS_ADDRESS=" + bus, "TORALE_CRED_CACHE_TTL=300ms"}
	d := w.Daemon(t, env)
	key := newKey(t)
	w.use(key)
	c := ipc.NewClient(w.Sock, 0)
	defer c.Close()
	if _, err := c.Put(t.Context(), "default", key, credstore.PutOptions{}); err != nil {
		t.Fatal(err)
	}

	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	var ok, unavailable, wrong, other atomic.Int64
	var lastOK atomic.Int64 // unix nanos of the last right answer
	var firstOther atomic.Value
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			c := ipc.NewClient(w.Sock, 0)
			defer c.Close()
			for ctx.Err() == nil {
				rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
				r, err := c.Resolve(credstore.WithDoor(rctx, credstore.DoorToken), credstore.Request{Profile: "default"})
				cancel()
				var ie *ipc.Error
				switch {
				case err == nil && r.Key == key:
					ok.Add(1)
					lastOK.Store(time.Now().UnixNano())
				case err == nil:
					wrong.Add(1)
				case errors.As(err, &ie) && ie.Status == 503 && ie.Code == ipc.CodeKeychain:
					unavailable.Add(1)
				case ctx.Err() != nil:
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, err.Error())
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	time.Sleep(time.Second)
	stopKeyring()
	killed := time.Now()
	toUnavailable := eventually(t, "a 503 after the Secret Service was killed", func() error {
		if unavailable.Load() == 0 {
			return errors.New("no 503 yet")
		}
		return nil
	})
	h, err := c.Info(t.Context())
	if err != nil || !strings.HasPrefix(h.Keychain, "unavailable") {
		t.Errorf("health during the outage: %+v %v", h, err)
	}
	time.Sleep(2 * time.Second)
	testkeyring.StartKeyring(t, bus, data, "torale-test")
	restarted := time.Now()
	toRecovered := eventually(t, "the key served again after the Secret Service came back", func() error {
		if lastOK.Load() < restarted.UnixNano() {
			return errors.New("no right answer since the restart")
		}
		return nil
	})
	time.Sleep(500 * time.Millisecond)
	stop()
	wg.Wait()
	if !d.Alive() {
		t.Fatalf("the daemon died: %s", d.Stderr.String())
	}
	t.Logf("killed → first 503 in %s; restarted → served again in %s; answers: %d ok, %d 503, %d wrong, %d other (%v)",
		toUnavailable.Round(time.Millisecond), toRecovered.Round(time.Millisecond), ok.Load(), unavailable.Load(), wrong.Load(), other.Load(), firstOther.Load())
	if wrong.Load() != 0 || other.Load() != 0 {
		t.Errorf("%d wrong keys and %d errors other than 503 keychain_unavailable (first: %v)", wrong.Load(), other.Load(), firstOther.Load())
	}
	_ = killed
	report.add("Faults", "Secret Service (gnome-keyring) SIGKILLed under load by 8 clients, restarted 2 s later",
		"503 keychain_unavailable during the outage, nothing else; served again without restarting the daemon",
		fmt.Sprintf("first 503 %s after the kill; served again %s after the restart; %d ok, %d × 503, %d wrong keys, %d other errors; same daemon pid",
			toUnavailable.Round(time.Millisecond), toRecovered.Round(time.Millisecond), ok.Load(), unavailable.Load(), wrong.Load(), other.Load()),
		okStr(wrong.Load() == 0 && other.Load() == 0 && d.Alive()))
}

// TestDiskFullDuringRewrite puts ~/.torale on a tiny tmpfs, fills it and
// drops a plaintext key in config.json: the key reaches the keychain, the
// rewrite fails with ENOSPC leaving config.json byte for byte as it was
// and no temp file behind; once space is freed the watcher finishes.
func TestDiskFullDuringRewrite(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	w := newWorld(t)
	dir := filepath.Dir(w.Config)
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k,mode=0700"); err != nil {
		if inCI() {
			t.Fatalf("mounting a tmpfs on %s: %v (CI runs as root and must run this case)", dir, err)
		}
		t.Skipf("cannot mount a tmpfs (%v): run as root to test a full disk", err)
	}
	t.Cleanup(func() { _ = unix.Unmount(dir, unix.MNT_DETACH) })
	key := newKey(t)
	w.use(key)
	orig := fmt.Sprintf(`{"api_key": %q, "api_url": "https://full.example", "notes": %q}`+"\n", key, strings.Repeat("n", 8000))
	writeFile(t, w.Config, orig)
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	block := make([]byte, 4096)
	for {
		if _, err := f.Write(block); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()

	d := w.Daemon(t, nil)
	kc := keychain.New(keychain.WithService(w.Service))
	eventually(t, "the key in the keychain", func() error {
		k, err := kc.Get(t.Context(), "default")
		if err != nil || k != key {
			return fmt.Errorf("keychain: %v", err)
		}
		return nil
	})
	// Give the failed rewrite time to happen and be logged.
	eventually(t, "the failed rewrite logged", func() error {
		if !strings.Contains(strings.ToLower(d.Stderr.String()), "no space") {
			return errors.New("no ENOSPC in the log yet")
		}
		return nil
	})
	got, err := os.ReadFile(w.Config)
	intact := err == nil && string(got) == orig
	if !intact {
		t.Errorf("config.json changed on a full disk: %v\n%.200s", err, got)
	}
	es, _ := os.ReadDir(dir)
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	leftovers := len(names) != 2
	if leftovers {
		t.Errorf("files on the full disk: %v, want config.json and filler only", names)
	}
	c := ipc.NewClient(w.Sock, 0)
	defer c.Close()
	r, err := c.Resolve(credstore.WithDoor(t.Context(), credstore.DoorToken), credstore.Request{Profile: "default"})
	if err != nil || r.Key != key || r.KeySource != "keychain" {
		t.Errorf("look-up on a full disk: %s %v", r.KeySource, err)
	}

	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	freed := eventually(t, "config.json rewritten once space is back", func() error {
		b, err := os.ReadFile(w.Config)
		if err != nil || strings.Contains(string(b), "api_key") || !strings.Contains(string(b), `"notes"`) {
			return fmt.Errorf("config.json: %v %.60s", err, b)
		}
		return nil
	})
	if !d.Alive() {
		t.Fatalf("the daemon died: %s", d.Stderr.String())
	}
	// The tmpfs goes away before the world's own hygiene check: grep it now.
	// The swap keeps config.json's old bytes in its temp file until it
	// removes it, an instant after config.json changes: wait for that
	// outcome, and fail only if a file keeps the key.
	var leaked []string
	for deadline := time.Now().Add(patience); ; time.Sleep(10 * time.Millisecond) {
		leaked = leaked[:0]
		es, _ = os.ReadDir(dir)
		for _, e := range es {
			if b, err := os.ReadFile(filepath.Join(dir, e.Name())); err == nil && w.leak(b) != "" {
				leaked = append(leaked, e.Name())
			}
		}
		if len(leaked) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, name := range leaked {
		t.Errorf("%s still holds the key after the migration", name)
	}
	leak := len(leaked) > 0
	report.add("Faults", "disk full (64 KiB tmpfs on ~/.torale, filled) when the watcher rewrites config.json",
		"key stored in the keychain; config.json byte-identical; no temp file left; finished once space is freed",
		fmt.Sprintf("key in keychain and served; config.json intact: %v; leftovers: %v; ENOSPC logged; rewritten %s after the filler was removed; key on disk after: %v",
			intact, leftovers, freed.Round(time.Millisecond), leak),
		okStr(intact && !leftovers && !leak))
}

// foreignBinaries copies the test binary (the fake server) and the shipped
// torale-cred where another user can run them and returns the copies and
// a 0755 directory that user may write under.
func foreignBinaries(t *testing.T) (fake, toraleCred, dir string) {
	t.Helper()
	if os.Getuid() != 0 {
		if inCI() {
			t.Fatal("this case needs root to run a process as another user, and CI runs as root")
		}
		t.Skip("needs root to run a process as another user")
	}
	dir, err := os.MkdirTemp("", "torale-foreign-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fake, toraleCred = filepath.Join(dir, "torale-cred.test"), filepath.Join(dir, "torale-cred")
	copyFile(t, proctest.Self(t), fake, 0o755)
	copyFile(t, filepath.Join(programs, "torale-cred"), toraleCred, 0o755)
	return fake, toraleCred, dir
}

const nobody = 65534

// TestSocketDirReplacedBySymlink: while the daemon runs, its socket
// directory is renamed away and replaced by a symlink to a directory where
// another user serves a socket. Clients refuse to talk to it (no byte of a
// key sent), the running daemon keeps serving its own socket and does not
// remove the other user's on stop, and a new daemon refuses the symlink.
func TestSocketDirReplacedBySymlink(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	bin, _, shared := foreignBinaries(t)
	w := newWorld(t)
	d := w.Daemon(t, nil)
	key, key2 := newKey(t), newKey(t)
	w.use(key, key2)
	if _, e, code := w.CLI(t, key+"\n", nil, "login"); code != 0 {
		t.Fatalf("login: %d %s", code, e)
	}

	evil := filepath.Join(shared, "evil")
	if err := os.Mkdir(evil, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(evil, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	evilSock := filepath.Join(evil, "cred.sock")
	fake := exec.Command(bin)
	fake.Env = []string{fakeEnv + "=" + evilSock}
	fake.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	out, err := fake.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	fake.Stderr = os.Stderr
	if err := fake.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = fake.Process.Kill(); _ = fake.Wait() })
	var fmu sync.Mutex
	var fakeSaw []string
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			if sc.Text() == "LISTENING" {
				close(listening)
				continue
			}
			fmu.Lock()
			fakeSaw = append(fakeSaw, sc.Text())
			fmu.Unlock()
		}
	}()
	select {
	case <-listening:
	case <-time.After(patience):
		t.Fatal("the fake server did not start")
	}

	sockDir := filepath.Dir(w.Sock)
	moved := sockDir + ".moved"
	if err := os.Rename(sockDir, moved); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(evil, sockDir); err != nil {
		t.Fatal(err)
	}

	tokOut, tokErr, tokCode := w.CLI(t, "", nil, "token")
	_, loginErr, loginCode := w.CLI(t, key2+"\n", nil, "login")
	time.Sleep(200 * time.Millisecond)
	fmu.Lock()
	saw := strings.Join(fakeSaw, "\n")
	fmu.Unlock()
	sentBytes := false
	for _, l := range strings.Split(saw, "\n") {
		if strings.HasPrefix(l, "CONN ") && !strings.HasPrefix(l, "CONN 0 ") {
			sentBytes = true
		}
	}
	t.Logf("token: %d %q; login: %d %q; the other user's socket saw: %q", tokCode, strings.TrimSpace(tokErr), loginCode, strings.TrimSpace(loginErr), saw)
	if sentBytes || strings.Contains(saw, key2) || strings.Contains(saw, key) {
		t.Errorf("a client sent bytes to another user's socket: %q", saw)
	}
	if tokCode != 0 || tokOut != key+"\n" || !strings.Contains(tokErr, "refusing") {
		t.Errorf("token through the symlinked directory: %d, warned %q (want the keychain's answer and a warning)", tokCode, tokErr)
	}
	if loginCode == 0 {
		t.Errorf("login through the symlinked directory succeeded: where did the key go?")
	}
	// The running daemon still serves its own socket.
	c := ipc.NewClient(filepath.Join(moved, "cred.sock"), 0)
	_, herr := c.Info(t.Context())
	c.Close()
	if herr != nil {
		t.Errorf("the running daemon's own socket: %v", herr)
	}
	// Stopping it must not remove the other user's socket through the link.
	if err := d.Stop(t); err != nil {
		t.Errorf("daemon stop: %v", err)
	}
	_, evilErr := os.Lstat(evilSock)
	if evilErr != nil {
		t.Errorf("the daemon removed a socket through the symlink: %v", evilErr)
	}
	// A new daemon refuses the symlinked directory.
	_, newErr, newCode := w.CLI(t, "", nil, "daemon", "--socket", w.Sock)
	if newCode != 1 || !strings.Contains(newErr, "symbolic link") {
		t.Errorf("a new daemon on a symlinked directory: %d %q", newCode, newErr)
	}
	report.add("Faults", "socket directory renamed away and replaced by a symlink to a directory where another user (uid 65534) serves cred.sock",
		"clients refuse the other user's socket before sending a byte (token falls back to the keychain with a warning; login fails); running daemon keeps its socket and removes nothing through the link; a new daemon refuses the symlink",
		fmt.Sprintf("other socket received %d bytes of requests; token exit %d with warning; login exit %d; old socket answers: %v; other socket kept: %v; new daemon exit %d %q",
			bytesIn(saw), tokCode, loginCode, herr == nil, evilErr == nil, newCode, firstLine(newErr)),
		okStr(!sentBytes && tokCode == 0 && loginCode != 0 && herr == nil && evilErr == nil && newCode == 1))
}

func bytesIn(saw string) int {
	n := 0
	for _, l := range strings.Split(saw, "\n") {
		var k int
		if _, err := fmt.Sscanf(l, "CONN %d", &k); err == nil {
			n += k
		}
	}
	return n
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// TestDaemonNotDumpable runs the daemon as another user (no keychain
// needed: it serves 503s) and checks that a process of that same user
// cannot read its /proc/PID/environ, which Linux owns by root for a process
// that made itself non-dumpable (no ptrace by its user, no core); a control
// process of that user shows the check can fail. The core limit is 0 too.
func TestDaemonNotDumpable(t *testing.T) {
	parallel(t)
	fake, toraleCred, shared := foreignBinaries(t)
	home := filepath.Join(shared, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(home, "run", "cred.sock")
	run := func(args ...string) *exec.Cmd {
		cmd := exec.Command(toraleCred, args...)
		cmd.Env = []string{"HOME=" + home, "XDG_RUNTIME_DIR=" + filepath.Join(home, "run"),
			"DBUS_SESSION_BUS_ADDRESS=unix:path=" + filepath.Join(home, "nobus"), "PATH=/usr/bin:/bin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return cmd
	}
	dm := run("daemon", "--socket", sock, "--no-watch")
	var errb proctest.SyncBuf
	dm.Stderr = &errb
	if err := dm.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = dm.Process.Signal(syscall.SIGTERM); _ = dm.Wait() })
	ctl := exec.Command(fake) // the fake server: a plain process of that user that stays up
	ctl.Env = []string{fakeEnv + "=" + filepath.Join(home, "ctl.sock")}
	ctl.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	if err := ctl.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ctl.Process.Kill(); _ = ctl.Wait() })
	owner := func(pid int) (uint32, error) {
		var st syscall.Stat_t
		err := syscall.Stat(fmt.Sprintf("/proc/%d/environ", pid), &st)
		return st.Uid, err
	}
	// readable says whether the daemon's own user can read pid's memory-
	// backed files (what ptrace_may_access decides).
	readable := func(pid int) bool {
		cat := exec.Command("cat", fmt.Sprintf("/proc/%d/environ", pid))
		cat.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
		return cat.Run() == nil
	}
	var dOwner, cOwner uint32
	eventually(t, "the daemon serving", func() error {
		if _, err := os.Stat(sock); err != nil {
			return err
		}
		if _, err := os.Stat(filepath.Join(home, "ctl.sock")); err != nil {
			return err
		}
		var err error
		if dOwner, err = owner(dm.Process.Pid); err != nil {
			return err
		}
		cOwner, err = owner(ctl.Process.Pid)
		return err
	})
	lim, _ := os.ReadFile(fmt.Sprintf("/proc/%d/limits", dm.Process.Pid))
	coreZero := false
	for _, l := range strings.Split(string(lim), "\n") {
		if strings.HasPrefix(l, "Max core file size") {
			f := strings.Fields(strings.TrimPrefix(l, "Max core file size"))
			coreZero = len(f) >= 2 && f[0] == "0" && f[1] == "0"
		}
	}
	dRead, cRead := readable(dm.Process.Pid), readable(ctl.Process.Pid)
	t.Logf("/proc/PID/environ owner: daemon %d, control %d; readable by their user: daemon %v, control %v; core limit 0: %v", dOwner, cOwner, dRead, cRead, coreZero)
	if cOwner != nobody || !cRead {
		t.Fatalf("control process: /proc/PID/environ owned by %d, readable %v: the check cannot tell", cOwner, cRead)
	}
	if dOwner != 0 || dRead {
		t.Errorf("the daemon is dumpable: /proc/PID/environ owned by %d, readable by its own user: %v", dOwner, dRead)
	}
	if !coreZero {
		t.Errorf("the daemon's core limit is not 0: %s", lim)
	}
	report.add("Secrets hygiene", "daemon process dumpable? (daemon run as uid 65534; a process of the same user reads /proc/PID/environ; owner of that file; RLIMIT_CORE)",
		"not dumpable: read refused, file owned by root (PR_SET_DUMPABLE=0); core limit 0 0; a control process of the same user is readable",
		fmt.Sprintf("daemon: readable %v, owner %d; control: readable %v, owner %d; core limit 0: %v", dRead, dOwner, cRead, cOwner, coreZero),
		okStr(dOwner == 0 && !dRead && cRead && cOwner == nobody && coreZero))
}

// TestDaemonSIGKILLDuringMigration kills the real daemon process at a
// random instant after a plaintext key lands in config.json (credstore's
// migrate_fault_test kills a bare MigrateConfig loop; this is the daemon
// with its watcher, cache and server). After each kill the key is in
// config.json or in the keychain, config.json is whole; the restarted
// daemon finishes the move and sweeps the temp file the kill left.
func TestDaemonSIGKILLDuringMigration(t *testing.T) {
	parallel(t)
	testkeyring.Require(t)
	rounds := 15
	if full() {
		rounds = 100
	}
	w := newWorld(t)
	kc := keychain.New(keychain.WithService(w.Service))
	var tally killTally
	var withKey int
	leftovers := map[string]bool{}
	for i := range rounds {
		d := w.Daemon(t, nil)
		key := newKey(t)
		w.use(key)
		raw := fmt.Sprintf(`{"api_key":%q,"api_url":"https://kill.example","round":%d}`, key, i)
		writeFile(t, w.Config, raw)
		time.Sleep(time.Duration(i%20) * time.Millisecond)
		_ = d.Cmd.Process.Kill()
		<-d.Done
		d.Done <- errors.New("killed")

		tally.observe(t, w.Config, kc, key, i, fmt.Sprintf("round %d", i))
		// What a kill leaves is a rewrite's temp file: the new content, or
		// (killed after the exchange) what config.json held, key included.
		// A daemon sweeps it once it is over a minute old (a younger one
		// may be a write in progress), at start and a minute later, when
		// the keychain still holds that key; age it rather than wait.
		dir := filepath.Dir(w.Config)
		es, _ := os.ReadDir(dir)
		aged := time.Now().Add(-2 * time.Minute)
		for _, e := range es {
			if e.Name() != "config.json" {
				leftovers[e.Name()] = true
				if b, _ := os.ReadFile(filepath.Join(dir, e.Name())); strings.Contains(string(b), "sk_") {
					withKey++
				}
				_ = os.Chtimes(filepath.Join(dir, e.Name()), aged, aged)
			}
		}
		// The next daemon sweeps them and finishes the move.
		d2 := w.Daemon(t, nil)
		eventually(t, "the restarted daemon finishing the migration", func() error {
			b, _ := os.ReadFile(w.Config)
			if strings.Contains(string(b), "api_key") { // not moved yet: spare the Secret Service a look-up
				return fmt.Errorf("config.json %q", b)
			}
			k, err := kc.Get(t.Context(), "default")
			if err != nil || k != key {
				return fmt.Errorf("config.json %q, keychain %v", b, err)
			}
			return nil
		})
		eventually(t, "the restarted daemon sweeping the left-over temp files", func() error {
			for name := range leftovers {
				if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
					return fmt.Errorf("%s still there", name)
				}
			}
			return nil
		})
		if err := d2.Stop(t); err != nil {
			t.Errorf("round %d: stop: %v", i, err)
		}
	}
	t.Logf("%d SIGKILLs: key in file only %d, keychain only %d, both %d, lost %d; config.json broken %d; files left behind %v (%d holding a key), each swept by the restart", rounds, tally.inFile, tally.inKeychain, tally.both, tally.lost, tally.broken, leftovers, withKey)
	swept := true // eventually stops the test otherwise
	report.add("Faults", fmt.Sprintf("daemon process SIGKILLed 0–19 ms after a new plaintext key lands in config.json (%d rounds), then restarted", rounds),
		"key never lost (in config.json, the keychain or both); config.json whole; the restarted daemon finishes the move",
		fmt.Sprintf("file only %d, keychain only %d, both %d, lost %d; config.json broken %d; every restart finished the move; %d .config.json.*.tmp left behind by kills (%d holding the key), each removed by the restart once a minute old: %v", tally.inFile, tally.inKeychain, tally.both, tally.lost, tally.broken, len(leftovers), withKey, swept),
		okStr(tally.lost == 0 && tally.broken == 0 && swept))
}
