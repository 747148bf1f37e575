package streamapi_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/sqshook/sqshook/streamapi"
)

func TestStores(t *testing.T) {
	dir := t.TempDir()
	for _, c := range []struct {
		name  string
		store streamapi.Store
	}{{"memory", streamapi.NewMemoryStore()}, {"file", streamapi.NewFileStore(filepath.Join(dir, "hooks.json"))}} {
		t.Run(c.name, func(t *testing.T) {
			ctx := context.Background()
			got, err := c.store.Load(ctx, "nobody")
			if err != nil || len(got) != 0 {
				t.Fatalf("Load of an unknown app = %v, %v; want empty, nil", got, err)
			}
			list := []json.RawMessage{json.RawMessage(`{"id":"a"}`), json.RawMessage(`{"id":"b"}`)}
			if err := c.store.Save(ctx, "t1", list); err != nil {
				t.Fatal(err)
			}
			if err := c.store.Save(ctx, "t2", list[:1]); err != nil {
				t.Fatal(err)
			}
			list[0][2] = 'X' // the store keeps its own copy
			got, err = c.store.Load(ctx, "t1")
			if err != nil || len(got) != 2 || string(got[0]) != `{"id":"a"}` {
				t.Fatalf("Load(t1) = %s, %v", got, err)
			}
			if got, _ := c.store.Load(ctx, "t2"); len(got) != 1 {
				t.Fatalf("Load(t2) = %s, want one hook", got)
			}
		})
	}
	info, err := os.Stat(filepath.Join(dir, "hooks.json"))
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("hooks file mode %v, want 0600 (it holds secrets)", info.Mode().Perm())
	}
	// A second FileStore reads what the first wrote.
	got, err := streamapi.NewFileStore(filepath.Join(dir, "hooks.json")).Load(context.Background(), "t1")
	if err != nil || len(got) != 2 {
		t.Errorf("reopened file store: %s, %v", got, err)
	}
	// A damaged file is an error, not an empty list.
	bad := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(bad, []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := streamapi.NewFileStore(bad).Load(context.Background(), "t1"); err == nil {
		t.Errorf("Load of a damaged file: no error")
	}
}
