// This file owns where hook lists are kept: the Store interface a chat
// server implements with its own database (and TenantLocker, for a Store a
// fleet shares), and two embedded defaults, in memory and in one JSON
// file.

package streamapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sync"
)

// Store keeps each app's event_hooks array: one JSON object per hook, every
// field as the customer sent it (other hook kinds and unknown fields
// included), ids filled in, credentials in clear (a server should encrypt
// them at rest). Load returns an empty list for an app it does not know.
// Save replaces the list whole and must either store all of it or nothing.
// The Handler serialises the calls for one app; calls for different apps
// may run concurrently.
type Store interface {
	Load(ctx context.Context, tenant string) ([]json.RawMessage, error)
	Save(ctx context.Context, tenant string, hooks []json.RawMessage) error
}

// TenantLocker is implemented by a Store that several processes share (a
// fleet of servers). For each update of an app the Handler calls
// LockTenant, loads and saves through the Store it returns, applies, and
// calls unlock: the update's read-modify-write is then atomic across every
// process, not only within this one. PostgresStore implements it.
type TenantLocker interface {
	LockTenant(ctx context.Context, tenant string) (locked Store, unlock func(), err error)
}

// MemoryStore is a Store in memory. Its zero value is not usable; call
// NewMemoryStore. It is safe for concurrent use.
type MemoryStore struct {
	mu sync.RWMutex
	m  map[string][]json.RawMessage
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore { return &MemoryStore{m: make(map[string][]json.RawMessage)} }

// Load implements Store.
func (s *MemoryStore) Load(_ context.Context, tenant string) ([]json.RawMessage, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return cloneList(s.m[tenant]), nil
}

// Save implements Store.
func (s *MemoryStore) Save(_ context.Context, tenant string, hooks []json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.m[tenant] = cloneList(hooks)
	return nil
}

func cloneList(l []json.RawMessage) []json.RawMessage {
	out := make([]json.RawMessage, len(l))
	for i, r := range l {
		out[i] = slices.Clone(r)
	}
	return out
}

// FileStore is a Store in one JSON file, {"<tenant>": [hooks…], …}, written
// whole to a temporary file (mode 0600: it holds secrets) and renamed over
// the old one, so a crash leaves the old or the new file, never half of one.
// It suits a demo or a single small server; it is safe for concurrent use
// within one process.
type FileStore struct {
	path string
	mu   sync.Mutex
}

// NewFileStore returns a FileStore kept at path; the file need not exist.
func NewFileStore(path string) *FileStore { return &FileStore{path: path} }

func (s *FileStore) read() (map[string][]json.RawMessage, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string][]json.RawMessage{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string][]json.RawMessage{}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("streamapi: %s: %w", s.path, err)
	}
	return m, nil
}

// Load implements Store.
func (s *FileStore) Load(_ context.Context, tenant string) ([]json.RawMessage, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.read()
	if err != nil {
		return nil, err
	}
	return cloneList(m[tenant]), nil
}

// Save implements Store.
func (s *FileStore) Save(_ context.Context, tenant string, hooks []json.RawMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.read()
	if err != nil {
		return err
	}
	m[tenant] = cloneList(hooks)
	data, err := json.Marshal(m)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".hooks-*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // after a successful rename: no such file
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), s.path)
}
