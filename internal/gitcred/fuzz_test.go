package gitcred

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
)

// FuzzParse: any input is either refused with ErrMalformed or parsed into
// attributes free of CR, LF and NUL that Encode writes back and Parse reads
// again unchanged. Seeds: testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	// Seeds holding key-shaped strings live here, not in testdata/fuzz, so
	// no data file carries one.
	f.Add([]byte("protocol=https\nhost=torale.example.com:8443\nusername=work\npassword=sk_abc123def456ghi789jkl012mno345pqRST\npassword_expiry_utc=1700000000\n")) // store profile
	f.Add([]byte("protocol=https\nhost=api.torale.ai\n\n"))
	f.Add([]byte("protocol=https\nhost=api.torale.ai\nusername=work\npassword=sk_abc123def456ghi789jkl012mno345pqRST\n"))
	f.Add([]byte("capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=api.torale.ai\nwwwauth[]=Bearer realm=\"x\"\n"))
	f.Add([]byte("protocol=https\nhost=api.torale.ai\rhost=evil.example\n"))
	f.Add([]byte("host=a\x00b\n"))
	f.Add([]byte("quit=true\n"))
	f.Add([]byte("noequals\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Parse(bytes.NewReader(in))
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			if !c.isZero() {
				t.Fatalf("refused input still produced %#v", c)
			}
			return
		}
		for _, v := range append([]string{c.Protocol, c.Host, c.Path, c.Username, c.Password}, c.Capabilities...) {
			if strings.ContainsAny(v, "\r\n\x00") {
				t.Fatalf("parsed value %q holds CR, LF or NUL", v)
			}
		}
		var out bytes.Buffer
		if err := c.Encode(&out); err != nil {
			t.Fatalf("Encode of a parsed request: %v", err)
		}
		back, err := Parse(&out)
		if err != nil {
			t.Fatalf("Parse of Encode's output: %v", err)
		}
		if !reflect.DeepEqual(back, c) {
			t.Fatalf("round trip changed %#v into %#v", c, back)
		}
	})
}

func (c Credential) isZero() bool { return reflect.DeepEqual(c, Credential{}) }
