//go:build !unix

package audit

// noFollow has no equivalent flag here; the directory's trust check stands.
const noFollow = 0
