//go:build !linux

package endpoint

import (
	"errors"
	"net"
)

// peerSupported: on this OS a TCP peer's user and process are not read;
// the local token alone admits a request (the endpoint still listens on
// 127.0.0.1 only).
const peerSupported = false

type pidFinder struct{}

func (*pidFinder) tcpPeer(_, _ *net.TCPAddr) (uint32, int, error) {
	return 0, 0, errors.New("this OS does not tell a TCP peer's user")
}
