// This file owns how a change made through one server of a fleet reaches
// every server's dispatcher: Fleet, an Applier that listens (LISTEN) to a
// PostgresStore's notifications and applies each changed app's hooks, and
// reconciles every app's version periodically and after each reconnection.

package streamapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/sqshook/sqshook"
)

// Defaults of FleetOptions.
const (
	// DefaultReconcileInterval is how often a Fleet compares every app's
	// stored version with the one it applied, catching notifications it
	// missed.
	DefaultReconcileInterval = 30 * time.Second
	// DefaultListenPing is how long the listening connection may stay
	// silent before it is checked with a ping (a connection lost without
	// a word is found within about this long).
	DefaultListenPing = 15 * time.Second
	// DefaultMaxReconnectDelay bounds the back-off between attempts to
	// reconnect the listening connection (which starts at 100 ms).
	DefaultMaxReconnectDelay = 5 * time.Second
)

// FleetOptions configures a Fleet. Every zero field takes the default its
// comment names.
type FleetOptions struct {
	// ReconcileInterval is how often every app's version is compared with
	// the one applied. Default DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// ListenPing is how long the listening connection may be silent
	// before it is pinged. Default DefaultListenPing.
	ListenPing time.Duration
	// MaxReconnectDelay bounds the back-off between reconnection attempts.
	// Default DefaultMaxReconnectDelay.
	MaxReconnectDelay time.Duration
	// Logger receives a line per failed apply, lost connection and
	// reconnection; never a hook or a secret. Default slog.Default().
	Logger *slog.Logger
}

// Fleet keeps one server's dispatcher in step with a PostgresStore that
// several servers share. Give it to the Handler as Options.Applier (with
// the store as Options.Store) and run Run for the server's life:
//
//   - an update made through this server is applied at once, as with any
//     Applier;
//   - an update made through another server reaches this one by its
//     notification (LISTEN on a connection of its own): the app's list is
//     loaded and applied, typically within milliseconds;
//   - every ReconcileInterval, and at once after (re)connecting, every
//     app's stored version is compared with the one applied here and the
//     apps that differ are applied: a missed notification is caught up
//     within ReconcileInterval, and Run's first reconcile applies every
//     stored app's hooks (a restarted server needs no Restore).
//
// Applies of one app are serialised and each records the version it
// applied, so that an older list never replaces a newer one. A list that
// the wrapped Applier refuses is logged and tried again at the next
// reconcile. Fleet is safe for concurrent use.
type Fleet struct {
	store   *PostgresStore
	applier Applier
	opts    FleetOptions

	mu      sync.Mutex
	applied map[string]int64 // tenant → version applied; -1: unknown
	locks   map[string]*sync.Mutex

	running   atomic.Bool
	ready     chan struct{}
	readyOnce sync.Once
	listenPID atomic.Uint32 // the listening connection's backend, for tests
}

// NewFleet returns a Fleet that applies store's lists through applier
// (TenantApplier or Dispatchers, say).
func NewFleet(store *PostgresStore, applier Applier, opts FleetOptions) *Fleet {
	if opts.ReconcileInterval <= 0 {
		opts.ReconcileInterval = DefaultReconcileInterval
	}
	if opts.ListenPing <= 0 {
		opts.ListenPing = DefaultListenPing
	}
	if opts.MaxReconnectDelay <= 0 {
		opts.MaxReconnectDelay = DefaultMaxReconnectDelay
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Fleet{store: store, applier: applier, opts: opts, applied: make(map[string]int64),
		locks: make(map[string]*sync.Mutex), ready: make(chan struct{})}
}

// Ready is closed once Run listens and has applied every stored app's
// hooks for the first time (apps whose hooks the Applier refused
// excepted: they are logged and tried again at each reconcile).
func (f *Fleet) Ready() <-chan struct{} { return f.ready }

func (f *Fleet) tenantLock(tenant string) *sync.Mutex {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.locks[tenant]
	if !ok {
		m = new(sync.Mutex)
		f.locks[tenant] = m
	}
	return m
}

func (f *Fleet) setApplied(tenant string, v int64) {
	f.mu.Lock()
	f.applied[tenant] = v
	f.mu.Unlock()
}

// ApplyHooks implements Applier: the Handler's apply of an update it has
// just saved.
func (f *Fleet) ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error {
	l := f.tenantLock(tenant)
	l.Lock()
	defer l.Unlock()
	if err := f.applier.ApplyHooks(ctx, tenant, hooks); err != nil {
		return err
	}
	// The Handler saved this list just before, under the app's lock: its
	// version is the one saved. Without one (Restore), the next
	// notification or reconcile applies the stored list again.
	v, ok := f.store.takeSaved(tenant)
	if !ok {
		v = -1
	}
	f.setApplied(tenant, v)
	return nil
}

// sync applies tenant's stored list unless its version is the one applied.
func (f *Fleet) sync(ctx context.Context, tenant string) error {
	l := f.tenantLock(tenant)
	l.Lock()
	defer l.Unlock()
	stored, version, err := f.store.load(ctx, f.store.pool, tenant)
	if err != nil {
		return err
	}
	f.mu.Lock()
	have, known := f.applied[tenant]
	f.mu.Unlock()
	if (known && have == version) || (!known && version == 0) {
		return nil
	}
	settings, err := f.store.loadSettings(ctx, f.store.pool, tenant)
	if err != nil {
		return err
	}
	hooks, err := sqsHooks(stored, settings)
	if err != nil {
		return fmt.Errorf("streamapi: the stored hooks of an app are damaged: %w", err)
	}
	if err := f.applier.ApplyHooks(ctx, tenant, hooks); err != nil {
		return err
	}
	f.setApplied(tenant, version)
	return nil
}

// Reconcile applies every app whose stored version differs from the one
// applied here; Run calls it periodically and after each (re)connection.
// Its error says that the versions could not be read, or how many apps'
// hooks could not be applied (each is logged).
func (f *Fleet) Reconcile(ctx context.Context) error {
	listErr, applyErr := f.reconcile(ctx)
	return errors.Join(listErr, applyErr)
}

// reconcile is Reconcile, telling a failure to read the versions from
// failures to apply some apps.
func (f *Fleet) reconcile(ctx context.Context) (listErr, applyErr error) {
	vs, err := f.store.versions(ctx)
	if err != nil {
		return err, nil
	}
	var errs []error
	for tenant, v := range vs {
		f.mu.Lock()
		have, known := f.applied[tenant]
		f.mu.Unlock()
		if known && have == v {
			continue
		}
		if err := f.sync(ctx, tenant); err != nil {
			if ctx.Err() != nil {
				return ctx.Err(), nil
			}
			f.opts.Logger.Error("streamapi: applying an app's stored hooks failed", "tenant", tenant, "err", scrubbed(err, nil))
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("streamapi: %d apps' hooks could not be applied: %w", len(errs), errs[0])
	}
	return nil, nil
}

// Run listens for notifications and reconciles until ctx ends, then
// returns nil; it reconnects (with back-off) when the connection is lost.
// Only one Run may be in progress at a time.
func (f *Fleet) Run(ctx context.Context) error {
	if !f.running.CompareAndSwap(false, true) {
		return errors.New("streamapi: Fleet.Run is already running")
	}
	defer f.running.Store(false)

	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(f.opts.ReconcileInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err := f.Reconcile(ctx); err != nil && ctx.Err() == nil {
				f.opts.Logger.Warn("streamapi: reconciling the apps' hooks failed", "err", scrubbed(err, nil))
			}
		}
	}()
	defer wg.Wait()

	delay := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := f.listen(ctx, func() { delay = 100 * time.Millisecond })
		if ctx.Err() != nil {
			break
		}
		f.opts.Logger.Warn("streamapi: listening for settings changes failed; reconnecting", "err", scrubbed(err, nil), "in", delay)
		t := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			t.Stop()
		case <-t.C:
		}
		delay = min(2*delay, f.opts.MaxReconnectDelay)
	}
	return nil
}

// listen connects, listens, reconciles and then applies each notified app
// until the connection fails or ctx ends. connected is called once the
// connection is up and reconciled.
func (f *Fleet) listen(ctx context.Context, connected func()) error {
	conn, err := pgx.ConnectConfig(ctx, f.store.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(closeCtx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{f.store.opts.Channel}.Sanitize()); err != nil {
		return err
	}
	f.listenPID.Store(conn.PgConn().PID())
	// Listening first, reconciling second: a change saved in between is
	// both reconciled and notified, never neither. Apps whose hooks are
	// refused are logged and tried again at the next reconcile; when the
	// versions cannot be read, connecting starts again.
	listErr, _ := f.reconcile(ctx)
	if ctx.Err() != nil {
		return nil
	}
	if listErr != nil {
		return listErr
	}
	f.readyOnce.Do(func() { close(f.ready) })
	connected()
	for {
		wctx, cancel := context.WithTimeout(ctx, f.opts.ListenPing)
		n, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil && pgconn.Timeout(err) && !conn.IsClosed():
			pctx, cancel := context.WithTimeout(ctx, f.opts.ListenPing)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return err
			}
			continue
		case err != nil:
			return err
		}
		if err := f.sync(ctx, n.Payload); err != nil && ctx.Err() == nil {
			f.opts.Logger.Error("streamapi: applying an app's notified hooks failed", "tenant", n.Payload, "err", scrubbed(err, nil))
		}
	}
}
