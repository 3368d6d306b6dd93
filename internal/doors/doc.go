// Package doors holds one property test: every way a key leaves
// torale-cred (the CLI with and without the daemon, curl on the socket,
// exec, the git helper) gives the same answer for the same situation. It
// holds tests only; nothing imports it. They run without the race detector
// (make test runs them apart): dozens of real processes per row.
package doors
