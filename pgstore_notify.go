// pgstore_notify.go wakes the fleet's owners with LISTEN/NOTIFY: an
// instance that records copies sends, from a goroutine of its own and
// never inside the caller's transaction, at most one NOTIFY per
// pgNotifyEvery on its schema's channel; every instance listens on a
// dedicated connection (made from the pool's configuration, reconnected
// with back-off) and wakes its fetch loop when another instance's
// notification arrives. The poll (PostgresOptions.Poll) stays the
// fallback: a lost notification only delays a copy until the next poll.

package sqshook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"time"

	"github.com/jackc/pgx/v5"
)

// pgNotifyEvery is the least time between two NOTIFYs of one instance:
// a NOTIFY's commit takes a lock that serialises the commits of every
// notifying transaction of the cluster, so it is paid once per interval,
// not once per event.
const pgNotifyEvery = 5 * time.Millisecond

// pgNotifyTxDelay is how long after a PublishTx its notification is sent:
// the caller's transaction commits after PublishTx returns, and a
// notification sent before that would wake the owner for nothing (it
// would find the copy at its poll).
const pgNotifyTxDelay = 5 * time.Millisecond

// pgListenBackoff bounds the wait between two attempts to connect the
// listening connection.
const pgListenBackoff = 5 * time.Second

// notifyChannel is the channel of the instances sharing opts.Schema.
func (o PostgresOptions) notifyChannel() string {
	c := "sqshook:" + o.Schema
	if len(c) > 63 { // the longest identifier PostgreSQL keeps
		sum := sha256.Sum256([]byte(o.Schema))
		c = "sqshook:" + hex.EncodeToString(sum[:16])
	}
	return c
}

// pgNotifier is the store's notification state.
type pgNotifier struct {
	due  chan struct{} // a record wants a notification: wakes notifyLoop
	at   time.Time     // when it is due (zero: none); guarded by pgStore.mu
	sent time.Time     // when the last one was sent; notifyLoop's own
}

// recorded says that this instance recorded copies: committed (tx false),
// or in a caller's transaction that commits later.
func (s *pgStore) recorded(tx bool) {
	at := time.Now()
	if tx {
		at = at.Add(pgNotifyTxDelay)
	}
	s.mu.Lock()
	if s.note.at.IsZero() || at.Before(s.note.at) {
		s.note.at = at
	}
	s.mu.Unlock()
	select {
	case s.note.due <- struct{}{}:
	default:
	}
}

// notifyLoop sends the notifications recorded asks for, at most one per
// pgNotifyEvery, until Close begins.
func (s *pgStore) notifyLoop(d *Dispatcher) {
	defer d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := context.AfterFunc(d.sendCtx, cancel)
	defer stop()
	t := time.NewTimer(time.Hour)
	defer t.Stop()
	channel := s.opts.notifyChannel()
	for {
		s.mu.Lock()
		at := s.note.at
		s.mu.Unlock()
		if !at.IsZero() {
			at = maxTime(at, s.note.sent.Add(pgNotifyEvery))
			if wait := time.Until(at); wait > 0 {
				t.Reset(wait)
			} else {
				s.mu.Lock()
				s.note.at = time.Time{}
				s.mu.Unlock()
				s.note.sent = time.Now()
				rt, cancelRT := context.WithTimeout(ctx, s.opts.Lease/3)
				// A lost notification costs a poll's delay: errors are not retried.
				_, _ = s.pool.Exec(rt, "SELECT pg_notify($1, $2)", channel, s.opts.InstanceID)
				cancelRT()
				continue
			}
		}
		select {
		case <-d.closing:
			return
		case <-s.note.due:
		case <-t.C:
		}
	}
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// listen keeps a connection listening on the schema's channel and wakes
// the fetch loop at each notification of another instance, until Close
// begins; it reconnects with back-off.
func (s *pgStore) listen(d *Dispatcher) {
	defer d.wg.Done()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-d.closing:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		err := s.listenOnce(ctx)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			backoff = 50 * time.Millisecond
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
		backoff = min(2*backoff, pgListenBackoff)
	}
}

// listenOnce connects, listens and wakes the fetch loop until the
// connection fails or ctx ends; it reports nil when it listened before
// failing.
func (s *pgStore) listenOnce(ctx context.Context) error {
	cfg := s.pool.Config().ConnConfig.Copy()
	cctx, cancel := context.WithTimeout(ctx, postgresOpenTimeout)
	conn, err := pgx.ConnectConfig(cctx, cfg)
	if err == nil {
		_, err = conn.Exec(cctx, "LISTEN "+pgx.Identifier{s.opts.notifyChannel()}.Sanitize())
	}
	cancel()
	if conn != nil {
		defer func() {
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_ = conn.Close(cctx)
			cancel()
		}()
	}
	if err != nil {
		return err
	}
	s.signal() // notifications sent while not listening are lost: look now
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return nil
		}
		if n.Payload != s.opts.InstanceID {
			s.signal()
		}
	}
}
