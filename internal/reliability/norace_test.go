//go:build linux && !race

package reliability

const raceEnabled = false
