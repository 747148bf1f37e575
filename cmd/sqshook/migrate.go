// This file owns the migrate command: creating or upgrading the tables of
// the PostgreSQL store (sqshook.MigratePostgres) that a fleet of servers
// shares, as an explicit step before they start.

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook"
)

func runMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", `Create sqshook's PostgreSQL tables (the events and their copies that a fleet
of dispatchers shares, see sqshook.WithPostgres) or upgrade them to this
version's schema, once, under an advisory lock. Servers never change the
schema themselves: run this before starting a new version.`, stderr)
	url := fs.String("postgres", "", "URL of the PostgreSQL database (required), e.g. \"$DATABASE_URL\"")
	schema := fs.String("schema", "", "schema that holds the tables (created if needed); default: the connection's search_path")
	timeout := fs.Duration("timeout", time.Minute, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *timeout <= 0 {
		return usagef("-timeout %v: want a positive duration", *timeout)
	}
	if *url == "" {
		return usagef("-postgres is required")
	}
	// The URL may hold a password: errors name the database, not the URL.
	cfg, err := pgxpool.ParseConfig(*url)
	if err != nil {
		return errors.New("-postgres: not a PostgreSQL URL or connection string")
	}
	where := fmt.Sprintf("database %q on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("-postgres: %s: %w", where, err)
	}
	defer pool.Close()
	if err := sqshook.MigratePostgres(ctx, pool, sqshook.PostgresOptions{Schema: *schema}); err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	if *schema != "" {
		where += fmt.Sprintf(", schema %q", *schema)
	}
	fmt.Fprintf(stdout, "%s: schema version %d\n", where, sqshook.PostgresSchemaVersion)
	return nil
}
