package ipc

import "time"

// Test-only views of the request decoder, for the fuzz target and the
// strict-JSON tests in package ipc_test.

// DecodeStrict is the strict request decoder every handler uses.
var DecodeStrict = decodeStrict

// PutBody is the body of PUT /v1/credentials/{profile}.
type PutBody = putBody

// SetConfirmWait shortens how long c waits once the daemon says it asks.
func SetConfirmWait(c *Client, d time.Duration) { c.confirmWait = d }
