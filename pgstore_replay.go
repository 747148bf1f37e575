// pgstore_replay.go owns replay and retention in the PostgreSQL store
// (pgstore.go): schema version 2 (the hooks each event was recorded for),
// Tenant.Replay and ReplayPostgres, which insert replay copies that the
// fetch loop delivers marked with AttrReplay, and the sweep (SweepPostgres,
// run by one instance of the fleet at a time) that deletes the events
// older than the retention in batches (an instance's sweep first
// dead-letters the parked copies, pgstore_removal.go).

package sqshook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Defaults of PostgresOptions' retention.
const (
	// DefaultPostgresRetention is how long delivered events are kept for
	// Replay.
	DefaultPostgresRetention = 7 * 24 * time.Hour
	// DefaultPostgresSweep is how often an instance tries to run the
	// sweep of expired events.
	DefaultPostgresSweep = time.Minute
)

// AttrReplay is the message attribute that marks a replayed message: its
// value is "1". It counts as one of the event's attributes: an event that
// already has 8 (or one of this name) cannot be replayed (Replay refuses
// with ErrReplayAttributes).
const AttrReplay = "sqshook_replay"

// pgSweepBatch is the most event rows one statement of the sweep deletes.
const pgSweepBatch = 5000

// pgReplayRef marks a storeRef as a replay copy's: the event id is the
// rest. Event ids never come near it.
const pgReplayRef storeRef = 1 << 62

// pgRef is the storeRef of event id's copy, a replay copy's or not.
func pgRef(id int64, replay bool) storeRef {
	if replay {
		return storeRef(id) | pgReplayRef
	}
	return storeRef(id)
}

// pgEventOf is the event id of a storeRef made by pgRef.
func pgEventOf(ref storeRef) int64 { return int64(ref &^ pgReplayRef) }

// pgReplayMigration brings the schema from version 1 to 2: each event
// row names the hook rows it was recorded for, which Replay selects on
// (rows of version 1 have none: they are not replayed).
func pgReplayMigration(n func(string) string) []string {
	return []string{
		`ALTER TABLE ` + n("sqshook_event") + ` ADD COLUMN hooks bigint[]`,
	}
}

func (o PostgresOptions) retentionDefaults() PostgresOptions {
	if o.Retention == 0 {
		o.Retention = DefaultPostgresRetention
	}
	if o.Sweep == 0 {
		o.Sweep = DefaultPostgresSweep
	}
	return o
}

func validateRetention(o PostgresOptions, v *validator) {
	if o.Retention < 0 {
		v.add("postgres", "retention must not be negative; 0 means the default")
	}
}

// markReplay gives a replay copy's event its mark and a deduplication id
// of its own, so that a FIFO queue that saw the original within its
// deduplication interval takes the replay too.
func markReplay(ev *Event) {
	if ev.Attributes == nil {
		ev.Attributes = map[string]types.MessageAttributeValue{}
	}
	ev.Attributes[AttrReplay] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("1")}
	base := ev.DedupID
	if base == "" {
		base = ev.ID
	}
	id := "replay-" + base
	if len(id) > 128 {
		sum := sha256.Sum256([]byte(base))
		id = "replay-" + hex.EncodeToString(sum[:])
	}
	ev.DedupID = id
}

// Replay re-delivers the events of the tenant's hook hookID recorded (by
// the database's clock) at or after since and still kept (see
// PostgresOptions.Retention), in the order they were recorded, so FIFO
// groups keep their order; each message carries the attribute AttrReplay
// = "1" and, on FIFO queues, a deduplication id "replay-" + the
// original's. It inserts one copy per event for the hook's owner to
// deliver like any other and returns how many; an event whose copy for
// the hook is still pending is not doubled. Replay needs WithPostgres
// (else the error wraps ErrNoPostgres); a hook the tenant never
// published to returns ErrUnknownHook; if an event in the window already
// has 8 attributes (or one named AttrReplay), nothing is inserted and the
// error wraps ErrReplayAttributes. Replays of the same events into a FIFO
// queue within its 5-minute deduplication interval of each other deliver
// once.
func (t *Tenant) Replay(ctx context.Context, hookID string, since time.Time) (int, error) {
	if t.err != nil {
		return 0, t.err
	}
	return t.d.replay(ctx, t.id, hookID, since)
}

// Replay is Tenant.Replay for the default tenant.
func (d *Dispatcher) Replay(ctx context.Context, hookID string, since time.Time) (int, error) {
	return d.replay(ctx, "", hookID, since)
}

func (d *Dispatcher) replay(ctx context.Context, tenant, hookID string, since time.Time) (int, error) {
	if d.store == nil || d.store.pg == nil {
		return 0, fmt.Errorf("sqshook: Replay: %w", ErrNoPostgres)
	}
	if d.closed.Load() {
		return 0, ErrClosed
	}
	n, err := ReplayPostgres(ctx, d.store.pg.pool, d.store.pg.opts, tenant, hookID, since)
	if n > 0 {
		d.store.pg.signal()
	}
	return n, err
}

// ReplayPostgres is Tenant.Replay for tools without a Dispatcher (the
// command "sqshook replay"): it inserts the replay copies of the hook
// hookID of tenant ("" for the default tenant) in pool's database; the
// fleet's owner of the hook delivers them. opts.Schema names the schema.
func ReplayPostgres(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions, tenant, hookID string, since time.Time) (int, error) {
	if pool == nil {
		return 0, errors.New("sqshook: Replay: nil pool")
	}
	if err := opts.checkNames(); err != nil {
		return 0, fmt.Errorf("sqshook: Replay: %w", err)
	}
	if err := checkSchemaVersion(ctx, pool, opts); err != nil {
		return 0, err
	}
	n := opts.name
	var inserted int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var hook int64
		err := tx.QueryRow(ctx, "SELECT id FROM "+n("sqshook_hook")+" WHERE tenant = $1 AND hook_id = $2", tenant, hookID).Scan(&hook)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrUnknownHook
		}
		if err != nil {
			return err
		}
		// The sweep deletes no event while this transaction may add a
		// copy of it (it takes this lock exclusively per batch).
		if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock_shared(hashtext($1))", pgSweepBatchKey(opts)); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT id, attributes FROM "+n("sqshook_event")+
			" WHERE tenant = $1 AND created_at >= $2 AND $3 = ANY(hooks) ORDER BY id", tenant, since, hook)
		if err != nil {
			return err
		}
		var ids []int64
		unmarkable := 0
		for rows.Next() {
			var id int64
			var attrs []byte
			if err := rows.Scan(&id, &attrs); err != nil {
				rows.Close()
				return err
			}
			var ev Event
			decodeAttrs(&ev, attrs)
			if _, taken := ev.Attributes[AttrReplay]; taken || len(ev.Attributes) >= 8 {
				unmarkable++
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if unmarkable > 0 {
			return fmt.Errorf("%w: %d of the %d events have 8 attributes or one named %s", ErrReplayAttributes, unmarkable, len(ids), AttrReplay)
		}
		if len(ids) == 0 {
			return nil
		}
		tag, err := tx.Exec(ctx, "INSERT INTO "+n("sqshook_copy")+" (hook, event, replay) SELECT $1, e, true FROM unnest($2::bigint[]) AS e ON CONFLICT DO NOTHING", hook, ids)
		if err != nil {
			return err
		}
		inserted = int(tag.RowsAffected())
		return nil
	})
	switch {
	case errors.Is(err, ErrUnknownHook), errors.Is(err, ErrReplayAttributes):
		return 0, fmt.Errorf("sqshook: Replay: %w", err)
	case err != nil:
		return 0, fmt.Errorf("sqshook: Replay: %w: %w", ErrStoreUnavailable, err)
	}
	return inserted, nil
}

// pgSweepLockKey names the advisory lock of the sweep of opts.Schema,
// held by its one sweeping instance for the whole sweep.
func pgSweepLockKey(opts PostgresOptions) string { return "sqshook_sweep:" + opts.Schema }

// pgSweepBatchKey names the advisory lock a batch of the sweep holds
// exclusively and Replay shared: a replay waits for one batch at most.
func pgSweepBatchKey(opts PostgresOptions) string { return "sqshook_sweep_batch:" + opts.Schema }

// SweepPostgres deletes the events recorded longer than opts.Retention
// ago (by the database's clock) that no copy waits for, in batches of a
// few thousand rows, each its own short transaction, and returns how
// many. At most one instance sweeps a schema at a time: another that
// tries meanwhile returns 0 at once (a session advisory lock). The
// instances of a fleet run it every PostgresOptions.Sweep; the freed
// space is reused after autovacuum (or VACUUM) has passed, so the table
// stays at about the size of the retention's events. An event recorded by
// a transaction that committed long after it began (its created_at is
// when it began) may outlive the retention by that long.
func SweepPostgres(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions) (int64, error) {
	if err := checkSweepArgs(pool, opts); err != nil {
		return 0, err
	}
	if err := checkSchemaVersion(ctx, pool, opts); err != nil {
		return 0, err
	}
	return sweepPostgres(ctx, pool, opts, nil)
}

// checkSweepArgs refuses what the sweep cannot run with.
func checkSweepArgs(pool *pgxpool.Pool, opts PostgresOptions) error {
	if pool == nil {
		return errors.New("sqshook: SweepPostgres: nil pool")
	}
	if opts.Retention < 0 { // not "keep for ever": it would delete every delivered event
		return errors.New("sqshook: SweepPostgres: retention must not be negative; 0 means the default")
	}
	if err := opts.checkNames(); err != nil {
		return fmt.Errorf("sqshook: SweepPostgres: %w", err)
	}
	return nil
}

// sweepPostgres is SweepPostgres, running first, while it holds the
// sweep's lock, the instance's sweep of parked copies when there is one.
func sweepPostgres(ctx context.Context, pool *pgxpool.Pool, opts PostgresOptions, first func(context.Context) error) (int64, error) {
	if err := checkSweepArgs(pool, opts); err != nil {
		return 0, err
	}
	opts = opts.retentionDefaults()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return 0, err
	}
	defer conn.Release()
	key := pgSweepLockKey(opts)
	var ok bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock(hashtext($1))", key).Scan(&ok); err != nil {
		return 0, err
	}
	if !ok {
		return 0, nil
	}
	defer func() {
		uctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := conn.Exec(uctx, "SELECT pg_advisory_unlock(hashtext($1))", key); err != nil {
			conn.Conn().Close(uctx) // the lock goes with the session
		}
	}()
	var firstErr error
	if first != nil {
		firstErr = first(ctx) // the retention's sweep runs all the same
	}
	n := opts.name
	// A batch walks the events in id order from the cursor: it deletes
	// the events without a copy below the first unexpired one (all
	// expired), where the sweep stops. A copy is looked for by the
	// primary key, under each hook the event was recorded for (its
	// replays too are copies for those hooks); only events of schema
	// version 1, which have no hooks column, are probed by event alone,
	// which scans the copy table's index.
	q := `WITH b AS (
	SELECT id, created_at < now() - make_interval(secs => $2) AS old FROM ` + n("sqshook_event") + `
	WHERE id > $1 ORDER BY id LIMIT $3),
s AS (SELECT min(id) AS stop FROM b WHERE NOT old),
d AS (DELETE FROM ` + n("sqshook_event") + ` e USING b
	WHERE e.id = b.id AND b.id < coalesce((SELECT stop FROM s), 9223372036854775807)
	AND NOT EXISTS (SELECT 1 FROM ` + n("sqshook_copy") + ` c WHERE c.hook = ANY(e.hooks) AND c.lane = 0 AND c.event = b.id)
	AND (e.hooks IS NOT NULL OR NOT EXISTS (SELECT 1 FROM ` + n("sqshook_copy") + ` c WHERE c.event = b.id)) RETURNING e.id)
SELECT (SELECT count(*) FROM d), coalesce((SELECT max(id) FROM b), 0), (SELECT stop FROM s) IS NOT NULL, (SELECT count(*) FROM b)`
	var total int64
	cursor := int64(0)
	for {
		var deleted, last, read int64
		var stopped bool
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock(hashtext($1))", pgSweepBatchKey(opts)); err != nil {
				return err
			}
			return tx.QueryRow(ctx, q, cursor, opts.Retention.Seconds(), pgSweepBatch).Scan(&deleted, &last, &stopped, &read)
		})
		if err != nil {
			return total, errors.Join(firstErr, err)
		}
		total += deleted
		if stopped || read < pgSweepBatch {
			return total, firstErr
		}
		cursor = last
	}
}

// sweeper runs SweepPostgres every opts.Sweep until Close begins, with
// the sweep of parked copies first (pgstore_removal.go).
func (s *pgStore) sweeper(d *Dispatcher) {
	defer d.wg.Done()
	if s.opts.Sweep < 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-d.closing:
			cancel()
		case <-stop:
		}
	}()
	t := time.NewTimer(s.opts.Sweep)
	defer t.Stop()
	for {
		select {
		case <-d.closing:
			return
		case <-t.C:
		}
		parked := 0
		n, err := sweepPostgres(ctx, s.pool, s.opts, func(ctx context.Context) error {
			var err error
			parked, err = s.sweepParked(ctx, d)
			return err
		})
		switch {
		case err != nil && ctx.Err() == nil:
			s.log.Warn("sqshook: postgres: sweep of parked copies and expired events failed; it runs again later", slog.String("error", err.Error()))
		case n > 0:
			s.log.Debug("sqshook: postgres: expired events deleted", slog.Int64("events", n))
		}
		if parked > 0 {
			s.log.Warn("sqshook: postgres: copies of hooks no instance configures dead-lettered (WithResumeWait)", slog.Int("copies", parked))
		}
		t.Reset(s.opts.Sweep)
	}
}
