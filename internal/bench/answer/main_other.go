//go:build !linux

// Command answer is the bench's fixed-answer server; the bench runs on
// Linux only.
package main

import "os"

func main() {
	os.Stderr.WriteString("answer: the bench's fixed-answer server runs on Linux only\n")
	os.Exit(2)
}
