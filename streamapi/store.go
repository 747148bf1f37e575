// This file owns where hook lists are kept: the Store interface a chat
// server implements with its own database (and TenantLocker, for a Store a
// fleet shares), and two embedded defaults, in memory and in one JSON
// file, which keep each app's AppSettings too (SettingsStore).

package streamapi

import (
	"bytes"
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
	mu       sync.RWMutex
	m        map[string][]json.RawMessage
	settings map[string]AppSettings
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore() *MemoryStore {
	return &MemoryStore{m: make(map[string][]json.RawMessage), settings: make(map[string]AppSettings)}
}

// LoadSettings implements SettingsStore.
func (s *MemoryStore) LoadSettings(_ context.Context, tenant string) (AppSettings, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.settings[tenant], nil
}

// SaveSettings implements SettingsStore.
func (s *MemoryStore) SaveSettings(_ context.Context, tenant string, a AppSettings) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.settings[tenant] = a
	return nil
}

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

// FileStore is a Store and SettingsStore in one JSON file,
// {"<tenant>": [hooks…], …} (an app with settings:
// {"<tenant>": {"event_hooks": [hooks…], "settings": {…}}}), written
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

// fileEntry is one app in a FileStore's file: its hook list alone (a JSON
// array), or an object with its hooks and its settings.
type fileEntry struct {
	Hooks    []json.RawMessage `json:"event_hooks"`
	Settings AppSettings       `json:"settings"`
}

func (e *fileEntry) UnmarshalJSON(b []byte) error {
	if t := bytes.TrimSpace(b); len(t) > 0 && t[0] == '[' {
		return json.Unmarshal(b, &e.Hooks)
	}
	type plain fileEntry
	return json.Unmarshal(b, (*plain)(e))
}

func (e fileEntry) MarshalJSON() ([]byte, error) {
	hooks := e.Hooks
	if hooks == nil {
		hooks = []json.RawMessage{}
	}
	if e.Settings == (AppSettings{}) {
		return json.Marshal(hooks)
	}
	return json.Marshal(struct {
		Hooks    []json.RawMessage `json:"event_hooks"`
		Settings AppSettings       `json:"settings"`
	}{hooks, e.Settings})
}

func (s *FileStore) read() (map[string]fileEntry, error) {
	data, err := os.ReadFile(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]fileEntry{}, nil
	}
	if err != nil {
		return nil, err
	}
	m := map[string]fileEntry{}
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
	return cloneList(m[tenant].Hooks), nil
}

// Save implements Store.
func (s *FileStore) Save(_ context.Context, tenant string, hooks []json.RawMessage) error {
	return s.update(func(e *fileEntry) { e.Hooks = cloneList(hooks) }, tenant)
}

// LoadSettings implements SettingsStore.
func (s *FileStore) LoadSettings(_ context.Context, tenant string) (AppSettings, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.read()
	if err != nil {
		return AppSettings{}, err
	}
	return m[tenant].Settings, nil
}

// SaveSettings implements SettingsStore.
func (s *FileStore) SaveSettings(_ context.Context, tenant string, a AppSettings) error {
	return s.update(func(e *fileEntry) { e.Settings = a }, tenant)
}

// update changes tenant's entry with fn and writes the file.
func (s *FileStore) update(fn func(*fileEntry), tenant string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, err := s.read()
	if err != nil {
		return err
	}
	e := m[tenant]
	fn(&e)
	m[tenant] = e
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
