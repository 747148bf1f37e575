package streamapi_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

// Options that differ between apps, such as each app's ExternalId, reach
// only that app's dispatcher: a role hook is valid for the app that has an
// ExternalId, and refused for the one that has none.
func TestDispatchersFuncGivesEachAppItsOptions(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	var mu sync.Mutex
	var asked []string
	ds := streamapi.NewDispatchersFunc(func(tenant string) []sqshook.Option {
		mu.Lock()
		asked = append(asked, tenant)
		mu.Unlock()
		opts := []sqshook.Option{sqshook.WithEndpoint(srv.URL())}
		if tenant == "tenant-a" {
			opts = append(opts, sqshook.WithExternalID("external-id-of-a"))
		}
		return opts
	})
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := ds.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	role := sqshook.Hook{
		Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: srv.CreateQueue("roles", nil), SQSRegion: sqstest.Region,
		SQSAuthType: sqshook.AuthRole, SQSRoleARN: "arn:aws:iam::" + sqstest.AccountID + ":role/sender",
	}
	ctx := context.Background()
	if err := ds.ApplyHooks(ctx, "tenant-a", []sqshook.Hook{role}); err != nil {
		t.Fatalf("role hook of the app with an ExternalId: %v", err)
	}
	if err := ds.ApplyHooks(ctx, "tenant-b", []sqshook.Hook{role}); err == nil {
		t.Fatalf("role hook of the app without an ExternalId was accepted: it got another app's options")
	}
	// Options are asked for once per app, when its dispatcher is created.
	if err := ds.ApplyHooks(ctx, "tenant-a", nil); err != nil {
		t.Fatal(err)
	}
	if want := []string{"tenant-a", "tenant-b"}; !slices.Equal(asked, want) {
		t.Errorf("options asked for %v, want %v", asked, want)
	}
}
