// This file owns serve's -postgres: the hooks kept in a PostgreSQL
// database that several servers share, each kept in step by a
// streamapi.Fleet.

package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/sqshook/sqshook/streamapi"
)

// serveFleet is the PostgresStore with the Fleet that applies its changes.
type serveFleet struct {
	*streamapi.PostgresStore
	fleet *streamapi.Fleet
}

// startFleet connects to the database, creates the table unless it exists,
// and runs a Fleet that applies every app's hooks through applier; it
// returns once the stored hooks are applied. stop ends the Fleet and
// closes the pool.
func startFleet(ctx context.Context, url string, applier streamapi.Applier, logger *slog.Logger) (*serveFleet, func(), error) {
	// The URL may hold a password: errors name the database, not the URL.
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, nil, errors.New("-postgres: not a PostgreSQL URL or connection string")
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, nil, fmt.Errorf("-postgres: %w", err)
	}
	where := fmt.Sprintf("database %q on %s:%d", cfg.ConnConfig.Database, cfg.ConnConfig.Host, cfg.ConnConfig.Port)
	mctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := streamapi.MigratePostgres(mctx, pool, streamapi.PostgresOptions{}); err != nil {
		pool.Close()
		return nil, nil, fmt.Errorf("-postgres: %s: %w", where, err)
	}
	store := streamapi.NewPostgresStore(pool, streamapi.PostgresOptions{})
	fleet := streamapi.NewFleet(store, applier, streamapi.FleetOptions{Logger: logger})
	runCtx, stopRun := context.WithCancel(context.WithoutCancel(ctx))
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fleet.Run(runCtx)
	}()
	stop := func() {
		stopRun()
		<-done
		pool.Close()
	}
	select {
	case <-fleet.Ready():
	case <-mctx.Done():
		stop()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		return nil, nil, fmt.Errorf("-postgres: %s: the stored hooks could not be read and applied within 30 s", where)
	}
	return &serveFleet{PostgresStore: store, fleet: fleet}, stop, nil
}
