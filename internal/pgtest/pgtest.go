// Package pgtest is the PostgreSQL set-up the tests of the PostgreSQL
// store share (the root package, streamapi, cmd/sqshook): the test
// database's URL from SQSHOOK_POSTGRES_URL (failing in CI without it,
// skipping loudly elsewhere), a fresh schema or database per test dropped
// at cleanup, pools closed at cleanup, and a pool that reaches the
// database through a proxy the test can cut (faultnet.Proxy). It imports
// nothing of sqshook, so that any of its tests may use it.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook/internal/faultnet"
)

// EnvURL names the variable with the URL of a PostgreSQL database the
// tests may create schemas (and databases) in.
const EnvURL = "SQSHOOK_POSTGRES_URL"

// setupTimeout bounds each statement of the set-up and the cleanup.
const setupTimeout = 30 * time.Second

// URL returns the test database's URL: failing in CI, skipping (loudly,
// on stderr) elsewhere when there is none.
func URL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		msg := EnvURL + " is not set: these tests need a PostgreSQL database (scripts/test.sh finds or starts one)"
		if os.Getenv("CI") != "" {
			tb.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "WARNING: "+msg)
		tb.Skip(msg)
	}
	return u
}

// Name returns prefix followed by 12 random hex digits: a schema or
// database name no other test uses.
func Name(prefix string) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

// Schema names a fresh schema (prefix and random digits) without
// creating it (a migration does), and drops it, if it exists, at cleanup.
func Schema(tb testing.TB, dbURL, prefix string) string {
	tb.Helper()
	schema := Name(prefix)
	tb.Cleanup(func() {
		if err := exec(dbURL, "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	return schema
}

// CreateSchema is Schema, the schema created now.
func CreateSchema(tb testing.TB, dbURL, prefix string) string {
	tb.Helper()
	schema := Schema(tb, dbURL, prefix)
	if err := exec(dbURL, "CREATE SCHEMA "+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("creating schema: %v", err)
	}
	return schema
}

// SearchPath returns dbURL with its search_path set to schema.
func SearchPath(tb testing.TB, dbURL, schema string) string {
	tb.Helper()
	u, err := url.Parse(dbURL)
	if err != nil {
		tb.Fatalf("%s is not a URL: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Database creates a database for the test alone (so that no other
// test's transaction holds back its VACUUM), dropped at cleanup, and
// returns its URL.
func Database(tb testing.TB, dbURL, prefix string) string {
	tb.Helper()
	name := Name(prefix)
	if err := exec(dbURL, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		tb.Fatalf("creating a database: %v", err)
	}
	tb.Cleanup(func() {
		if err := exec(dbURL, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			tb.Errorf("dropping database %s: %v", name, err)
		}
	})
	u, err := url.Parse(dbURL)
	if err != nil || u.Scheme == "" {
		// A keyword/value connection string: the last dbname counts.
		return dbURL + " dbname=" + name
	}
	u.Path = "/" + name
	return u.String()
}

// Pool returns a pool on dbURL, closed at cleanup.
func Pool(tb testing.TB, dbURL string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), dbURL)
	if err != nil {
		tb.Fatalf("pgxpool.New: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// ProxiedPool returns a pool on dbURL whose connections go through a
// proxy of the test's (closed at cleanup), and the proxy: cutting it
// drops every connection and refuses new ones until it is restored.
func ProxiedPool(tb testing.TB, dbURL string) (*pgxpool.Pool, *faultnet.Proxy) {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(dbURL)
	if err != nil {
		tb.Fatalf("%s: %v", EnvURL, err)
	}
	px := faultnet.NewProxy(tb, net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))))
	host, port, _ := net.SplitHostPort(px.Addr())
	p, _ := strconv.Atoi(port)
	cfg.ConnConfig.Host, cfg.ConnConfig.Port = host, uint16(p)
	cfg.ConnConfig.Fallbacks = nil
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatalf("pgxpool.NewWithConfig: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool, px
}

// Migrate runs migrate (the package's migration on pool) with a bound,
// failing the test when it fails.
func Migrate(tb testing.TB, migrate func(ctx context.Context) error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	if err := migrate(ctx); err != nil {
		tb.Fatalf("migrating the test's schema: %v", err)
	}
}

// exec runs one statement on a connection of its own to dbURL.
func exec(dbURL, sql string) error {
	ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, sql)
	return err
}
