// This file owns the replay command: re-delivering a hook's events kept
// by the PostgreSQL store since a point in time (sqshook.ReplayPostgres),
// for operators.

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

func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("replay", `Re-deliver a hook's events recorded since a point in time and still kept
by the PostgreSQL store (see sqshook.PostgresOptions.Retention), in their
order, each marked with the message attribute sqshook_replay = "1". The
fleet's instance that owns the hook delivers them.`, stderr)
	url := fs.String("postgres", "", "URL of the PostgreSQL database (required), e.g. \"$DATABASE_URL\"")
	schema := fs.String("schema", "", "schema that holds the tables; default: the connection's search_path")
	tenant := fs.String("tenant", "", "the hook's tenant; default: the default tenant")
	hook := fs.String("hook", "", "the hook's id (required)")
	since := fs.String("since", "", "re-deliver the events recorded at or after this time, RFC 3339 (required), e.g. 2026-01-02T15:04:05Z")
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
	if *hook == "" {
		return usagef("-hook is required")
	}
	if *since == "" {
		return usagef("-since is required")
	}
	from, err := time.Parse(time.RFC3339Nano, *since)
	if err != nil {
		return usagef("-since: not an RFC 3339 time (e.g. 2026-01-02T15:04:05Z)")
	}
	if *tenant != "" {
		if err := sqshook.ValidateTenantID(*tenant); err != nil {
			return usagef("-tenant: %v", err)
		}
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
	n, err := sqshook.ReplayPostgres(ctx, pool, sqshook.PostgresOptions{Schema: *schema}, *tenant, *hook, from)
	if errors.Is(err, sqshook.ErrUnknownHook) {
		return fmt.Errorf("%s: tenant %q has no hook %q in this schema: %w", where, *tenant, *hook, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", where, err)
	}
	fmt.Fprintf(stdout, "%d events queued for replay to hook %q\n", n, *hook)
	return nil
}
