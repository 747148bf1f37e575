// replay_test.go tests the replay command: its flags and the copies it
// inserts.

package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqshook/sqshook/internal/pgtest"
)

func TestReplayUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"replay", "-hook", "h", "-since", "2026-01-02T15:04:05Z"}, "-postgres is required"},
		{[]string{"replay", "-postgres", "postgres://x/y", "-since", "2026-01-02T15:04:05Z"}, "-hook is required"},
		{[]string{"replay", "-postgres", "postgres://x/y", "-hook", "h"}, "-since is required"},
		{[]string{"replay", "-postgres", "postgres://x/y", "-hook", "h", "-since", "yesterday"}, "-since: not an RFC 3339 time"},
		{[]string{"replay", "-postgres", "postgres://x/y", "-hook", "h", "-since", "2026-01-02T15:04:05Z", "-tenant", "a b"}, "-tenant:"},
	} {
		var out, errb bytes.Buffer
		if code := run(context.Background(), c.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) {
			t.Errorf("%v: exit %d, stderr %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

// TestReplayInsertsCopies runs "sqshook replay" on a migrated schema with
// two events of a tenant's hook, one before -since: one replay copy, of
// the later event, is inserted.
func TestReplayInsertsCopies(t *testing.T) {
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url, "sqshook_replay_test_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	var out, errb bytes.Buffer
	if code := run(ctx, []string{"migrate", "-postgres", url, "-schema", schema}, &out, &errb); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errb.String())
	}
	var hook int64
	if err := conn.QueryRow(ctx, "INSERT INTO "+schema+".sqshook_hook (tenant, hook_id) VALUES ('acme', 'h') RETURNING id").Scan(&hook); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO "+schema+".sqshook_event (tenant, type, event_id, body, created_at, hooks) VALUES "+
		"('acme', 't', 'old', 'x', '2026-01-01T00:00:00Z', ARRAY[$1::bigint]), ('acme', 't', 'new', 'x', '2026-01-03T00:00:00Z', ARRAY[$1::bigint])", hook); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	args := []string{"replay", "-postgres", url, "-schema", schema, "-tenant", "acme", "-hook", "h", "-since", "2026-01-02T00:00:00Z"}
	if code := run(ctx, args, &out, &errb); code != 0 {
		t.Fatalf("replay: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(out.String(), "1 events queued") || strings.Contains(out.String()+errb.String(), "postgres://") {
		t.Fatalf("stdout %q", out.String())
	}
	var id string
	if err := conn.QueryRow(ctx, "SELECT e.event_id FROM "+schema+".sqshook_copy c JOIN "+schema+".sqshook_event e ON e.id = c.event WHERE c.replay AND c.hook = $1", hook).Scan(&id); err != nil || id != "new" {
		t.Fatalf("replay copy of %q (%v), want the one of \"new\"", id, err)
	}
	// Another tenant's hook of that id is unknown.
	errb.Reset()
	args[6] = "umbrella"
	if code := run(ctx, args, &out, &errb); code != 1 || !strings.Contains(errb.String(), "unknown hook") || !strings.Contains(errb.String(), `tenant "umbrella" has no hook`) {
		t.Fatalf("replay of another tenant's hook: exit %d, %q", code, errb.String())
	}
}
