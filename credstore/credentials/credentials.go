// Package credentials is the systemd credentials store: a profile's key
// read from the file systemd hands a unit in $CREDENTIALS_DIRECTORY
// (LoadCredential=, SetCredential=). It is read-only: torale-cred never
// writes or deletes a credential.
package credentials

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"

	"github.com/torale-ai/torale-cred/credstore/apikey"
	"github.com/torale-ai/torale-cred/credstore/storeerr"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// DefaultName is the file in $CREDENTIALS_DIRECTORY read for a
// credentials store that names none (LoadCredential=torale-api-key:…).
const DefaultName = "torale-api-key"

// Where names the credential for status lines and errors.
func Where(name string) string { return "systemd credential " + name }

// maxCredentialSize bounds a credential file: a key is under 200 bytes.
const maxCredentialSize = 4096

// Source reads the key systemd hands the unit in
// $CREDENTIALS_DIRECTORY (LoadCredential=, SetCredential=). Read-only.
type Source struct {
	Dir  string
	Name string
}

func (c *Source) Get(_ context.Context, profile string) (string, error) {
	if c.Dir == "" {
		return "", &storeerr.StoreError{Profile: profile, Err: fmt.Errorf("profile %q reads its key from the systemd credential %q, and this process has no $CREDENTIALS_DIRECTORY: run it as a systemd service with LoadCredential=%s:/path/to/key (see the README's headless recipe), or ask the daemon that runs so",
			profile, c.Name, c.Name)}
	}
	path := filepath.Join(c.Dir, c.Name)
	b, err := readCredential(path)
	if errors.Is(err, fs.ErrNotExist) {
		return "", &storeerr.StoreError{Profile: profile, NoKey: true, Err: fmt.Errorf("systemd passed no credential %q in %s; add LoadCredential=%s:/path/to/key to the unit", c.Name, c.Dir, c.Name)}
	}
	if err != nil {
		return "", &storeerr.StoreError{Profile: profile, Err: fmt.Errorf("reading the systemd credential %q: %w", c.Name, err)}
	}
	key := strings.TrimRight(string(b), "\r\n")
	if _, err := apikey.Parse(key); err != nil {
		return "", &storeerr.StoreError{Profile: profile, Err: fmt.Errorf("the systemd credential %q is not a Torale key: %w", c.Name, err)}
	}
	return key, nil
}

func (c *Source) Set(_ context.Context, profile, _ string) error {
	return fmt.Errorf("%w: profile %q reads its key from the systemd credential %q, which torale-cred cannot write; put the new key in the file LoadCredential= names and restart the service",
		storeerr.ErrReadOnly, profile, c.Name)
}

func (c *Source) Delete(_ context.Context, profile string) error {
	return storeerr.NotDeleted(profile, Where(c.Name))
}

func (c *Source) Ping(context.Context) error {
	if c.Dir == "" {
		return errors.New("no $CREDENTIALS_DIRECTORY")
	}
	return nil
}

// readCredential reads a credential file: systemd's directory, which is
// the service's own, read-only, and owned by root or the service's user, so
// the trust rules of ~/.torale do not apply; a regular file, never
// blocking on anything else, at most maxCredentialSize bytes.
func readCredential(path string) ([]byte, error) {
	return safefile.ReadForeign(path, maxCredentialSize)
}
