package credstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/torale-ai/torale-cred/internal/atomicfile"
	"github.com/torale-ai/torale-cred/internal/filelock"
	"github.com/torale-ai/torale-cred/internal/safefile"
)

// Sources of a stored key, as state.json records them.
const (
	SourceLogin  = "login"
	SourceConfig = "config"
	SourceGit    = "git"
	SourceRotate = "rotate"
)

// stateVersion is the format written; a newer one is refused rather than
// rewritten by an older binary.
const stateVersion = 1

// maxStateSize bounds what is read: state.json holds a few lines a profile.
const maxStateSize = 1 << 20

// Profile is the non-secret metadata of one profile's key.
type Profile struct {
	KeyHint        string     `json:"key_hint"`
	StoredAt       time.Time  `json:"stored_at,omitzero"`
	CreatedAt      *time.Time `json:"created_at"`
	KeyID          *string    `json:"key_id"`
	APIURL         *string    `json:"api_url"`
	Source         string     `json:"source"`
	LastRemindedAt *time.Time `json:"last_reminded_at"`
	// PreviousKeyHint names the key this one replaced, so a user can tell
	// which key to revoke in the dashboard.
	PreviousKeyHint string `json:"previous_key_hint,omitempty"`
}

// AgeFrom is when the rotation clock started: the server's created_at when
// known, else when the key was stored.
func (p Profile) AgeFrom() time.Time {
	if p.CreatedAt != nil && !p.CreatedAt.IsZero() {
		return *p.CreatedAt
	}
	return p.StoredAt
}

// State is the whole of state.json.
type State struct {
	Version  int                 `json:"version"`
	Profiles map[string]*Profile `json:"profiles"`
	// ConfigProfile is the profile config.json's key belongs to when it is
	// not "default" (daemon --profile; never an import).
	ConfigProfile string `json:"config_profile,omitempty"`
	// Policies say who may receive each profile's key (policy.go); a
	// profile with none is open.
	Policies map[string]Policy `json:"policies,omitempty"`
	// Endpoint is the local endpoint's port, its tokens' hashes and the
	// URL config.json named before it named the endpoint (endpoint.go).
	Endpoint *Endpoint `json:"endpoint,omitempty"`
	// Displaced names, per profile, the keys other keys replaced, oldest
	// first, each kept in the keychain until the user forgets it
	// (displaced.go). Apart from Profiles: logout keeps them.
	Displaced map[string][]DisplacedKey `json:"displaced,omitempty"`
	// Stores names, per profile, where its key lives when not in this
	// machine's keychain (stores.go): addresses and file names, never a
	// token or a key. Apart from Profiles: logout keeps them.
	Stores map[string]StoreSpec `json:"stores,omitempty"`
}

// ConfigOwner is the profile config.json's key belongs to.
func (s *State) ConfigOwner() string {
	if s.ConfigProfile == "" || CheckProfile(s.ConfigProfile) != nil {
		return DefaultProfile
	}
	return s.ConfigProfile
}

// Names lists the profiles in order.
func (s *State) Names() []string {
	names := make([]string, 0, len(s.Profiles))
	for n := range s.Profiles {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// StateFile is state.json in its directory. Writers take a lock file so the
// daemon and a CLI never lose each other's updates.
type StateFile struct {
	Dir string
	// lockWait replaces stateLockWait (tests).
	lockWait time.Duration
}

// Path is the file's location.
func (f StateFile) Path() string { return filepath.Join(f.Dir, "state.json") }

// Load reads the metadata; a missing file is an empty state. It is read
// through safefile.Open: the directory and the file must pass the trust
// rules, and only a regular file of at most maxStateSize is read, so a FIFO
// or device at the path is refused at once, never waited on.
func (f StateFile) Load() (*State, error) {
	b, err := safefile.ReadFile(f.Path(), safefile.Options{MaxSize: maxStateSize})
	if errors.Is(err, fs.ErrNotExist) {
		return &State{Version: stateVersion, Profiles: map[string]*Profile{}}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the metadata: %w", err)
	}
	return ParseState(b)
}

// ParseState decodes state.json, refusing what it cannot safely rewrite.
func ParseState(b []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("metadata file is not valid JSON (%v); move it aside and run torale-cred login again", err)
	}
	if s.Version > stateVersion {
		return nil, fmt.Errorf("metadata file has version %d, newer than this torale-cred understands (%d); upgrade torale-cred", s.Version, stateVersion)
	}
	s.Version = stateVersion
	if s.Profiles == nil {
		s.Profiles = map[string]*Profile{}
	}
	for n, p := range s.Profiles {
		switch {
		case p == nil:
			delete(s.Profiles, n)
		case p.Source == SourceConfig && p.APIURL != nil:
			// Written by a migration before migrations stopped setting the
			// profile's URL: config.json's api_url stays config.json's, and
			// once it names none, no answer may name this one.
			p.APIURL = nil
		}
	}
	return &s, nil
}

// stateLockWait bounds how long a writer (login, a migration, the
// reminder) waits for another process's hold on state.lock: long enough
// for any honest update, then it fails naming the lock file.
const stateLockWait = 5 * time.Second

// stateMu queues this process's own writers: flock is per open file, so
// goroutines would otherwise poll against each other, unfairly, and could
// give up on a lock only their own process held.
var stateMu sync.Mutex

// Update applies fn to the state under the lock and writes it atomically.
// It waits at most stateLockWait (f.lockWait in tests) for another
// process's hold on state.lock; then it fails with filelock.ErrBusy.
func (f StateFile) Update(fn func(*State) error) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return fmt.Errorf("creating the metadata directory: %w", err)
	}
	stateMu.Lock()
	defer stateMu.Unlock()
	wait := stateLockWait
	if f.lockWait > 0 {
		wait = f.lockWait
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	unlock, err := filelock.Lock(ctx, filepath.Join(f.Dir, "state.lock"))
	if err != nil {
		return fmt.Errorf("locking the metadata: %w", err)
	}
	defer unlock()
	s, err := f.Load()
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		return err
	}
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding metadata: %w", err)
	}
	return atomicfile.Write(f.Path(), append(b, '\n'), 0o600)
}
