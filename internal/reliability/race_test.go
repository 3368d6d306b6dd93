//go:build linux && race

package reliability

// raceEnabled: the race detector's shadow memory grows with every
// allocation, so resident memory says nothing about the daemon then.
const raceEnabled = true
