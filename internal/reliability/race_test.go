//go:build linux && race

package reliability

// raceEnabled: make test's run. The suite's sizes are cut to fit it: the
// test binary, race-built, runs the soak's clients several times slower.
const raceEnabled = true
