package streamapi_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sqshook/sqshook/streamapi"
)

// TestAppsFileRefusesBadEntries: every bad entry is named by index and api
// key, and no secret appears in the error.
func TestAppsFileRefusesBadEntries(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	bad := `[{"api_key": "", "api_secret": "s-0000000001"},
		{"api_key": "k1", "api_secret": ""},
		{"api_key": "k2", "api_secret": "s-0000000002", "tenant": "bad tenant!"},
		{"api_key": "k3", "api_secret": "s-0000000003"}, {"api_key": "k3", "api_secret": "s-0000000004"},
		{"api_key": "` + strings.Repeat("k", streamapi.MaxAPIKeyLen+1) + `", "api_secret": "s-0000000005"}]`
	if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := streamapi.NewAppsFile(path, nil)
	if err == nil {
		t.Fatal("a file of bad entries was accepted")
	}
	for _, want := range []string{"apps[0]: api_key: required", `apps[1]: api_key "k1": api_secret: required`,
		`apps[2]: api_key "k2": tenant`, `apps[4]: api_key "k3": listed twice`, "apps[5]: api_key: longer than"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	if strings.Contains(err.Error(), "s-000000000") {
		t.Errorf("the error shows a secret: %v", err)
	}
	if err := os.WriteFile(path, []byte(`[{"api_key": "k", "api_secret": "s"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := streamapi.NewAppsFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if a, ok := f.Lookup(context.Background(), "k"); !ok || a.Tenant != "k" || string(a.Secret) != "s" {
		t.Errorf("Lookup(k) = %v, %v; want the tenant k (the api key by default)", a, ok)
	}
}
