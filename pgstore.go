// pgstore.go is the store (store.go) in PostgreSQL for a fleet of
// processes that share one database (WithPostgres): the versioned schema
// (MigratePostgres), recording an event with its copies in one statement,
// in the caller's transaction when there is one (PublishTx), each hook's
// lease, and the fetch loop by which the lease's owner reads its hook's
// copies back into the hook's pipe and deletes the settled ones. The
// layout and protocol are docs/fleet-design.md's "split" layout.

package sqshook

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of PostgresOptions.
const (
	// DefaultPostgresLease is how long an instance owns a hook's delivery
	// without renewing it: an instance that dies loses its hooks within
	// this time plus DefaultPostgresPoll.
	DefaultPostgresLease = 6 * time.Second
	// DefaultPostgresPoll is how often an idle instance looks for new
	// copies of the hooks it owns and for hooks whose lease lapsed.
	DefaultPostgresPoll = 100 * time.Millisecond
	// DefaultPostgresFetchAhead is how many copies of one hook an owner
	// takes from the database before they are settled.
	DefaultPostgresFetchAhead = 1000
)

// PostgresSchemaVersion is the version of the schema this package reads
// and writes; MigratePostgres brings a database to it.
const PostgresSchemaVersion = 3

// postgresOpenTimeout bounds New's check of the schema's version.
const postgresOpenTimeout = 10 * time.Second

// postgresPage is the most copies one fetch reads.
const postgresPage = 100

// PostgresOptions configures WithPostgres and MigratePostgres (give both
// the same Schema). Every zero field takes the default its comment names.
type PostgresOptions struct {
	// Schema holds sqshook's tables. Default: none named, the
	// connection's search_path decides (usually "public").
	Schema string
	// Lease is how long an instance owns a hook's delivery after its last
	// renewal (renewed every Lease/3, by the database's clock). Default
	// DefaultPostgresLease.
	Lease time.Duration
	// Poll is how often an idle instance looks for new copies and lapsed
	// leases. Default DefaultPostgresPoll.
	Poll time.Duration
	// FetchAhead is how many unsettled copies of one hook an owner holds
	// (in memory or queued to be read). Default DefaultPostgresFetchAhead.
	FetchAhead int
	// InstanceID names this instance in the lease rows. Default: random.
	InstanceID string
	// Retention is how long delivered events are kept for Replay, by
	// the database's clock, before the sweep deletes them. Default
	// DefaultPostgresRetention (7 days).
	Retention time.Duration
	// Sweep is how often this instance tries to run the sweep (one
	// instance of the fleet at a time runs it); negative: never.
	// Default DefaultPostgresSweep.
	Sweep time.Duration
	// TenantQuota bounds the copies of one tenant's hooks that wait in
	// the database (recorded, not yet settled: queued, failing or held),
	// fleet-wide. Past it, Publish applies the overflow rule as past a
	// spool's quota (WithOverflowWait waits for room up to its bound,
	// else the copies are dead-lettered ReasonBufferFull) and PublishTx
	// records nothing and returns an error wrapping ErrBufferFull. It is
	// checked against the figures each hook's owner counts every Lease/3,
	// which an instance reads every Lease/3, plus what it recorded and
	// settled itself since: a tenant publishing through several
	// instances can pass it by what they record in up to about 2·Lease/3
	// (4 s by default), and a count under way may make an instance
	// refuse a few copies early (those recorded during its round trip
	// are counted twice until the next count). Default
	// DefaultPostgresTenantQuota; -1: none.
	TenantQuota int64
}

func (o PostgresOptions) withDefaults() PostgresOptions {
	if o.Lease == 0 {
		o.Lease = DefaultPostgresLease
	}
	if o.Poll == 0 {
		o.Poll = DefaultPostgresPoll
	}
	if o.FetchAhead == 0 {
		o.FetchAhead = DefaultPostgresFetchAhead
	}
	if o.InstanceID == "" {
		var b [8]byte
		_, _ = rand.Read(b[:])
		o.InstanceID = hex.EncodeToString(b[:])
	}
	return o.retentionDefaults().quotaDefaults()
}

// maxPGIdentifier is the longest name PostgreSQL keeps whole: a longer
// one is cut, so that two schema names alike in their first 63 bytes
// would be one schema.
const maxPGIdentifier = 63

// checkNames refuses a schema name PostgreSQL would cut or cannot hold,
// and an instance id that is not 1–128 printable characters (it is
// written to the lease rows and logs).
func (o PostgresOptions) checkNames() error {
	if len(o.Schema) > maxPGIdentifier {
		return fmt.Errorf("schema: %d bytes; PostgreSQL keeps at most %d", len(o.Schema), maxPGIdentifier)
	}
	if !printableName(o.Schema) {
		return errors.New("schema: want printable UTF-8 characters")
	}
	if id := o.InstanceID; id != "" && (len(id) > 128 || !printableName(id)) {
		return errors.New("instance_id: want 1–128 bytes of printable UTF-8 characters")
	}
	return nil
}

// printableName reports whether s is valid UTF-8 without control
// characters.
func printableName(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return false
		}
	}
	return true
}

// name is a table's (or sequence's) name, qualified by the schema.
func (o PostgresOptions) name(table string) string {
	if o.Schema == "" {
		return pgx.Identifier{table}.Sanitize()
	}
	return pgx.Identifier{o.Schema, table}.Sanitize()
}

// postgresMigrations are the schema's versions: migration i brings
// version i to i+1. Its statements name tables through n.
var postgresMigrations = []func(n func(string) string) []string{
	func(n func(string) string) []string {
		return []string{
			`CREATE TABLE ` + n("sqshook_hook") + ` (
	id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	tenant text NOT NULL, hook_id text NOT NULL, fifo bool NOT NULL DEFAULT false,
	lanes smallint NOT NULL DEFAULT 1,
	configured_until timestamptz,
	backlog bigint NOT NULL DEFAULT 0,
	UNIQUE (tenant, hook_id))`,
			`CREATE TABLE ` + n("sqshook_lease") + ` (
	hook bigint NOT NULL REFERENCES ` + n("sqshook_hook") + ` ON DELETE CASCADE,
	lane smallint NOT NULL DEFAULT 0,
	owner text NOT NULL DEFAULT '', until timestamptz NOT NULL DEFAULT '-infinity',
	PRIMARY KEY (hook, lane)) WITH (fillfactor = 50)`,
			`CREATE SEQUENCE ` + n("sqshook_event_id"),
			`CREATE TABLE ` + n("sqshook_event") + ` (
	id bigint NOT NULL DEFAULT nextval('` + n("sqshook_event_id") + `'),
	tenant text NOT NULL, type text NOT NULL, group_id text NOT NULL DEFAULT '',
	dedup_id text NOT NULL DEFAULT '', event_id text NOT NULL, attributes bytea,
	body bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (id)) PARTITION BY RANGE (id)`,
			`CREATE TABLE ` + n("sqshook_event_default") + ` PARTITION OF ` + n("sqshook_event") + ` DEFAULT`,
			`CREATE INDEX ON ` + n("sqshook_event") + ` (tenant, created_at)`,
			`CREATE TABLE ` + n("sqshook_copy") + ` (
	hook bigint NOT NULL, lane smallint NOT NULL DEFAULT 0, event bigint NOT NULL,
	xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
	state smallint NOT NULL DEFAULT 0,
	available_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0,
	replay bool NOT NULL DEFAULT false,
	PRIMARY KEY (hook, lane, event))`,
			`CREATE INDEX ON ` + n("sqshook_copy") + ` (hook, lane, xid)`,
			`CREATE INDEX ON ` + n("sqshook_copy") + ` (hook, lane, event) WHERE state <> 0`,
			`ALTER TABLE ` + n("sqshook_copy") + ` SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 10000)`,
		}
	},
	pgReplayMigration,
	pgBalanceMigration,
}

// MigratePostgres creates sqshook's tables in pool's database (and
// opts.Schema, when it names one) or upgrades them to
// PostgresSchemaVersion, in one transaction under an advisory lock, so
// that instances starting together migrate once. The version is kept in
// the table sqshook_schema. It is the only function that changes the
// schema: New with WithPostgres checks the version and refuses a
// mismatch. A database of a newer version than this package's is
// refused with ErrSchemaVersion, unchanged.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) error {
	if pool == nil {
		return errors.New("sqshook: MigratePostgres: nil pool")
	}
	if err := opts.checkNames(); err != nil {
		return fmt.Errorf("sqshook: MigratePostgres: %w", err)
	}
	n := opts.name
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", "sqshook_migrate:"+opts.Schema); err != nil {
			return err
		}
		if opts.Schema != "" {
			if _, err := tx.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{opts.Schema}.Sanitize()); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+n("sqshook_schema")+" (version int NOT NULL)"); err != nil {
			return err
		}
		v, err := schemaVersion(ctx, tx, opts)
		if err != nil {
			return err
		}
		if v > PostgresSchemaVersion {
			return fmt.Errorf("%w: the database is at version %d, this package knows up to %d", ErrSchemaVersion, v, PostgresSchemaVersion)
		}
		for ; v < PostgresSchemaVersion; v++ {
			for _, s := range postgresMigrations[v](n) {
				if _, err := tx.Exec(ctx, s); err != nil {
					return fmt.Errorf("to version %d: %w", v+1, err)
				}
			}
		}
		if _, err := tx.Exec(ctx, "DELETE FROM "+n("sqshook_schema")); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "INSERT INTO "+n("sqshook_schema")+" (version) VALUES ($1)", PostgresSchemaVersion)
		return err
	})
	if err != nil {
		return fmt.Errorf("sqshook: MigratePostgres: %w", err)
	}
	return nil
}

// schemaVersion reads the schema's version; 0 when none is recorded.
func schemaVersion(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, opts PostgresOptions) (int, error) {
	var v int
	err := q.QueryRow(ctx, "SELECT version FROM "+opts.name("sqshook_schema")).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return v, err
}

// checkSchemaVersion refuses a schema not at PostgresSchemaVersion, one
// never migrated included, with ErrSchemaVersion and what to run.
func checkSchemaVersion(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) error {
	v, err := schemaVersion(ctx, pool, opts)
	var pe *pgconn.PgError
	switch {
	case errors.As(err, &pe) && pe.Code == "42P01": // undefined_table: never migrated
		v = 0
	case pe != nil:
		return fmt.Errorf("sqshook: postgres: reading the schema's version (run MigratePostgres or \"sqshook migrate\"): %w", err)
	case err != nil: // no answer: the database is down, or ctx ended
		return fmt.Errorf("sqshook: postgres: reading the schema's version: %w: %w", ErrStoreUnavailable, err)
	}
	if v != PostgresSchemaVersion {
		return fmt.Errorf("%w: the database is at version %d, this package needs %d (run MigratePostgres or \"sqshook migrate\")", ErrSchemaVersion, v, PostgresSchemaVersion)
	}
	return nil
}

// postgresConfig is WithPostgres's arguments.
type postgresConfig struct {
	pool *pgxpool.Pool
	opts PostgresOptions
}

// validatePostgres reports WithPostgres's problems.
func (c *settings) validatePostgres(v *validator) {
	pg := c.postgres
	if pg == nil {
		return
	}
	if c.spool != nil {
		v.add("postgres", "WithPostgres and WithSpool are exclusive: an event is kept in one store")
	}
	if pg.pool == nil {
		v.add("postgres", "pool: required")
	} else if n := pg.pool.Config().MaxConns; n < 2 {
		v.add("postgres", fmt.Sprintf("pool: %d connection; the store needs at least 2 (the sweep holds one for its lock while it uses another)", n))
	}
	if pg.opts.Lease < 0 || pg.opts.Poll < 0 || pg.opts.FetchAhead < 0 {
		v.add("postgres", "lease, poll and fetch_ahead must not be negative; 0 means the default")
	}
	if l := pg.opts.Lease; l > 0 && l < 30*time.Millisecond {
		v.add("postgres", fmt.Sprintf("lease %v is shorter than 30ms", l))
	}
	if p := pg.opts.Poll; p > 0 && p < time.Millisecond {
		v.add("postgres", fmt.Sprintf("poll %v is shorter than 1ms", p))
	}
	if err := pg.opts.checkNames(); err != nil {
		v.add("postgres", err.Error())
	}
	validateRetention(pg.opts, v)
	validateTenantQuota(pg.opts, v)
}

// pgTxKey is the context key under which PublishTx passes its transaction
// down to the store's record.
type pgTxKey struct{}

// PublishTx is Publish recording the event in tx, the caller's
// transaction (WithPostgres only; else the error wraps ErrNoPostgres): its
// copies are delivered if and only if tx commits, and by whichever
// instance of the fleet owns each hook, once it commits. A failure to
// record (the database unreachable, tx already aborted) returns an error
// wrapping ErrStoreUnavailable; the statement failing aborts tx, as any
// failed statement does. Past the tenant's quota (PostgresOptions.
// TenantQuota) PublishTx sends no statement and records nothing: it
// returns an error wrapping ErrBufferFull at once (it neither waits, as
// WithOverflowWait would have Publish wait, nor dead-letters), and tx
// goes on.
func (t *Tenant) PublishTx(ctx context.Context, tx pgx.Tx, ev Event) error {
	if t.err != nil {
		return t.err
	}
	return t.d.publishTx(ctx, t.snapshot(), tx, ev)
}

// PublishTx is Tenant.PublishTx for the default tenant.
func (d *Dispatcher) PublishTx(ctx context.Context, tx pgx.Tx, ev Event) error {
	return d.publishTx(ctx, d.def.snap.Load(), tx, ev)
}

func (d *Dispatcher) publishTx(ctx context.Context, snap *snapshot, tx pgx.Tx, ev Event) error {
	if d.store == nil || d.cfg.postgres == nil {
		return ErrNoPostgres
	}
	if tx == nil {
		return errors.New("sqshook: PublishTx: nil transaction")
	}
	return d.publish(context.WithValue(ctx, pgTxKey{}, tx), snap, ev, true)
}

// openPostgres checks the schema's version and starts the fetch loop.
func (d *Dispatcher) openPostgres() error {
	c := d.cfg.postgres
	opts := c.opts.withDefaults()
	ctx, cancel := context.WithTimeout(context.Background(), postgresOpenTimeout)
	defer cancel()
	if err := checkSchemaVersion(ctx, c.pool, opts); err != nil {
		return err
	}
	s := &pgStore{
		pool: c.pool, opts: opts, log: d.cfg.logger,
		hooks: map[string]int64{}, keys: map[int64]string{},
		cache: map[storeRef]*pgCached{}, deletes: map[int64][]int64{},
		leases: map[string]*pgLease{}, wake: make(chan struct{}, 1), done: d.sendCtx.Done(),
		drains: map[*pipe]*pgDrain{},
	}
	s.newHooks.Store(true)
	d.store = &dispatcherStore{st: s, pg: s}
	s.roomFreed = d.store.roomFreed
	if d.tel != nil {
		d.tel.pg.Store(s)
	}
	d.wg.Add(2)
	go s.run(d)
	go s.sweeper(d)
	return nil
}

// pgStore is the store in PostgreSQL.
type pgStore struct {
	pool *pgxpool.Pool
	opts PostgresOptions
	log  *slog.Logger
	wake chan struct{}   // a settlement or a local publish: look again at once
	done <-chan struct{} // closed when Close gives up on delivery
	bl   pgBacklog       // the copies waiting in the database (pgstore_backlog.go)

	roomFreed func() // wakes a Publish waiting under the quota
	// newHooks: SetHooks built pipes whose hook rows may not exist yet.
	newHooks atomic.Bool
	// lastEvent is the largest event row id this instance recorded (in a
	// caller's transaction too): what Flush waits for (pgstore_backlog.go).
	lastEvent atomic.Int64

	// mu is taken under a pipe's lock (settle), never the other way
	// round: the fetch loop releases it before it locks a pipe. read,
	// which may wait for the database, is called without a pipe's lock;
	// nothing that may block runs under mu.
	mu      sync.Mutex
	hooks   map[string]int64       // store key → hook row id
	keys    map[int64]string       // hook row id → store key
	cache   map[storeRef]*pgCached // fetched events not yet read back
	deletes map[int64][]int64      // hook row id → settled events, not yet deleted
	leases  map[string]*pgLease    // by store key
	failing bool                   // the last round trip failed (logged once)
	closed  bool
	bal     pgBalance // this instance's fair share of the hooks (pgstore_balance.go)

	// The fetch loop's own (pgstore_removal.go): the retired pipes'
	// watermarks, and the last renewal of configured_until.
	drains  map[*pipe]*pgDrain
	renewal pgRenewal
}

// pgCached is a fetched event and how many of its fetched copies are not
// yet read back.
type pgCached struct {
	ev Event
	n  int
}

// pgLease is this instance's view of one hook's lease, and its fetch
// state: every copy of the hook not yet taken has an event id above hint
// or belongs to a transaction that was in progress (xip) or not begun
// (xid >= xmax) at the previous round's snapshot.
type pgLease struct {
	hook    int64
	owned   bool
	renewed time.Time // when the last successful renewal was sent (monotonic)

	hint      int64
	xip       []int64
	xmax      int64
	inRound   bool
	pos       int64 // the round's position: events up to it were read
	roundMax  int64
	roundXip  []int64
	roundXmax int64

	taken map[int64]struct{} // events fetched and not yet deleted

	shedding bool // above the fair share: fetching stopped, released once settled

	// drainXmax, when not 0, bounds the fetch to the copies of
	// transactions below it: the lease serves a retired pipe
	// (pgstore_removal.go), which delivers only what was recorded before
	// its hook's removal.
	drainXmax int64
}

func (s *pgStore) signal() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// hookIDs returns the hook rows of keys, creating those (and their lease
// rows) not yet known, outside any caller's transaction.
func (s *pgStore) hookIDs(ctx context.Context, keys []string) ([]int64, error) {
	ids := make([]int64, len(keys))
	var missing []string
	s.mu.Lock()
	for i, k := range keys {
		id, ok := s.hooks[k]
		if !ok {
			missing = append(missing, k)
		}
		ids[i] = id
	}
	s.mu.Unlock()
	if len(missing) > 0 {
		tenants := make([]string, len(missing))
		hookIDs := make([]string, len(missing))
		for i, k := range missing {
			tenants[i], hookIDs[i], _ = parseStoreKey(k)
		}
		n := s.opts.name
		rows, err := s.pool.Query(ctx, `WITH h AS (
	INSERT INTO `+n("sqshook_hook")+` (tenant, hook_id) SELECT * FROM unnest($1::text[], $2::text[])
	ON CONFLICT (tenant, hook_id) DO UPDATE SET tenant = EXCLUDED.tenant RETURNING id, tenant, hook_id),
l AS (INSERT INTO `+n("sqshook_lease")+` (hook) SELECT id FROM h ON CONFLICT DO NOTHING)
SELECT id, tenant, hook_id FROM h`, tenants, hookIDs)
		if err != nil {
			return nil, err
		}
		got := map[string]int64{}
		for rows.Next() {
			var id int64
			var tenant, hookID string
			if err := rows.Scan(&id, &tenant, &hookID); err != nil {
				rows.Close()
				return nil, err
			}
			got[storeKeyOf(tenant, hookID)] = id
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
		s.mu.Lock()
		for k, id := range got {
			s.hooks[k] = id
			s.keys[id] = k
		}
		for i, k := range keys {
			ids[i] = s.hooks[k]
		}
		s.mu.Unlock()
	}
	return ids, nil
}

// hookIDsIn is hookIDs for a record in tx, the caller's transaction when
// not nil. The fetch loop makes the rows of the hooks SetHooks configures
// (makeHookRows), so they are normally cached; a key that is not (another
// instance made its row, or the loop has not yet run) is looked up with a
// plain SELECT in tx, so that PublishTx needs no second connection of the
// pool, which the caller's own open transactions may all hold. Only a
// hook without a row at all is made through hookIDs, on another
// connection. The row is never inserted in tx: the unique index's lock
// would hold every other publisher of the same new hook until tx ends.
func (s *pgStore) hookIDsIn(ctx context.Context, tx pgx.Tx, keys []string) ([]int64, error) {
	if tx == nil {
		return s.hookIDs(ctx, keys)
	}
	ids := make([]int64, len(keys))
	var tenants, hookIDs []string
	s.mu.Lock()
	for i, k := range keys {
		id, ok := s.hooks[k]
		if !ok {
			t, h, _ := parseStoreKey(k)
			tenants, hookIDs = append(tenants, t), append(hookIDs, h)
		}
		ids[i] = id
	}
	s.mu.Unlock()
	if len(tenants) == 0 {
		return ids, nil
	}
	rows, err := tx.Query(ctx, `SELECT id, tenant, hook_id FROM `+s.opts.name("sqshook_hook")+`
WHERE (tenant, hook_id) IN (SELECT * FROM unnest($1::text[], $2::text[]))`, tenants, hookIDs)
	if err != nil {
		return nil, err
	}
	got := map[string]int64{}
	for rows.Next() {
		var id int64
		var tenant, hookID string
		if err := rows.Scan(&id, &tenant, &hookID); err != nil {
			rows.Close()
			return nil, err
		}
		got[storeKeyOf(tenant, hookID)] = id
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	var missing []string
	s.mu.Lock()
	for k, id := range got { // committed rows (tx inserts none): cached as hookIDs would
		s.hooks[k] = id
		s.keys[id] = k
	}
	for i, k := range keys {
		if ids[i] == 0 {
			if ids[i] = got[k]; ids[i] == 0 {
				missing = append(missing, k)
			}
		}
	}
	s.mu.Unlock()
	if len(missing) == 0 {
		return ids, nil
	}
	return s.hookIDs(ctx, keys) // a hook no instance has made a row for yet
}

// makeHookRows makes (and caches) the rows of the active pipes' hooks that
// are not cached yet: the fetch loop runs it first after SetHooks built
// pipes (hooksChanged), so that PublishTx finds them.
func (s *pgStore) makeHookRows(ctx context.Context, d *Dispatcher) {
	if !s.newHooks.Swap(false) {
		return
	}
	d.mu.Lock()
	pipes := d.pipeListLocked()
	d.mu.Unlock()
	var keys []string
	s.mu.Lock()
	for _, p := range pipes {
		if k := p.storeKey(); s.hooks[k] == 0 {
			keys = append(keys, k)
		}
	}
	s.mu.Unlock()
	if len(keys) == 0 {
		return
	}
	rt, cancel := context.WithTimeout(ctx, s.opts.Lease/3)
	defer cancel()
	if _, err := s.hookIDs(rt, keys); err != nil {
		s.newHooks.Store(true) // next round; step reports the database's state
	}
}

// hooksChanged is SetHooks's word that it built pipes: the fetch loop
// makes their rows at once.
func (s *pgStore) hooksChanged() {
	s.newHooks.Store(true)
	s.signal()
}

// recordCtx records ev with a copy for each key in one statement, in tx
// when there is one; nothing is recorded when it fails.
func (s *pgStore) recordCtx(ctx context.Context, tx pgx.Tx, ev Event, keys []string) (storeRef, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	ids, err := s.hookIDsIn(ctx, tx, keys)
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	tenant, _, _ := parseStoreKey(keys[0])
	if err := s.overQuota(tenant); err != nil {
		return 0, err
	}
	n := s.opts.name
	q := `WITH e AS (
	INSERT INTO ` + n("sqshook_event") + ` (tenant, type, group_id, dedup_id, event_id, attributes, body, hooks)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id),
c AS (INSERT INTO ` + n("sqshook_copy") + ` (hook, event) SELECT h, e.id FROM e, unnest($8::bigint[]) AS h)
SELECT id FROM e`
	args := []any{tenant, ev.Type, ev.GroupID, ev.DedupID, ev.ID, encodeAttrs(ev), ev.Body, ids}
	var id int64
	if tx != nil {
		err = tx.QueryRow(ctx, q, args...).Scan(&id)
	} else {
		err = s.pool.QueryRow(ctx, q, args...).Scan(&id)
	}
	if err != nil {
		return 0, fmt.Errorf("%w: %w", ErrStoreUnavailable, err)
	}
	s.backlogAdded(keys)
	for last := s.lastEvent.Load(); id > last && !s.lastEvent.CompareAndSwap(last, id); last = s.lastEvent.Load() {
		// another record raised it meanwhile: compare again
	}
	if tx == nil {
		s.signal() // committed: this instance may own the hooks
	}
	return storeRef(id), nil
}

func (s *pgStore) record(ev Event, keys []string, _ time.Time) (storeRef, error) {
	return s.recordCtx(context.Background(), nil, ev, keys)
}

// settle queues the copy's deletion for the fetch loop's next round trip.
func (s *pgStore) settle(ref storeRef, key string) error {
	s.mu.Lock()
	h, ok := s.hooks[key]
	if ok {
		s.deletes[h] = append(s.deletes[h], pgEventOf(ref))
	}
	s.mu.Unlock()
	if !ok {
		return errNotPending
	}
	s.signal()
	return nil
}

// hold has nothing to write: the held copy stays in the database and in
// the owner's memory, which reads it back.
func (s *pgStore) hold(storeRef, string) error { return nil }

// read returns a fetched event from the cache, else from the database
// (a held copy's, read back after its retry budget). While the database
// does not answer it tries again, backing off up to Lease/3, until Close
// gives up on delivery (then the error wraps errStoreClosed and the copy
// stays in the database): an unreachable database must not make a held
// copy a dead letter, and the pipe's order waits for it.
func (s *pgStore) read(ref storeRef) (storedEvent, error) {
	s.mu.Lock()
	c, ok := s.cache[ref]
	if ok {
		if c.n--; c.n <= 0 {
			delete(s.cache, ref)
		}
	}
	s.mu.Unlock()
	if ok {
		return storedEvent{ref: ref, ev: c.ev}, nil
	}
	wait := 10 * time.Millisecond
	for {
		se, err := s.readEvent(ref)
		if err == nil || errors.Is(err, errNotPending) {
			return se, err
		}
		t := time.NewTimer(wait)
		select {
		case <-s.done:
			t.Stop()
			return storedEvent{}, fmt.Errorf("%w: %w", errStoreClosed, err)
		case <-t.C:
		}
		wait = min(2*wait, s.opts.Lease/3)
	}
}

// readEvent reads an event from the database.
func (s *pgStore) readEvent(ref storeRef) (storedEvent, error) {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Lease)
	defer cancel()
	var ev Event
	var attrs []byte
	err := s.pool.QueryRow(ctx, "SELECT type, group_id, dedup_id, event_id, attributes, body FROM "+s.opts.name("sqshook_event")+" WHERE id = $1", pgEventOf(ref)).
		Scan(&ev.Type, &ev.GroupID, &ev.DedupID, &ev.ID, &attrs, &ev.Body)
	if errors.Is(err, pgx.ErrNoRows) {
		return storedEvent{}, errNotPending
	}
	if err != nil {
		return storedEvent{}, err
	}
	decodeAttrs(&ev, attrs)
	if ref&pgReplayRef != 0 {
		markReplay(&ev)
	}
	return storedEvent{ref: ref, ev: ev}, nil
}

// resume yields nothing: the owners of the hooks fetch their copies.
func (s *pgStore) resume() iter.Seq2[storedEvent, error] {
	return func(func(storedEvent, error) bool) {}
}

func (s *pgStore) damaged() []storeDamage { return nil }

// stats counts the copies of the hooks this instance configures that
// wait in the database (as last counted), and those it has fetched and
// not yet deleted.
func (s *pgStore) stats() storeStats {
	s.mu.Lock()
	n := 0
	for _, l := range s.leases {
		n += len(l.taken)
	}
	s.mu.Unlock()
	st := storeStats{Fetched: n}
	s.backlogStats(&st)
	return st
}

// close deletes the settled copies and releases this instance's leases,
// so that another instance carries on at once.
func (s *pgStore) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.Lease)
	defer cancel()
	err := s.flushDeletes(ctx)
	if _, e := s.pool.Exec(ctx, "UPDATE "+s.opts.name("sqshook_lease")+" SET until = now() WHERE owner = $1 AND until > now()", s.opts.InstanceID); e != nil && err == nil {
		err = e
	}
	if e := s.leave(ctx); e != nil && err == nil {
		err = e
	}
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	return err
}

// run is the fetch loop: it deletes settled copies, keeps this
// instance's leases and reads the copies of the hooks it owns into their
// pipes, until Close begins.
func (s *pgStore) run(d *Dispatcher) {
	defer d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	stop := context.AfterFunc(d.sendCtx, cancel)
	defer stop()
	defer cancel()
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-d.closing:
			return
		default:
		}
		s.makeHookRows(ctx, d)
		more := s.step(ctx, d)
		if more {
			continue
		}
		t.Reset(s.opts.Poll)
		select {
		case <-d.closing:
			return
		case <-s.wake:
		case <-t.C:
		}
	}
}

// step is one round of the loop; more reports copies left to fetch now.
func (s *pgStore) step(ctx context.Context, d *Dispatcher) (more bool) {
	rt, cancel := context.WithTimeout(ctx, s.opts.Lease/3)
	defer cancel()
	err := s.flushDeletes(rt)
	d.mu.Lock()
	pipes := d.pipeListLocked()
	d.mu.Unlock()
	active, retired := s.sortPipes(pipes)
	for _, p := range active {
		if err != nil {
			break
		}
		var m bool
		m, err = s.serve(rt, p)
		more = more || m
	}
	if err == nil {
		var m bool
		m, err = s.drain(rt, retired)
		more = more || m
	}
	if err == nil {
		err = s.renewConfigured(rt, active)
	}
	if err == nil {
		err = s.heartbeat(rt)
	}
	if err == nil {
		err = s.backlogRound(ctx, d)
	}
	s.mu.Lock()
	was := s.failing
	s.failing = err != nil
	s.mu.Unlock()
	if err != nil && !was && ctx.Err() == nil {
		s.log.Warn("sqshook: postgres: delivery paused until the database answers", slog.String("error", err.Error()))
	} else if err == nil && was {
		s.log.Info("sqshook: postgres: the database answers again; delivery resumes")
	}
	return more && err == nil
}

// serve keeps p's lease and, while this instance owns it, fetches p's
// copies into p.
func (s *pgStore) serve(ctx context.Context, p *pipe) (more bool, err error) {
	key := p.storeKey()
	ids, err := s.hookIDs(ctx, []string{key})
	if err != nil {
		return false, err
	}
	s.mu.Lock()
	l := s.leases[key]
	if l == nil || l.hook != ids[0] {
		l = &pgLease{hook: ids[0], taken: map[int64]struct{}{}}
		s.leases[key] = l
	}
	s.mu.Unlock()
	L := s.opts.Lease
	drain := s.drainMode(p, l) // a retired pipe's: taken whatever the share (pgstore_removal.go)
	if !l.owned && !drain && !s.mayTake() {
		return false, nil
	}
	if !l.owned || time.Since(l.renewed) >= L/3 {
		sent := time.Now()
		var owner string
		err := s.pool.QueryRow(ctx, "UPDATE "+s.opts.name("sqshook_lease")+
			" SET owner = $2, until = now() + make_interval(secs => $3) WHERE hook = $1 AND lane = 0 AND (owner = $2 OR until < now()) RETURNING owner",
			l.hook, s.opts.InstanceID, L.Seconds()).Scan(&owner)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			l.owned = false
			return false, nil
		case err != nil:
			return false, err
		}
		if !l.owned { // newly owned: read the hook from its start
			l.owned = true
			s.bal.owned++
			l.hint, l.xip, l.xmax, l.inRound = 0, nil, 0, false
		}
		l.renewed = sent
	}
	if done, err := s.shed(ctx, l); done || err != nil {
		return false, err
	}
	// Stop before the row can lapse, whatever the clocks' offset.
	if time.Since(l.renewed) >= L*4/5 {
		return false, nil
	}
	s.mu.Lock()
	room := s.opts.FetchAhead - len(l.taken)
	s.mu.Unlock()
	if room <= 0 {
		return false, nil
	}
	return s.fetch(ctx, p, l, min(room, postgresPage))
}

// fetch reads up to limit copies of l's hook past the round's position
// and hands those not yet taken to p.
func (s *pgStore) fetch(ctx context.Context, p *pipe, l *pgLease, limit int) (more bool, err error) {
	n := s.opts.name
	b := &pgx.Batch{}
	newRound := !l.inRound
	if newRound {
		b.Queue("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint, ARRAY(SELECT x::text::bigint FROM pg_snapshot_xip(pg_current_snapshot()) AS x)")
	}
	pos := l.pos
	if newRound {
		pos = 0
	}
	bound := int64(math.MaxInt64)
	if l.drainXmax != 0 {
		bound = l.drainXmax
	}
	// A round's later pages take only what its snapshot saw committed:
	// a page's own snapshot is later, and a copy committed since, above
	// the round's position, may follow one of its group committed just
	// before it below the position, which only the next round reads. A
	// FIFO group's later event would then be sent first.
	seen := []int64{} // not nil: NOT (xid = ANY(NULL)) would take nothing
	if !newRound {
		bound = min(bound, l.roundXmax)
		if l.roundXip != nil {
			seen = l.roundXip
		}
	}
	b.Queue(`SELECT c.event, c.replay, e.type, e.group_id, e.dedup_id, e.event_id, e.attributes, e.body
FROM `+n("sqshook_copy")+` c JOIN `+n("sqshook_event")+` e ON e.id = c.event
WHERE c.hook = $1 AND c.lane = 0 AND c.state = 0 AND c.available_at <= now()
	AND c.event > $2 AND (c.event > $3 OR c.xid = ANY($4) OR c.xid >= $5) AND c.xid < $7 AND NOT (c.xid = ANY($8))
ORDER BY c.event LIMIT $6`, l.hook, pos, l.hint, l.xip, l.xmax, limit, bound, seen)
	br := s.pool.SendBatch(ctx, b)
	defer br.Close()
	var roundXmax int64
	var roundXip []int64
	if newRound {
		if err := br.QueryRow().Scan(&roundXmax, &roundXip); err != nil {
			return false, err
		}
	}
	rows, err := br.Query()
	if err != nil {
		return false, err
	}
	type got struct {
		id     int64
		replay bool
		ev     Event
	}
	var all []got
	for rows.Next() {
		var g got
		var attrs []byte
		if err := rows.Scan(&g.id, &g.replay, &g.ev.Type, &g.ev.GroupID, &g.ev.DedupID, &g.ev.ID, &attrs, &g.ev.Body); err != nil {
			rows.Close()
			return false, err
		}
		decodeAttrs(&g.ev, attrs)
		if g.replay {
			markReplay(&g.ev)
		}
		all = append(all, g)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return false, err
	}
	if err := br.Close(); err != nil {
		return false, err
	}
	if newRound {
		l.inRound, l.pos, l.roundMax, l.roundXip, l.roundXmax = true, 0, l.hint, roundXip, roundXmax
	}
	var fresh []storeRef
	s.mu.Lock()
	for _, g := range all {
		l.pos = g.id
		l.roundMax = max(l.roundMax, g.id)
		if _, ok := l.taken[g.id]; ok {
			continue
		}
		l.taken[g.id] = struct{}{}
		ref := pgRef(g.id, g.replay)
		if c := s.cache[ref]; c != nil {
			c.n++
		} else {
			s.cache[ref] = &pgCached{ev: g.ev, n: 1}
		}
		fresh = append(fresh, ref)
	}
	if len(all) < limit { // the round is complete
		l.hint, l.xip, l.xmax, l.inRound = l.roundMax, l.roundXip, l.roundXmax, false
	}
	s.mu.Unlock()
	if len(fresh) > 0 {
		p.mu.Lock()
		if p.state == pipeDone || p.aborted {
			p.mu.Unlock()
			s.untake(l, fresh)
			return false, nil
		}
		for _, ref := range fresh {
			p.acceptLocked(&entry{ev: &eventData{ref: ref}}, copySpilled)
		}
		p.readBackLocked()
		p.mu.Unlock()
	}
	return len(all) == limit || len(fresh) > 0, nil
}

// untake forgets copies fetched for a pipe that ended meanwhile: they
// stay in the database for the next round.
func (s *pgStore) untake(l *pgLease, refs []storeRef) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range refs {
		delete(l.taken, pgEventOf(r))
		if c := s.cache[r]; c != nil {
			if c.n--; c.n <= 0 {
				delete(s.cache, r)
			}
		}
	}
	l.inRound = false
	l.hint, l.xip, l.xmax = 0, nil, 0
}

// flushDeletes deletes the settled copies in one statement; on failure
// they wait for the next try.
func (s *pgStore) flushDeletes(ctx context.Context) error {
	s.mu.Lock()
	dels := s.deletes
	s.deletes = map[int64][]int64{}
	s.mu.Unlock()
	if len(dels) == 0 {
		return nil
	}
	var hooks, events []int64
	for h, evs := range dels {
		for _, e := range evs {
			hooks = append(hooks, h)
			events = append(events, e)
		}
	}
	_, err := s.pool.Exec(ctx, "DELETE FROM "+s.opts.name("sqshook_copy")+
		" AS c USING unnest($1::bigint[], $2::bigint[]) AS d(hook, event) WHERE c.hook = d.hook AND c.lane = 0 AND c.event = d.event", hooks, events)
	s.mu.Lock()
	if err != nil {
		for h, evs := range dels {
			s.deletes[h] = append(s.deletes[h], evs...)
		}
		s.mu.Unlock()
		return err
	}
	s.backlogDeletedLocked(dels)
	for h, evs := range dels {
		if l := s.leases[s.keys[h]]; l != nil {
			for _, e := range evs {
				delete(l.taken, e)
			}
		}
	}
	s.mu.Unlock()
	if s.roomFreed != nil {
		s.roomFreed()
	}
	return nil
}

// encodeAttrs is the attributes column: per attribute, the name and
// encodeAttr's value, each preceded by its length (uvarint); nil without
// attributes.
func encodeAttrs(ev Event) []byte {
	if len(ev.Attributes) == 0 {
		return nil
	}
	var b []byte
	for k, v := range ev.Attributes {
		s := encodeAttr(v)
		b = binary.AppendUvarint(b, uint64(len(k)))
		b = append(b, k...)
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	return b
}

// decodeAttrs sets ev's attributes from encodeAttrs's bytes; it stops at
// the first malformed field.
func decodeAttrs(ev *Event, b []byte) {
	next := func() (string, bool) {
		n, k := binary.Uvarint(b)
		if k <= 0 || uint64(len(b)-k) < n {
			return "", false
		}
		s := string(b[k : k+int(n)])
		b = b[k+int(n):]
		return s, true
	}
	for len(b) > 0 {
		k, ok1 := next()
		v, ok2 := next()
		if !ok1 || !ok2 {
			return
		}
		if ev.Attributes == nil {
			ev.Attributes = map[string]types.MessageAttributeValue{}
		}
		ev.Attributes[k] = decodeAttr(v)
	}
}
