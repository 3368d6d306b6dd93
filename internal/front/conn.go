//go:build !windows

package front

import (
	"errors"
	"io"
	"time"

	"golang.org/x/sys/unix"
)

// conn is one connection to the daemon's socket on a plain blocking
// descriptor, as a C client makes it: no net package, so no poller, no
// goroutine parked on it and no second thread woken to wait. Measured as
// whole processes, the net package's dial and read cost a look-up about
// 0.2 ms more than these few system calls (docs/benchmarks.md). Every
// call waits at most until the deadline.
type conn struct {
	fd       int
	deadline time.Time
}

// errTimeout: the daemon did not answer by the deadline.
var errTimeout = errors.New("the daemon did not answer in time")

// dialUnix connects to the socket at path, waiting at most timeout (a
// listener whose backlog is full makes connect wait).
func dialUnix(path string, timeout time.Duration) (*conn, error) {
	fd, err := socket()
	if err != nil {
		return nil, err
	}
	c := &conn{fd: fd, deadline: time.Now().Add(timeout)}
	if err := c.setTimeout(unix.SO_SNDTIMEO); err != nil {
		c.Close()
		return nil, err
	}
	for {
		err = unix.Connect(fd, &unix.SockaddrUnix{Name: path})
		switch err {
		case unix.EINTR:
			continue
		case unix.EISCONN: // connected while an earlier try was interrupted
			err = nil
		case unix.EAGAIN, unix.EINPROGRESS, unix.EALREADY:
			err = errTimeout
		}
		break
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// extend moves the deadline to d from now.
func (c *conn) extend(d time.Duration) { c.deadline = time.Now().Add(d) }

// setTimeout bounds the next blocking call (opt: SO_RCVTIMEO or
// SO_SNDTIMEO) by what is left before the deadline.
func (c *conn) setTimeout(opt int) error {
	left := time.Until(c.deadline)
	if left <= 0 {
		return errTimeout
	}
	tv := unix.NsecToTimeval(left.Nanoseconds())
	if tv.Sec == 0 && tv.Usec == 0 {
		tv.Usec = 1 // 0 would mean "wait forever"
	}
	return unix.SetsockoptTimeval(c.fd, unix.SOL_SOCKET, opt, &tv)
}

// Read is io.Reader's, until the deadline. A signal interrupts a call
// bounded by a socket timeout even under SA_RESTART, so EINTR tries again
// with what time is left.
func (c *conn) Read(p []byte) (int, error) {
	for {
		if err := c.setTimeout(unix.SO_RCVTIMEO); err != nil {
			return 0, err
		}
		n, err := unix.Read(c.fd, p)
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, errTimeout
		case err != nil:
			return 0, err
		case n == 0 && len(p) > 0:
			return 0, io.EOF
		}
		return n, nil
	}
}

// writeAll writes all of b before the deadline (the send timeout was set
// by dialUnix).
func (c *conn) writeAll(b []byte) error {
	for len(b) > 0 {
		n, err := unix.Write(c.fd, b)
		switch {
		case err == unix.EINTR:
			if err := c.setTimeout(unix.SO_SNDTIMEO); err != nil {
				return err
			}
			continue
		case err == unix.EAGAIN:
			return errTimeout
		case err != nil:
			return err
		}
		b = b[n:]
	}
	return nil
}

// Close closes the descriptor.
func (c *conn) Close() error { return unix.Close(c.fd) }
