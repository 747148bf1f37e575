// demopostgres_test.go tests the fleet demo (demo -postgres) against a
// real PostgreSQL server: its exit status and its summary, and that the
// summary fails when a queue loses messages.

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// demoPGURL returns the test database's URL and a schema of the test's
// own, dropped at cleanup: failing in CI without SQSHOOK_POSTGRES_URL,
// skipping (loudly) elsewhere.
func demoPGURL(t *testing.T) (url, schema string) {
	t.Helper()
	url = os.Getenv("SQSHOOK_POSTGRES_URL")
	if url == "" {
		msg := "SQSHOOK_POSTGRES_URL is not set: this test needs a PostgreSQL database"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema = "sqshook_demo_test_" + hex.EncodeToString(b)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, url)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return url, schema
}

// lostRow is a line of the demo's per-hook table: hook, copies published,
// received, duplicates, dead letters, lost.
var lostRow = regexp.MustCompile(`(?m)^\s*(all-events|messages|moderation)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$`)

// TestDemoPostgresFleet runs "demo -postgres" (the URL from DATABASE_URL)
// with three instances, one of them cut off a third of the way in: it
// exits 0, the schema was migrated, another instance took the stopped
// one's hooks over, and each queue received every copy published.
func TestDemoPostgresFleet(t *testing.T) {
	url, schema := demoPGURL(t)
	t.Setenv("DATABASE_URL", url)
	code, out, errOut := runCmd(t, "demo", "-postgres", "-schema", schema, "-instances", "3", "-duration", "2s", "-rate", "300",
		"-lease", "500ms", "-latency", "1ms", "-progress", "500ms")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"ran sqshook.MigratePostgres", "3 instances (demo-1, demo-2, demo-3)", "stop: demo-",
		"delivery: OK — 0 lost"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`takeover: \S+ taken over by demo-\d [0-9.]+m?s after demo-\d stopped`).MatchString(out) {
		t.Errorf("output names no takeover:\n%s", out)
	}
	rows := lostRow.FindAllStringSubmatch(out, -1)
	if len(rows) != 3 {
		t.Fatalf("per-hook table has %d rows, want 3:\n%s", len(rows), out)
	}
	for _, r := range rows {
		if r[2] == "0" || r[2] != r[3] || r[6] != "0" {
			t.Errorf("hook %s: %s copies published, %s received, %s lost:\n%s", r[1], r[2], r[3], r[6], out)
		}
	}
	if strings.Contains(out, "postgres://") || strings.Contains(out, "demo-secret-not-real") {
		t.Errorf("output shows the URL or a secret:\n%s", out)
	}
}

// TestDemoPostgresFailsOnLoss runs the demo with SQS clients that
// acknowledge five entries without sending them: the demo must count them
// lost and exit 1.
func TestDemoPostgresFailsOnLoss(t *testing.T) {
	url, schema := demoPGURL(t)
	demoDropEntries.Store(5)
	t.Cleanup(func() { demoDropEntries.Store(0) })
	code, out, errOut := runCmd(t, "demo", "-postgres", url, "-schema", schema, "-instances", "2", "-duration", "1s", "-rate", "200",
		"-lease", "500ms", "-latency", "1ms", "-progress", "500ms")
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "delivery: FAILED — 5 lost") {
		t.Errorf("output does not count 5 lost:\n%s", out)
	}
}

func TestDemoPostgresNeedsURL(t *testing.T) {
	t.Setenv("DATABASE_URL", "")
	code, _, errOut := runCmd(t, "demo", "-postgres", "-duration", "1s")
	if code != 2 || !strings.Contains(errOut, "$DATABASE_URL, which is not set") {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
}
