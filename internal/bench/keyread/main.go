// Command keyread is the bench's direct keychain read as a process: a
// static Go program that reads one entry with go-keyring (keyread SERVICE
// ACCOUNT) and prints it. It is what a tool without the daemon pays at
// least; the bench never shows its output.
package main

import (
	"fmt"
	"os"

	"github.com/zalando/go-keyring"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: keyread SERVICE ACCOUNT")
		os.Exit(2)
	}
	k, err := keyring.Get(os.Args[1], os.Args[2])
	if err != nil {
		fmt.Fprintln(os.Stderr, "keyread:", err)
		os.Exit(1)
	}
	fmt.Println(k)
}
