package main

import (
	"bytes"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// initFigure is the package initialisation one command pays before main:
// the sum of GODEBUG=inittrace=1's "init" lines, the median of several runs.
type initFigure struct {
	what     string
	clock    time.Duration // median total of the init clock times
	allocs   int           // allocations of that run
	packages int           // packages with init work
	err      error
}

// initRuns is how many times each command is run for its init figure.
const initRuns = 21

// initTraces measures package init for the commands the process rows run.
func (r *runner) initTraces(w *world) {
	runs := initRuns
	if r.o.quick {
		runs = 3
	}
	gitIn := "protocol=https\nhost=api.torale.ai\n\n"
	for _, c := range []struct {
		what  string
		p     program
		stdin string
		args  []string
	}{
		{"`torale-cred version`", r.cred, "", []string{"version"}},
		{"`torale-cred token`, daemon running", r.cred, "", []string{"token"}},
		{"`git-credential-torale get`, daemon running", r.git, gitIn, []string{"get"}},
	} {
		f := initFigure{what: c.what}
		type one struct {
			clock       time.Duration
			allocs, pkg int
		}
		var all []one
		for range runs {
			x := exec.Command(c.p.path, c.args...)
			x.Env = w.env(append(append([]string(nil), c.p.env...), "GODEBUG=inittrace=1")...)
			if c.stdin != "" {
				x.Stdin = strings.NewReader(c.stdin)
			}
			var stderr bytes.Buffer
			x.Stderr = &stderr // stdout (a key) is dropped
			if err := x.Run(); err != nil {
				f.err = fmt.Errorf("%s: %w", filepath.Base(x.Path), err)
				break
			}
			clock, allocs, pkg := parseInitTrace(stderr.String())
			all = append(all, one{clock, allocs, pkg})
		}
		if f.err == nil && len(all) > 0 {
			slices.SortFunc(all, func(a, b one) int { return int(a.clock - b.clock) })
			m := all[len(all)/2]
			f.clock, f.allocs, f.packages = m.clock, m.allocs, m.pkg
		}
		r.res.inits = append(r.res.inits, f)
	}
}

// parseInitTrace sums lines such as
// "init net/http @2.6 ms, 0.041 ms clock, 4712 bytes, 49 allocs".
func parseInitTrace(s string) (clock time.Duration, allocs, packages int) {
	for _, line := range strings.Split(s, "\n") {
		f := strings.Fields(line)
		if len(f) != 11 || f[0] != "init" || f[6] != "clock," || f[10] != "allocs" {
			continue
		}
		ms, err1 := strconv.ParseFloat(f[4], 64)
		n, err2 := strconv.Atoi(f[9])
		if err1 != nil || err2 != nil {
			continue
		}
		clock += time.Duration(ms * float64(time.Millisecond))
		allocs += n
		packages++
	}
	return clock, allocs, packages
}
