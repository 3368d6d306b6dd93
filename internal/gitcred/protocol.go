// Package gitcred is git-credential-torale: git's credential protocol read
// and written exactly as git documents it, and the rule that answers a
// request only for the Torale API hosts the user has configured. It never
// answers for a host it does not know, never trusts a value holding CR, LF
// or NUL, and never puts a key in a message.
package gitcred

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Limits on what Parse reads. Git's requests are a handful of short lines;
// wwwauth[] headers are the longest thing it sends.
const (
	MaxLine  = 64 << 10 // bytes in one attribute line, newline excluded
	MaxInput = 1 << 20  // bytes in one whole request
)

// ErrMalformed is wrapped by every reason a request is refused. Its texts
// name the line, never its contents: a line may hold a password.
var ErrMalformed = errors.New("malformed credential request")

// ErrUnsafeValue is returned by Encode for a value git could not read back
// as one attribute (CR, LF or NUL in it).
var ErrUnsafeValue = errors.New("credential value holds CR, LF or NUL")

// Credential is one credential description as git passes it to a helper.
// Attributes the helper does not use (url, wwwauth[], password_expiry_utc,
// oauth_refresh_token, authtype, credential, ephemeral, state[], continue,
// and any git adds later) are read and ignored.
type Credential struct {
	Protocol string
	Host     string // host, with ":port" when the URL had one
	Path     string
	Username string
	Password string
	// Quit is git's "quit" attribute: do nothing more for this request.
	Quit bool
	// Capabilities are the capability[] values git announced. They are
	// accepted so newer gits work; this helper claims none of them.
	Capabilities []string
}

// scalars are the attributes that may appear at most once: a second "host"
// is how a request smuggles one host past a check made on the other.
var scalars = map[string]bool{"protocol": true, "host": true, "path": true, "username": true, "password": true}

// Parse reads attributes ("key=value" lines) until a blank line or end of
// input. It refuses (ErrMalformed) a line without '=', a line holding CR or
// NUL (CVE-2020-5260 and CVE-2024-50338 came from values that split into two
// lines downstream), a line longer than MaxLine, a request longer than
// MaxInput, and a repeated protocol, host, path, username or password.
// Unknown attributes are ignored, as git asks of helpers.
func Parse(r io.Reader) (Credential, error) {
	var c Credential
	seen := make(map[string]bool, len(scalars))
	br := bufio.NewReader(r)
	total := 0
	for n := 1; ; n++ {
		line, err := readLine(br, &total)
		if err != nil {
			return Credential{}, fmt.Errorf("%w: line %d %w", ErrMalformed, n, err)
		}
		if len(line) == 0 { // end of input, or the blank line that ends a request
			return c, nil
		}
		if i := bytes.IndexAny(line, "\r\x00"); i >= 0 {
			return Credential{}, fmt.Errorf("%w: line %d holds a carriage return or NUL byte", ErrMalformed, n)
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			return Credential{}, fmt.Errorf("%w: line %d is not key=value", ErrMalformed, n)
		}
		key, value := string(k), string(v)
		if scalars[key] {
			if seen[key] {
				return Credential{}, fmt.Errorf("%w: line %d repeats %q", ErrMalformed, n, key)
			}
			seen[key] = true
		}
		switch key {
		case "protocol":
			c.Protocol = value
		case "host":
			c.Host = value
		case "path":
			c.Path = value
		case "username":
			c.Username = value
		case "password":
			c.Password = value
		case "quit":
			c.Quit = gitBool(value)
		case "capability[]":
			if value == "" { // git's rule: an empty value clears an array
				c.Capabilities = nil
			} else {
				c.Capabilities = append(c.Capabilities, value)
			}
		}
	}
}

// errTooLong and errTooMuch finish the sentence "line N …".
var (
	errTooLong = fmt.Errorf("is longer than %d bytes", MaxLine)
	errTooMuch = fmt.Errorf("takes the request past %d bytes", MaxInput)
)

// readLine returns the next line without its '\n'; nil (not empty) at the end
// of input. A last line without '\n' counts as a line, as git reads it.
func readLine(br *bufio.Reader, total *int) ([]byte, error) {
	var line []byte
	for {
		chunk, err := br.ReadSlice('\n')
		*total += len(chunk)
		if *total > MaxInput {
			return nil, errTooMuch
		}
		line = append(line, chunk...)
		if len(line) > MaxLine+1 || (len(line) == MaxLine+1 && line[MaxLine] != '\n') {
			return nil, errTooLong
		}
		switch {
		case err == nil:
			return line[:len(line)-1], nil
		case errors.Is(err, bufio.ErrBufferFull):
			continue
		case errors.Is(err, io.EOF):
			if len(line) == 0 {
				return nil, nil
			}
			return line, nil
		default:
			return nil, fmt.Errorf("could not be read: %w", err)
		}
	}
}

// gitBool reads a boolean as git's config does: true, yes, on, 1.
func gitBool(v string) bool {
	switch strings.ToLower(v) {
	case "true", "yes", "on", "1":
		return true
	}
	return false
}

// Encode writes c's non-empty attributes, one "key=value" line each. It
// refuses (ErrUnsafeValue) rather than write a value that git would read as
// more than one attribute, and writes nothing at all in that case.
func (c Credential) Encode(w io.Writer) error {
	var b bytes.Buffer
	add := func(k, v string) error {
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("%w (attribute %s)", ErrUnsafeValue, k)
		}
		if v != "" {
			b.WriteString(k)
			b.WriteByte('=')
			b.WriteString(v)
			b.WriteByte('\n')
		}
		return nil
	}
	for _, a := range [][2]string{{"protocol", c.Protocol}, {"host", c.Host}, {"path", c.Path}, {"username", c.Username}, {"password", c.Password}} {
		if err := add(a[0], a[1]); err != nil {
			return err
		}
	}
	for _, v := range c.Capabilities {
		if v == "" {
			continue
		}
		if err := add("capability[]", v); err != nil {
			return err
		}
	}
	if c.Quit {
		b.WriteString("quit=1\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}
