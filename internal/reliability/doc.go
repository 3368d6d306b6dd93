// Package reliability is torale-cred's reliability suite: a soak, fault
// injection, hostile input and secrets hygiene, all against real daemon
// processes on a real Secret Service (see docs/reliability.md). It holds
// tests only: nothing in the product imports it, and it must never hold a
// real key. Its tests are Linux-only (real processes, /proc, mounts).
package reliability
