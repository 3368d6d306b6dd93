// Command floor is the bench's process floor: a static Go program that
// writes one line and exits. Whatever a torale-cred process costs beyond
// it is torale-cred's own start-up and work, not the Go runtime's.
package main

import "os"

func main() { _, _ = os.Stdout.Write([]byte("floor\n")) }
