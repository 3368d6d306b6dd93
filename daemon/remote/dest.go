package remote

import (
	"errors"
	"net"
	"strings"
)

// sshArgOpts are the options of OpenSSH's client that take an argument
// (ssh.c's getopt string): what follows them is never the destination.
const sshArgOpts = "BbcDEeFIiJLlmOoPpQRSWw"

// Destination is where ssh with args connects, as its own arguments name
// it: the first argument that is not an option ("user@host" or an
// ssh:// URI), with -l's user and -p's port added when given, before the
// host or after it (ssh reads options on both sides; the next word that is
// not an option begins the remote command) (host only:
// ssh_config may still rename it, which the trail does not pretend to
// know). An error when args name none.
func Destination(args []string) (string, error) {
	var user, port, host string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			if host == "" && i+1 < len(args) {
				host = args[i+1]
			}
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			if host != "" {
				break // the remote command
			}
			host = a
			continue
		}
		// A cluster of flags (-tt, -vp22): the first that takes an
		// argument takes the rest of the word, or the next one.
		for j := 1; j < len(a); j++ {
			if !strings.ContainsRune(sshArgOpts, rune(a[j])) {
				continue
			}
			val := a[j+1:]
			if val == "" && i+1 < len(args) {
				i++
				val = args[i]
			}
			switch a[j] {
			case 'l':
				user = val
			case 'p':
				port = val
			}
			break
		}
	}
	if host == "" {
		return "", errors.New("the ssh arguments name no destination host")
	}
	if rest, ok := strings.CutPrefix(host, "ssh://"); ok {
		host = strings.TrimSuffix(rest, "/")
		if h, p, err := net.SplitHostPort(host); err == nil {
			host, port = h, p
		}
	}
	if user != "" && !strings.Contains(host, "@") {
		host = user + "@" + host
	}
	if port != "" && port != "22" {
		host += ":" + port
	}
	if len(host) > 255 || strings.ContainsAny(host, "\x00\n\r") {
		return "", errors.New("the ssh destination is not a host name")
	}
	return host, nil
}
