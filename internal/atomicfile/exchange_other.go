//go:build !linux && !darwin

package atomicfile

// exchange: no atomic swap here; WriteSwap falls back to a plain rename.
func exchange(_, _ string) error { return errExchangeUnsupported }
