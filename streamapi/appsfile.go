// This file owns AppsFile: the apps of a server kept in one JSON file,
// read again whenever the file changes, so that apps are added, removed
// and their secrets rotated without a restart.

package streamapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/sqshook/sqshook"
)

// Bounds of an apps file.
const (
	// MaxAppsFileBytes is the largest apps file read: 64 MiB, some
	// hundreds of thousands of apps.
	MaxAppsFileBytes = 64 << 20
	// MaxAPIKeyLen is the longest api key accepted, in bytes.
	MaxAPIKeyLen = 256
	// MaxAPISecretLen is the longest api secret accepted, in bytes.
	MaxAPISecretLen = 1024
)

// AppsFile is an Apps kept in a JSON file that lists the apps,
//
//	[{"api_key": "…", "api_secret": "…", "tenant": "…"}, …]
//
// "tenant" is optional (default: the api key) and must meet sqshook's rule
// of tenant ids (sqshook.ValidateTenantID); api keys are unique; several
// keys may name one tenant (a key being replaced). The file is read again
// on the first Lookup after it changed (its size, modification time or
// inode: replace it by renaming a new file over it, or write it in
// place): an app added works at once, a removed app or a rotated secret is
// refused at once. A file that no longer reads is logged and the apps read
// last are kept. It is safe for concurrent use.
type AppsFile struct {
	path   string
	logger *slog.Logger

	mu    sync.Mutex
	stamp fileStamp
	apps  map[string]App
	// onAdd is called, outside mu, with each tenant that a reload added.
	onAdd func(tenant string)
}

// fileStamp tells one version of a file from another.
type fileStamp struct {
	size  int64
	mtime time.Time
	ino   uint64
}

// appEntry is one app as the file lists it.
type appEntry struct {
	APIKey    string `json:"api_key"`
	APISecret string `json:"api_secret"`
	Tenant    string `json:"tenant"`
}

// NewAppsFile reads the apps file at path and returns it, or an error
// naming every bad entry. logger receives a line when a changed file does
// not read (default slog.Default()).
func NewAppsFile(path string, logger *slog.Logger) (*AppsFile, error) {
	if logger == nil {
		logger = slog.Default()
	}
	f := &AppsFile{path: path, logger: logger}
	st, apps, err := readAppsFile(path)
	if err != nil {
		return nil, err
	}
	f.stamp, f.apps = st, apps
	return f, nil
}

// OnAdd sets fn to be called with each tenant that appears when the file
// is read again (for example to Restore its stored hooks). fn runs in the
// request that noticed the change, before its Lookup returns.
func (f *AppsFile) OnAdd(fn func(tenant string)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.onAdd = fn
}

// Lookup implements Apps.
func (f *AppsFile) Lookup(_ context.Context, apiKey string) (App, bool) {
	apps := f.current()
	a, ok := apps[apiKey]
	return a, ok
}

// Tenants returns the tenants of the apps listed, sorted, reading the file
// again first when it changed.
func (f *AppsFile) Tenants() []string {
	apps := f.current()
	var out []string
	for _, a := range apps {
		out = append(out, a.Tenant)
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// current returns the apps, reading the file again when it changed.
func (f *AppsFile) current() map[string]App {
	f.mu.Lock()
	st, err := stampOf(f.path)
	if err != nil || st == f.stamp {
		apps := f.apps
		f.mu.Unlock()
		if err != nil {
			f.logger.Warn("streamapi: the apps file cannot be read; keeping the apps read last", "err", err)
		}
		return apps
	}
	st, apps, err := readAppsFile(f.path)
	if err != nil {
		f.stamp = st // logged once per version of the file
		old := f.apps
		f.mu.Unlock()
		f.logger.Warn("streamapi: the apps file changed and does not read; keeping the apps read last", "err", err)
		return old
	}
	known := make(map[string]bool, len(f.apps))
	for _, a := range f.apps {
		known[a.Tenant] = true
	}
	var added []string
	for _, a := range apps {
		if !known[a.Tenant] {
			known[a.Tenant] = true
			added = append(added, a.Tenant)
		}
	}
	f.stamp, f.apps = st, apps
	onAdd := f.onAdd
	f.mu.Unlock()
	if onAdd != nil {
		sort.Strings(added)
		for _, t := range added {
			onAdd(t)
		}
	}
	return apps
}

func stampOf(path string) (fileStamp, error) {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{size: info.Size(), mtime: info.ModTime(), ino: inode(info)}, nil
}

// readAppsFile reads and checks the file; the stamp is that of the file
// read (taken from the open file, so a file replaced meanwhile is read
// again next time).
func readAppsFile(path string) (fileStamp, map[string]App, error) {
	fh, err := os.Open(path)
	if err != nil {
		return fileStamp{}, nil, err
	}
	defer fh.Close()
	info, err := fh.Stat()
	if err != nil {
		return fileStamp{}, nil, err
	}
	st := fileStamp{size: info.Size(), mtime: info.ModTime(), ino: inode(info)}
	data, err := io.ReadAll(io.LimitReader(fh, MaxAppsFileBytes+1))
	if err != nil {
		return st, nil, err
	}
	if len(data) > MaxAppsFileBytes {
		return st, nil, fmt.Errorf("streamapi: apps file %s: larger than %d bytes", path, MaxAppsFileBytes)
	}
	apps, err := parseApps(data)
	if err != nil {
		return st, nil, fmt.Errorf("streamapi: apps file %s: %w", path, err)
	}
	return st, apps, nil
}

// parseApps reads an apps file's contents; the errors name entries by
// index and api key, never by secret.
func parseApps(data []byte) (map[string]App, error) {
	var entries []appEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("want a JSON array of {\"api_key\", \"api_secret\", \"tenant\"} objects: %w", err)
	}
	apps := make(map[string]App, len(entries))
	var errs []error
	for i, e := range entries {
		bad := func(format string, args ...any) {
			errs = append(errs, fmt.Errorf("apps[%d]: "+format, append([]any{i}, args...)...))
		}
		switch {
		case e.APIKey == "":
			bad("api_key: required")
			continue
		case len(e.APIKey) > MaxAPIKeyLen:
			bad("api_key: longer than %d bytes", MaxAPIKeyLen)
			continue
		}
		if _, dup := apps[e.APIKey]; dup {
			bad("api_key %q: listed twice", e.APIKey)
		}
		switch {
		case e.APISecret == "":
			bad("api_key %q: api_secret: required", e.APIKey)
		case len(e.APISecret) > MaxAPISecretLen:
			bad("api_key %q: api_secret: longer than %d bytes", e.APIKey, MaxAPISecretLen)
		}
		tenant := e.Tenant
		if tenant == "" {
			tenant = e.APIKey
		}
		if err := sqshook.ValidateTenantID(tenant); err != nil {
			bad("api_key %q: tenant: %v", e.APIKey, err)
		}
		apps[e.APIKey] = App{Tenant: tenant, Secret: []byte(e.APISecret)}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return apps, nil
}
