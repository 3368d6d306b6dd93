//go:build !linux

package sockbench

import "errors"

var errNoPin = errors.New("CPU pinning is implemented on Linux only")

// PinProcess is not available here; the figures run unpinned.
func PinProcess(int, []int) error { return errNoPin }

// PinThisThread is not available here; the figures run unpinned.
func PinThisThread([]int) (func(), error) { return nil, errNoPin }
