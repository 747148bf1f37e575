// This file owns the Store that a fleet of servers shares: PostgresStore,
// one row per app in a PostgreSQL table, with the schema it needs
// (MigratePostgres), the per-app lock across processes that makes a PATCH's
// read-modify-write atomic, and the notification every save sends.

package streamapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of PostgresOptions.
const (
	// DefaultPostgresTable is the table that holds the apps' hook lists.
	DefaultPostgresTable = "sqshook_app_settings"
	// DefaultPostgresChannel is the channel on which every save is
	// announced (NOTIFY) with the app's tenant id as payload.
	DefaultPostgresChannel = "sqshook_settings"
)

// maxNotifyPayload is the longest NOTIFY payload PostgreSQL accepts (its
// payloads must be shorter than 8000 bytes).
const maxNotifyPayload = 7999

// ErrConcurrentUpdate is returned by the Save of a Store locked with
// TenantLocker.LockTenant when another writer changed the app's hooks after
// they were loaded (the lock was lost, for instance with its connection):
// nothing was saved.
var ErrConcurrentUpdate = errors.New("streamapi: the app's hooks were changed by another writer; nothing was saved")

// PostgresOptions configures a PostgresStore and MigratePostgres; give both
// the same. Every zero field takes the default its comment names.
type PostgresOptions struct {
	// Schema holds the table. Default: none given, the connection's
	// search_path decides (usually "public").
	Schema string
	// Table is the table's name. Default DefaultPostgresTable.
	Table string
	// Channel is the channel of the notifications (NOTIFY) sent with every
	// save and listened to by Fleet. Servers that share the table must use
	// the same channel. Default DefaultPostgresChannel.
	Channel string
}

func (o PostgresOptions) withDefaults() PostgresOptions {
	if o.Table == "" {
		o.Table = DefaultPostgresTable
	}
	if o.Channel == "" {
		o.Channel = DefaultPostgresChannel
	}
	return o
}

func (o PostgresOptions) table() string {
	if o.Schema == "" {
		return pgx.Identifier{o.Table}.Sanitize()
	}
	return pgx.Identifier{o.Schema, o.Table}.Sanitize()
}

// MigratePostgres creates the table of a PostgresStore (and its schema,
// when PostgresOptions.Schema names one) unless they exist. It is safe to
// call on every start; NewPostgresStore never changes a schema itself. The
// table holds one row per app:
//
//	tenant      text PRIMARY KEY
//	hooks       json   the event_hooks array, as the Handler stored it
//	version     bigint 1 on the first save, one more on each later one
//	updated_at  timestamptz
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) error {
	opts = opts.withDefaults()
	stmts := []string{}
	if opts.Schema != "" {
		stmts = append(stmts, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{opts.Schema}.Sanitize())
	}
	stmts = append(stmts, "CREATE TABLE IF NOT EXISTS "+opts.table()+` (
	tenant     text PRIMARY KEY,
	hooks      json NOT NULL,
	settings   json NOT NULL DEFAULT '{}',
	version    bigint NOT NULL,
	updated_at timestamptz NOT NULL DEFAULT now()
)`, "ALTER TABLE "+opts.table()+" ADD COLUMN IF NOT EXISTS settings json NOT NULL DEFAULT '{}'")
	for _, s := range stmts {
		if _, err := pool.Exec(ctx, s); err != nil {
			return fmt.Errorf("streamapi: creating the settings table: %w", err)
		}
	}
	return nil
}

// PostgresStore is a Store in a PostgreSQL table (see MigratePostgres)
// that several servers share. Each save of an app's list increases the
// app's version and, in the same transaction, notifies the channel of
// PostgresOptions.Channel with the app's tenant id; a Fleet on each server
// listens and applies the new list to that server's dispatcher.
//
// It implements TenantLocker, so a Handler makes each update (PATCH /app)
// one atomic read-modify-write across the fleet: updates of one app are
// serialised by a PostgreSQL advisory lock, each starts from what the
// previous one stored, and its save is refused (ErrConcurrentUpdate) if
// the version changed since its load. An update that replaces the list
// whole makes that list the app's, the last writer's winning; updates with
// explicit_event_hooks_deletion each change the list as stored, so two of
// them that add a hook each keep both hooks.
//
// An update holds one connection of the pool from its load to its apply,
// so the pool's size bounds how many updates run at once. It is safe for
// concurrent use.
type PostgresStore struct {
	pool *pgxpool.Pool
	opts PostgresOptions

	mu    sync.Mutex
	saved map[string]int64 // tenant → version of this process's last save, for Fleet
}

// NewPostgresStore returns a PostgresStore on pool; the table must exist
// (MigratePostgres).
func NewPostgresStore(pool *pgxpool.Pool, opts PostgresOptions) *PostgresStore {
	return &PostgresStore{pool: pool, opts: opts.withDefaults(), saved: make(map[string]int64)}
}

// querier is what a pool, a connection and a transaction share.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// load returns tenant's list and version; version 0: no row.
func (s *PostgresStore) load(ctx context.Context, q querier, tenant string) ([]json.RawMessage, int64, error) {
	var doc string
	var version int64
	err := q.QueryRow(ctx, "SELECT hooks::text, version FROM "+s.opts.table()+" WHERE tenant = $1", tenant).Scan(&doc, &version)
	if errors.Is(err, pgx.ErrNoRows) {
		return []json.RawMessage{}, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("streamapi: loading hooks: %w", err)
	}
	var hooks []json.RawMessage
	if err := json.Unmarshal([]byte(doc), &hooks); err != nil {
		return nil, 0, fmt.Errorf("streamapi: the stored hooks are not a JSON array: %w", err)
	}
	if hooks == nil {
		hooks = []json.RawMessage{}
	}
	return hooks, version, nil
}

// loadSettings returns tenant's AppSettings (the zero value without a row).
func (s *PostgresStore) loadSettings(ctx context.Context, q querier, tenant string) (AppSettings, error) {
	var doc string
	err := q.QueryRow(ctx, "SELECT settings::text FROM "+s.opts.table()+" WHERE tenant = $1", tenant).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return AppSettings{}, nil
	}
	if err != nil {
		return AppSettings{}, fmt.Errorf("streamapi: loading app settings: %w", err)
	}
	var set AppSettings
	if err := json.Unmarshal([]byte(doc), &set); err != nil {
		return AppSettings{}, fmt.Errorf("streamapi: the stored app settings are not a JSON object: %w", err)
	}
	return set, nil
}

// LoadSettings implements SettingsStore.
func (s *PostgresStore) LoadSettings(ctx context.Context, tenant string) (AppSettings, error) {
	return s.loadSettings(ctx, s.pool, tenant)
}

// SaveSettings implements SettingsStore: like a list, a change of the
// app's settings raises its version and notifies every server, which
// applies the app's hooks in their new encodings.
func (s *PostgresStore) SaveSettings(ctx context.Context, tenant string, set AppSettings) error {
	if len(tenant) > maxNotifyPayload {
		return fmt.Errorf("streamapi: a tenant id of %d bytes is too long for a notification", len(tenant))
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return err
	}
	var version int64
	err = pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "INSERT INTO "+s.opts.table()+` AS t (tenant, hooks, settings, version, updated_at) VALUES ($1, '[]', $2::json, 1, now())
ON CONFLICT (tenant) DO UPDATE SET settings = EXCLUDED.settings, version = t.version + 1, updated_at = now() RETURNING version`,
			tenant, string(doc)).Scan(&version)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.opts.Channel, tenant)
		return err
	})
	if err != nil {
		return fmt.Errorf("streamapi: saving app settings: %w", err)
	}
	s.mu.Lock()
	s.saved[tenant] = version
	s.mu.Unlock()
	return nil
}

// Load implements Store.
func (s *PostgresStore) Load(ctx context.Context, tenant string) ([]json.RawMessage, error) {
	hooks, _, err := s.load(ctx, s.pool, tenant)
	return hooks, err
}

// Save implements Store: the list replaces the stored one whatever its
// version (last writer wins). A Handler saves through LockTenant instead.
func (s *PostgresStore) Save(ctx context.Context, tenant string, hooks []json.RawMessage) error {
	_, err := s.save(ctx, s.pool, tenant, hooks, -1)
	return err
}

// beginner is what a pool and a connection share.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// save stores hooks as tenant's list in one transaction with its
// notification and returns the new version. With expect ≥ 0 the stored
// version must be expect (0: no row), else ErrConcurrentUpdate.
func (s *PostgresStore) save(ctx context.Context, b beginner, tenant string, hooks []json.RawMessage, expect int64) (int64, error) {
	if len(tenant) > maxNotifyPayload {
		return 0, fmt.Errorf("streamapi: a tenant id of %d bytes is too long for a notification", len(tenant))
	}
	if hooks == nil {
		hooks = []json.RawMessage{}
	}
	doc, err := json.Marshal(hooks)
	if err != nil {
		return 0, err
	}
	var sql string
	args := []any{tenant, string(doc)}
	switch {
	case expect < 0:
		sql = "INSERT INTO " + s.opts.table() + ` AS t (tenant, hooks, version, updated_at) VALUES ($1, $2::json, 1, now())
ON CONFLICT (tenant) DO UPDATE SET hooks = EXCLUDED.hooks, version = t.version + 1, updated_at = now() RETURNING version`
	case expect == 0:
		sql = "INSERT INTO " + s.opts.table() + ` (tenant, hooks, version, updated_at) VALUES ($1, $2::json, 1, now())
ON CONFLICT (tenant) DO NOTHING RETURNING version`
	default:
		sql = "UPDATE " + s.opts.table() + ` SET hooks = $2::json, version = version + 1, updated_at = now()
WHERE tenant = $1 AND version = $3 RETURNING version`
		args = append(args, expect)
	}
	var version int64
	err = pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, sql, args...).Scan(&version); err != nil {
			if errors.Is(err, pgx.ErrNoRows) {
				return ErrConcurrentUpdate
			}
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", s.opts.Channel, tenant)
		return err
	})
	if errors.Is(err, ErrConcurrentUpdate) {
		return 0, err
	}
	if err != nil {
		return 0, fmt.Errorf("streamapi: saving hooks: %w", err)
	}
	s.mu.Lock()
	s.saved[tenant] = version
	s.mu.Unlock()
	return version, nil
}

// takeSaved returns and forgets the version of this process's last save of
// tenant.
func (s *PostgresStore) takeSaved(tenant string) (int64, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	v, ok := s.saved[tenant]
	delete(s.saved, tenant)
	return v, ok
}

// versions returns every app's version.
func (s *PostgresStore) versions(ctx context.Context) (map[string]int64, error) {
	rows, err := s.pool.Query(ctx, "SELECT tenant, version FROM "+s.opts.table())
	if err != nil {
		return nil, fmt.Errorf("streamapi: listing versions: %w", err)
	}
	out := make(map[string]int64)
	var tenant string
	var version int64
	_, err = pgx.ForEachRow(rows, []any{&tenant, &version}, func() error {
		out[tenant] = version
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("streamapi: listing versions: %w", err)
	}
	return out, nil
}

// lockKey is the advisory lock key of tenant in this table.
func (s *PostgresStore) lockKey(tenant string) int64 {
	h := fnv.New64a()
	h.Write([]byte("sqshook\x00" + s.opts.Schema + "\x00" + s.opts.Table + "\x00" + tenant))
	return int64(h.Sum64())
}

// LockTenant implements TenantLocker: it takes tenant's advisory lock on a
// connection of the pool, waiting for the holder in any process, and
// returns a Store whose Load and Save use that connection: Save stores
// only if the version is still the one Load read (else
// ErrConcurrentUpdate). unlock releases the lock and the connection; it
// must be called (once is enough, more calls do nothing) before the pool
// is closed.
func (s *PostgresStore) LockTenant(ctx context.Context, tenant string) (Store, func(), error) {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("streamapi: locking an app's hooks: %w", err)
	}
	key := s.lockKey(tenant)
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", key); err != nil {
		// The server may take the lock after we gave up: closing the
		// connection releases it.
		closeConn(conn)
		return nil, nil, fmt.Errorf("streamapi: locking an app's hooks: %w", err)
	}
	l := &lockedStore{s: s, conn: conn, tenant: tenant, version: -1}
	var once sync.Once
	unlock := func() { once.Do(func() { s.unlock(conn, key) }) }
	return l, unlock, nil
}

// unlock releases the advisory lock key held on conn and gives conn back.
func (s *PostgresStore) unlock(conn *pgxpool.Conn, key int64) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var released bool
	if err := conn.QueryRow(ctx, "SELECT pg_advisory_unlock($1)", key).Scan(&released); err != nil || !released {
		closeConn(conn)
		return
	}
	conn.Release()
}

// closeConn closes a connection of the pool (ending its session and the
// locks it holds) and gives it back, to be dropped.
func closeConn(conn *pgxpool.Conn) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = conn.Conn().Close(ctx)
	conn.Release()
}

// lockedStore is the view of one app's hooks under its lock.
type lockedStore struct {
	s       *PostgresStore
	conn    *pgxpool.Conn
	tenant  string
	version int64 // as loaded or saved; -1 before the first Load
}

func (l *lockedStore) check(tenant string) error {
	if tenant != l.tenant {
		return fmt.Errorf("streamapi: the lock of one app used for another")
	}
	return nil
}

func (l *lockedStore) Load(ctx context.Context, tenant string) ([]json.RawMessage, error) {
	if err := l.check(tenant); err != nil {
		return nil, err
	}
	hooks, v, err := l.s.load(ctx, l.conn, tenant)
	if err != nil {
		return nil, err
	}
	l.version = v
	return hooks, nil
}

func (l *lockedStore) Save(ctx context.Context, tenant string, hooks []json.RawMessage) error {
	if err := l.check(tenant); err != nil {
		return err
	}
	v, err := l.s.save(ctx, l.conn, tenant, hooks, l.version)
	if err != nil {
		return err
	}
	l.version = v
	return nil
}
