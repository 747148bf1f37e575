// This file owns the purpose-built layouts: inline (one row per copy,
// payload inline), split (one event row and one row per copy) and cursor
// (an event log and a cursor per hook), their hook leases and their
// delivery loops.
package storecmp

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// leaseDDL is a lease per hook: owner, expiry by the database's clock.
const leaseDDL = `CREATE TABLE lease (hook_id int PRIMARY KEY, owner text NOT NULL DEFAULT '', until timestamptz NOT NULL DEFAULT '-infinity',
  cxid bigint NOT NULL DEFAULT 0, cid bigint NOT NULL DEFAULT 0) WITH (fillfactor = 50);
INSERT INTO lease (hook_id) SELECT generate_series(1, 3)`

// snapCols are the fetch statement's own snapshot: its in-progress
// transaction ids and xmax, as bigints.
const snapCols = `(SELECT coalesce(array_agg(x::text::bigint), '{}') FROM pg_snapshot_xip(pg_current_snapshot()) x) AS xip,
  pg_snapshot_xmax(pg_current_snapshot())::text::bigint AS xmax`

// table is a purpose-built layout.
type table struct {
	nm     string
	ddl    string
	pub    string // $1 hooks int[], $2 group, $3 payload
	fetch  string // $1 hook, $2 hint id, $3 xip bigint[], $4 xmax → id, group, payload, xip, xmax
	settle string // $1 hook, $2 ids bigint[]
	sweep  string // removes what delivery left behind (retention 0)
}

var inline = &table{
	nm: "inline",
	ddl: leaseDDL + `;
CREATE TABLE copy (hook_id int NOT NULL, id bigint GENERATED ALWAYS AS IDENTITY, group_id text NOT NULL, payload bytea NOT NULL,
  xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint, available_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0,
  PRIMARY KEY (hook_id, id));
CREATE INDEX copy_xid ON copy (hook_id, xid)`,
	pub: `INSERT INTO copy (hook_id, group_id, payload) SELECT h, $2, $3 FROM unnest($1::int[]) h`,
	fetch: `SELECT c.id, c.group_id, c.payload, s.xip, s.xmax FROM (SELECT ` + snapCols + `) s LEFT JOIN LATERAL (
  SELECT id, group_id, payload FROM copy WHERE hook_id = $1 AND (id > $2 OR xid = ANY($3::bigint[]) OR xid >= $4) AND available_at <= now()
  ORDER BY id LIMIT 10) c ON true`,
	settle: `DELETE FROM copy WHERE hook_id = $1 AND id = ANY($2::bigint[])`,
}

var split = &table{
	nm: "split",
	ddl: leaseDDL + `;
CREATE TABLE event (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant text NOT NULL, group_id text NOT NULL, payload bytea NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now());
CREATE TABLE copy (hook_id int NOT NULL, event_id bigint NOT NULL, xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint,
  available_at timestamptz NOT NULL DEFAULT now(), attempts int NOT NULL DEFAULT 0, PRIMARY KEY (hook_id, event_id));
CREATE INDEX copy_xid ON copy (hook_id, xid)`,
	pub: `WITH e AS (INSERT INTO event (tenant, group_id, payload) VALUES ('t1', $2, $3) RETURNING id)
  INSERT INTO copy (hook_id, event_id) SELECT h, e.id FROM e, unnest($1::int[]) h`,
	fetch: `SELECT c.event_id, e.group_id, e.payload, s.xip, s.xmax FROM (SELECT ` + snapCols + `) s LEFT JOIN LATERAL (
  SELECT event_id FROM copy WHERE hook_id = $1 AND (event_id > $2 OR xid = ANY($3::bigint[]) OR xid >= $4) AND available_at <= now()
  ORDER BY event_id LIMIT 10) c ON true LEFT JOIN event e ON e.id = c.event_id ORDER BY c.event_id`,
	settle: `DELETE FROM copy WHERE hook_id = $1 AND event_id = ANY($2::bigint[])`,
	sweep:  `DELETE FROM event WHERE id < coalesce((SELECT min(event_id) FROM copy), (SELECT max(id) + 1 FROM event))`,
}

// cursor keeps one row per event; a hook's cursor (cxid, cid in its lease
// row) moves over events ordered by (xid, id), reading only transactions
// below the snapshot's xmin (all of them finished), so none is skipped.
var cursor = &table{
	nm: "cursor",
	ddl: leaseDDL + `;
CREATE TABLE event (xid bigint NOT NULL DEFAULT pg_current_xact_id()::text::bigint, id bigint GENERATED ALWAYS AS IDENTITY, tenant text NOT NULL,
  hooks int[] NOT NULL, group_id text NOT NULL, payload bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (xid, id))`,
	pub: `INSERT INTO event (tenant, hooks, group_id, payload) VALUES ('t1', $1, $2, $3)`,
	// $2 cid, $3 cxid (the cursor); xip/xmax unused.
	fetch: `SELECT e.id, e.group_id, e.payload, e.xid, 0::bigint FROM event e
  WHERE (e.xid, e.id) > ($3::bigint, $2::bigint) AND e.xid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint AND $1 = ANY(e.hooks)
  ORDER BY e.xid, e.id LIMIT 10`,
	// $2 cxid, $3 cid, $4 owner
	settle: `UPDATE lease SET cxid = $2, cid = $3 WHERE hook_id = $1 AND owner = $4`,
	sweep:  `DELETE FROM event WHERE (xid, id) <= (SELECT cxid, cid FROM lease ORDER BY cxid, cid LIMIT 1)`,
}

func (t *table) name() string { return t.nm }

func (t *table) setup(d *db) error {
	for _, s := range splitSQL(t.ddl) {
		if _, err := d.pool.Exec(context.Background(), s); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}

func (t *table) publish(ctx context.Context, tx pgx.Tx, ev *event) error {
	_, err := tx.Exec(ctx, t.pub, hookIDs, ev.group, ev.payload)
	return err
}

func (t *table) cleanup(ctx context.Context, d *db) error {
	if t.sweep == "" {
		return nil
	}
	_, err := d.pool.Exec(ctx, t.sweep)
	return err
}

// leaseFor is how long a claim lasts; renewed at half.
const leaseFor = 10 * time.Second

// acquire takes or renews hook's lease for owner, by the database's clock;
// it reports whether owner holds it and the cursor stored in it.
func acquire(ctx context.Context, p *pgxpool.Pool, hook int32, owner string, d time.Duration) (ok bool, cxid, cid int64, err error) {
	err = p.QueryRow(ctx, `UPDATE lease SET owner = $2, until = now() + make_interval(secs => $3)
  WHERE hook_id = $1 AND (owner = $2 OR until < now()) RETURNING cxid, cid`, hook, owner, d.Seconds()).Scan(&cxid, &cid)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, 0, 0, nil
	}
	return err == nil, cxid, cid, err
}

// deliver runs owner's delivery of every hook until ctx ends.
func (t *table) deliver(ctx context.Context, p *pgxpool.Pool, owner string, send sendFunc) (wait func() error) {
	errc := make(chan error, len(hookIDs))
	for _, h := range hookIDs {
		go func() { errc <- t.loop(ctx, p, h, owner, leaseFor, send) }()
	}
	return func() error {
		var errs []error
		for range hookIDs {
			if err := <-errc; err != nil && ctx.Err() == nil {
				errs = append(errs, err)
			}
		}
		return errors.Join(errs...)
	}
}

// loop delivers one hook while owner holds its lease: each round trip
// settles the previous batch and fetches the next (a pgx batch).
func (t *table) loop(ctx context.Context, p *pgxpool.Pool, hook int32, owner string, lease time.Duration, send sendFunc) error {
	var (
		held      bool
		renewed   time.Time
		hint      int64   // inline, split: ids up to it are handed off; cursor: cid
		xip       []int64 // inline, split: in progress at the last fetch
		xmax      int64   // inline, split: first unassigned xid at the last fetch; cursor: cxid
		unsettled []int64
		idle      = time.Millisecond
	)
	defer func() {
		// Settle what was sent before stopping, as Close would.
		if len(unsettled) == 0 {
			return
		}
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if t == cursor {
			_, _ = p.Exec(sctx, t.settle, hook, xmax, hint, owner)
		} else {
			_, _ = p.Exec(sctx, t.settle, hook, unsettled)
		}
	}()
	for ctx.Err() == nil {
		if !held || time.Since(renewed) > lease/2 {
			start := time.Now()
			ok, cx, ci, err := acquire(ctx, p, hook, owner, lease)
			if err != nil {
				return err
			}
			if !ok {
				held = false
				if !sleep(ctx, lease/20) {
					return nil
				}
				continue
			}
			if !held && t == cursor {
				hint, xmax = ci, cx
			} else if !held {
				hint, xip, xmax = 0, nil, 0 // a new owner scans from the start once
			}
			held, renewed = true, start
		}
		b := &pgx.Batch{}
		if len(unsettled) > 0 {
			if t == cursor {
				b.Queue(t.settle, hook, xmax, hint, owner)
			} else {
				b.Queue(t.settle, hook, unsettled)
			}
		}
		if t == cursor {
			b.Queue(t.fetch, hook, hint, xmax)
		} else {
			b.Queue(t.fetch, hook, hint, xip, xmax)
		}
		br := p.SendBatch(ctx, b)
		if len(unsettled) > 0 {
			if _, err := br.Exec(); err != nil {
				br.Close()
				return err
			}
			unsettled = unsettled[:0]
		}
		rows, err := br.Query()
		if err != nil {
			br.Close()
			return err
		}
		var msgs []msg
		var nxip []int64
		var nxmax int64
		for rows.Next() {
			var id *int64
			var g *string
			var pl []byte
			var x []int64
			var xm int64
			if t == cursor {
				var cx int64
				if err := rows.Scan(&id, &g, &pl, &cx, &xm); err != nil {
					br.Close()
					return err
				}
				xmax = cx
			} else if err := rows.Scan(&id, &g, &pl, &x, &xm); err != nil {
				br.Close()
				return err
			}
			nxip, nxmax = x, xm
			if id == nil {
				continue
			}
			msgs = append(msgs, decode(*id, *g, pl))
			hint = max(hint, *id)
			if t == cursor {
				hint = *id
			}
		}
		if err := rows.Err(); err != nil {
			br.Close()
			return err
		}
		if err := br.Close(); err != nil {
			return err
		}
		if t != cursor {
			xip, xmax = nxip, nxmax
		}
		if len(msgs) == 0 {
			if !sleep(ctx, idle) {
				return nil
			}
			idle = min(2*idle, 20*time.Millisecond)
			continue
		}
		idle = time.Millisecond
		send(hook, msgs)
		for _, m := range msgs {
			unsettled = append(unsettled, m.id)
		}
		if t == cursor {
			unsettled = slices.Clip(unsettled[:1]) // the cursor moves; ids unused
		}
	}
	return nil
}

// sleep waits d or until ctx ends; false if ctx ended.
func sleep(ctx context.Context, d time.Duration) bool {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-tm.C:
		return true
	}
}
