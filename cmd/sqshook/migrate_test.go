package main

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/pgtest"
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
	url := pgtest.URL(t)
	schema := pgtest.Schema(t, url, "sqshook_migrate_test_")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
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
