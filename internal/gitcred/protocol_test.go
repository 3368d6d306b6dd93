package gitcred

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

func TestParse(t *testing.T) {
	long := strings.Repeat("a", MaxLine-len("path="))
	tests := []struct {
		name string
		in   string
		want Credential
	}{
		{"empty input", "", Credential{}},
		{"blank line only", "\n", Credential{}},
		{"typical get", "protocol=https\nhost=api.torale.ai\n\n", Credential{Protocol: "https", Host: "api.torale.ai"}},
		{"last line without newline", "protocol=https\nhost=api.torale.ai", Credential{Protocol: "https", Host: "api.torale.ai"}},
		{"stops at the blank line", "protocol=https\n\nhost=evil.example\n", Credential{Protocol: "https"}},
		{"value keeps its '=' and spaces", "password=a=b c \n", Credential{Password: "a=b c "}},
		{"empty value", "username=\n", Credential{}},
		{"unknown attributes ignored", "url=https://evil.example\nwwwauth[]=Bearer realm=\"x\"\npassword_expiry_utc=1\noauth_refresh_token=x\nauthtype=Bearer\ncredential=x\nephemeral=1\nstate[]=a\ncontinue=1\nfuture=1\n=nokey\nhost=h\n",
			Credential{Host: "h"}},
		{"capabilities", "capability[]=authtype\ncapability[]=state\n", Credential{Capabilities: []string{"authtype", "state"}}},
		{"empty capability clears", "capability[]=authtype\ncapability[]=\ncapability[]=state\n", Credential{Capabilities: []string{"state"}}},
		{"quit true", "quit=1\n", Credential{Quit: true}},
		{"quit yes", "quit=Yes\n", Credential{Quit: true}},
		{"quit false", "quit=0\n", Credential{}},
		{"line of exactly MaxLine bytes", "path=" + long + "\n", Credential{Path: long}},
		{"non-UTF-8 bytes are bytes", "host=\xff\xfe\n", Credential{Host: "\xff\xfe"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Parse(strings.NewReader(tt.in))
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse = %#v, want %#v", got, tt.want)
			}
			// Reading one byte at a time changes nothing.
			got, err = Parse(iotest.OneByteReader(strings.NewReader(tt.in)))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Parse byte by byte = %#v, %v", got, err)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct {
		name, in, msg string
	}{
		{"no '='", "protocol=https\nhost\n", "line 2 is not key=value"},
		{"CR in a value (CVE-2024-50338)", "protocol=https\nhost=api.torale.ai\rhost=evil.example\n", "line 2 holds a carriage return"},
		{"CRLF line ending", "protocol=https\r\n", "line 1 holds a carriage return"},
		{"NUL in a value", "host=api.torale.ai\x00.evil.example\n", "line 1 holds a carriage return or NUL"},
		{"NUL in a key", "ho\x00st=x\n", "NUL"},
		{"repeated host (CVE-2020-5260 shape)", "protocol=https\nhost=evil.example\nhost=api.torale.ai\n", `line 3 repeats "host"`},
		{"repeated password", "password=a\npassword=b\n", `repeats "password"`},
		{"line one byte too long", "path=" + strings.Repeat("a", MaxLine-len("path=")+1) + "\n", "line 1 is longer than"},
		{"huge line without newline", "path=" + strings.Repeat("a", 10*MaxLine), "line 1 is longer than"},
		{"too much input", strings.Repeat("wwwauth[]="+strings.Repeat("b", 1000)+"\n", MaxInput/1000+1), "past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(strings.NewReader(tt.in))
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("Parse error = %v, want ErrMalformed", err)
			}
			if !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestParseNeverEchoesInput(t *testing.T) {
	secret := "sk_SECRETsecretSECRETsecretSECRET12345"
	for _, in := range []string{
		"password=" + secret + "\r\n",
		"password" + secret + "\n",
		"password=" + secret + "\x00\n",
		"password=" + secret + "\npassword=" + secret + "\n",
	} {
		_, err := Parse(strings.NewReader(in))
		if err == nil || strings.Contains(err.Error(), "SECRET") {
			t.Fatalf("error %v for %q must exist and not hold the input", err, in)
		}
	}
}

func TestParseReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := Parse(io.MultiReader(strings.NewReader("protocol=https\n"), iotest.ErrReader(boom)))
	if !errors.Is(err, boom) || !errors.Is(err, ErrMalformed) {
		t.Fatalf("error = %v", err)
	}
}

func TestEncode(t *testing.T) {
	var b bytes.Buffer
	c := Credential{Protocol: "https", Host: "api.torale.ai", Username: "default", Password: "sk_x", Capabilities: []string{"authtype"}, Quit: true}
	if err := c.Encode(&b); err != nil {
		t.Fatal(err)
	}
	want := "protocol=https\nhost=api.torale.ai\nusername=default\npassword=sk_x\ncapability[]=authtype\nquit=1\n"
	if b.String() != want {
		t.Fatalf("Encode = %q, want %q", b.String(), want)
	}
	back, err := Parse(&b)
	if err != nil || !reflect.DeepEqual(back, c) {
		t.Fatalf("round trip = %#v, %v", back, err)
	}
}

func TestEncodeRefusesUnsafeValues(t *testing.T) {
	for _, bad := range []Credential{
		{Username: "default", Password: "sk_x\nhost=evil.example"},
		{Username: "a\rb"},
		{Host: "a\x00b"},
		{Capabilities: []string{"x\ny"}},
	} {
		var b bytes.Buffer
		if err := bad.Encode(&b); !errors.Is(err, ErrUnsafeValue) {
			t.Fatalf("Encode(%#v) = %v, want ErrUnsafeValue", bad, err)
		}
		if b.Len() != 0 {
			t.Fatalf("Encode wrote %q before refusing", b.String())
		}
		if strings.Contains(fmtErr(bad.Encode(io.Discard)), "sk_x") {
			t.Fatal("the error holds the value")
		}
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func BenchmarkParse(b *testing.B) {
	in := "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=api.torale.ai\nwwwauth[]=Bearer realm=\"torale\"\nusername=default\n\n"
	b.SetBytes(int64(len(in)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Parse(strings.NewReader(in)); err != nil {
			b.Fatal(err)
		}
	}
}
