package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqshook/sqshook"
)

func TestMigrateNeedsPostgres(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"migrate"}, &out, &errb); code != 2 {
		t.Fatalf("migrate without -postgres: exit %d (%s), want 2", code, errb.String())
	}
	if !strings.Contains(errb.String(), "-postgres is required") {
		t.Fatalf("stderr %q", errb.String())
	}
}

// TestMigrateCreatesSchema runs "sqshook migrate" twice on a schema of its
// own: the tables are made once, at PostgresSchemaVersion.
func TestMigrateCreatesSchema(t *testing.T) {
	url := os.Getenv("SQSHOOK_POSTGRES_URL")
	if url == "" {
		msg := "SQSHOOK_POSTGRES_URL is not set: this test needs a PostgreSQL database"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	schema := "sqshook_migrate_test_" + hex.EncodeToString(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	t.Cleanup(func() { _, _ = conn.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	for range 2 {
		var out, errb bytes.Buffer
		if code := run(ctx, []string{"migrate", "-postgres", url, "-schema", schema}, &out, &errb); code != 0 {
			t.Fatalf("migrate: exit %d: %s", code, errb.String())
		}
		if !strings.Contains(out.String(), fmt.Sprintf("schema version %d", sqshook.PostgresSchemaVersion)) || strings.Contains(out.String(), "postgres://") {
			t.Fatalf("stdout %q", out.String())
		}
	}
	var v int
	if err := conn.QueryRow(ctx, "SELECT version FROM "+schema+".sqshook_schema").Scan(&v); err != nil || v != sqshook.PostgresSchemaVersion {
		t.Fatalf("version %d, %v", v, err)
	}
}
