package sockbench

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestInterleaveSettledRunsSettleBeforeEveryTimedCall(t *testing.T) {
	var calls []string
	rec := func(name string) func() error {
		return func() error { calls = append(calls, name); return nil }
	}
	sts, err := InterleaveSettled(2, 1, 1, rec("s"), rec("a"), rec("b"))
	if err != nil {
		t.Fatal(err)
	}
	// Warm calls are not settled; every timed call is, in turn order.
	want := []string{"a", "b", "s", "a", "s", "b", "s", "a", "s", "b"}
	if !slices.Equal(calls, want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	if len(sts) != 2 || sts[0].N != 2 || sts[1].N != 2 {
		t.Fatalf("stats %+v: want two figures of 2 timed calls (settle not counted)", sts)
	}
}

func TestInterleaveSettledStopsWhenSettleFails(t *testing.T) {
	boom := errors.New("boom")
	_, err := InterleaveSettled(3, 0, 1, func() error { return boom }, func() error { return nil })
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "settling before figure 0") {
		t.Fatalf("err %v: want the settle error, named", err)
	}
}

func TestInterleaveWithoutSettle(t *testing.T) {
	n := 0
	sts, err := Interleave(3, 0, 2, func() error { n++; return nil })
	if err != nil || n != 3 || sts[0].N != 3 {
		t.Fatalf("n %d, stats %+v, err %v: want 3 timed calls", n, sts, err)
	}
}
