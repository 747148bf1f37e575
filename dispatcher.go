// dispatcher.go routes published events to the pipelines of the hooks whose
// filter matches, and owns the dispatcher's lifecycle: New, SetHooks,
// Publish, Flush, Close and Stats.

package sqshook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Dispatcher delivers events to the SQS queues of its hooks. Create one with
// New; the zero value is not usable. All methods are safe for concurrent
// use, and no call order panics.
type Dispatcher struct {
	cfg   settings
	rules batchRules
	pool  *ClientPool

	idPrefix string
	idSeq    atomic.Uint64

	closed  atomic.Bool
	def     *tenant  // the default tenant ""
	tenants sync.Map // tenant id → *tenant: the named tenants with hooks
	named   atomic.Int64
	// draining is tenant id → *pipeSet: the pipelines SetHooks retired,
	// until done (stats.go), for Stats and metrics without d.mu.
	draining sync.Map

	mu    sync.Mutex         // guards tenants' hooks, pipes, and SetHooks/Close transitions
	pipes map[*pipe]struct{} // active and draining, all tenants
	// idle is made by Close and closed once no pipe is left.
	idle       chan struct{}
	idleClosed bool
	final      []*pipe // the pipes at Close, for Stats

	sendCtx    context.Context // canceled when Close gives up
	cancelSend context.CancelFunc
	closing    chan struct{} // closed when Close begins
	sendJobs   chan sendJob  // to the sender goroutines waiting for a call (sender.go)
	closeOnce  sync.Once
	abortOnce  sync.Once
	wg         sync.WaitGroup // every goroutine and timer callback; not an errgroup: they return no error, and timer callbacks are counted before they exist

	panics atomic.Uint64 // user callbacks that panicked
	share  *share        // what the whole dispatcher holds

	store *dispatcherStore // WithSpool; nil without a spool
	tel   *telemetry       // nil: no metrics or traces
}

type snapshot struct {
	pipes []*pipe // enabled hooks, in configuration order
}

// New validates hooks and starts a dispatcher for them. It starts no
// goroutine until events arrive. Invalid hooks or options give a
// *ValidationError that names every problem.
func New(hooks []Hook, opts ...Option) (*Dispatcher, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.retry = cfg.retry.withDefaults()
	if cfg.newBackOff == nil {
		cfg.newBackOff = cfg.retry.newBackOff
	}
	if cfg.logger == nil {
		cfg.logger = slog.Default()
	}
	var prefix [8]byte
	if _, err := rand.Read(prefix[:]); err != nil {
		return nil, fmt.Errorf("sqshook: event id prefix: %w", err)
	}
	d := &Dispatcher{
		cfg: cfg,
		rules: batchRules{
			maxEntries: MaxBatchEntries,
			maxBytes:   cfg.maxBatchBytes,
			linger:     cfg.linger,
		},
		idPrefix: hex.EncodeToString(prefix[:]),
		share:    newShare("dispatcher", cfg.maxTotalEvents, cfg.maxTotalBytes),
		pipes:    make(map[*pipe]struct{}),
		closing:  make(chan struct{}),
		sendJobs: make(chan sendJob),
	}
	if cfg.clientFor == nil {
		co := cfg.clientOptions
		if co.Endpoint == "" {
			co.Endpoint = cfg.endpoint
		}
		co.InsecureCleartextEndpoint = co.InsecureCleartextEndpoint || cfg.insecureEndpoint
		if co.MaxIdleConnsPerHost == 0 {
			co.MaxIdleConnsPerHost = max(DefaultMaxIdleConnsPerHost, cfg.maxInFlight)
		}
		d.pool = NewClientPool(co)
		d.cfg.endpoint = d.pool.Endpoint()
		d.cfg.clientFor = nil // clients come from the pool, with the tenant's ExternalId
	} else {
		d.cfg.endpoint = resolveEndpoint(cfg.endpoint)
	}
	// A logger whose handler panics must not take a sender down.
	d.cfg.logger = slog.New(recoverHandler{inner: d.cfg.logger.Handler(), panics: &d.panics})
	if d.pool != nil && d.pool.endpointErr != nil {
		return nil, d.pool.endpointErr
	}
	if err := checkEndpoint(d.cfg.endpoint, d.cfg.insecureEndpoint || d.cfg.clientOptions.InsecureCleartextEndpoint); err != nil {
		return nil, fmt.Errorf("sqshook: %w", err)
	}
	d.sendCtx, d.cancelSend = context.WithCancel(context.Background())
	d.def = d.newTenant("")
	d.tel = newTelemetry(d)
	if err := d.SetHooks(hooks); err != nil {
		d.cancelSend()
		d.tel.close()
		return nil, err
	}
	if err := d.openSpool(); err != nil { // resumes the spool's pending copies
		d.cancelSend()
		d.tel.close()
		return nil, err
	}
	return d, nil
}

// Hooks returns a copy of the default tenant's hook list (with generated
// IDs filled in), for the read–modify–write-back pattern of Stream's
// update_app.
func (d *Dispatcher) Hooks() []Hook { return d.Tenant("").Hooks() }

// buildConcurrency is how many hooks' pipelines (and SDK clients) SetHooks
// builds at once.
const buildConcurrency = 8

// SetHooks replaces the default tenant's hook list whole (see Tenant for
// the others). It validates first: an invalid list changes nothing and
// returns a *ValidationError. Hooks whose ID and settings are unchanged
// keep running untouched; changed hooks get a new pipeline; the pipelines
// of removed and changed hooks stop taking events and drain in the
// background, delivering or dead-lettering everything they hold.
func (d *Dispatcher) SetHooks(hooks []Hook) error {
	_, err := d.setHooks("", hooks)
	return err
}

func hooksEqual(a, b Hook) bool {
	return a.ID == b.ID && a.Enabled == b.Enabled && a.HookType == b.HookType &&
		a.SQSQueueURL == b.SQSQueueURL && a.SQSRegion == b.SQSRegion &&
		a.SQSAuthType == b.SQSAuthType && a.SQSKey == b.SQSKey && a.SQSSecret == b.SQSSecret &&
		a.SQSRoleARN == b.SQSRoleARN && slices.Equal(a.EventTypes, b.EventTypes) &&
		a.BodyEncoding == b.BodyEncoding
}

// pipeDone is called by a pipe (without its lock) once it has drained after
// being retired or closed.
func (d *Dispatcher) pipeDone(p *pipe) {
	p.releaseClient()
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pipes, p)
	d.untrackDraining(p)
	d.closeIdleLocked()
}

func (d *Dispatcher) closeIdleLocked() {
	if d.idle != nil && !d.idleClosed && len(d.pipes) == 0 {
		close(d.idle)
		d.idleClosed = true
	}
}

// Publish delivers ev to every enabled hook whose filter matches ev.Type. It
// returns once each matching hook has queued its copy or dead-lettered it.
// It first queues every copy that has room, then applies the overflow rule
// (WithOverflowWait) to the copies of hooks that are full — whose hook, tenant
// or dispatcher holds all it may (WithMaxBuffered, WithDispatcherLimits):
// by default such a copy is dead-lettered at once with ReasonBufferFull and
// the returned error wraps ErrBufferFull; with OverflowWait Publish waits
// for room up to the bound of WithOverflowWait or until ctx ends, except for
// a failing hook (see Health), which never makes it wait. With a spool
// (WithSpool) the event is recorded first and a full hook's copy spills to
// the spool instead. Copies the size
// guard refuses are dead-lettered at once (ReasonTooLarge,
// ReasonInvalidContents, ReasonInvalidField) and reported in the error as
// *DeliveryError values. An event without type or body returns an error
// wrapping ErrInvalidEvent and goes nowhere.
//
// After Close, Publish returns ErrClosed.
func (d *Dispatcher) Publish(ctx context.Context, ev Event) error {
	return d.publish(ctx, d.def.snap.Load(), ev, true)
}

// TryPublish is Publish without waiting: a hook that is full dead-letters
// its copy with ReasonBufferFull, and the error wraps ErrBufferFull.
func (d *Dispatcher) TryPublish(ev Event) error {
	return d.publish(context.Background(), d.def.snap.Load(), ev, false)
}

func (d *Dispatcher) publish(ctx context.Context, snap *snapshot, ev Event, wait bool) error {
	if d.closed.Load() {
		return ErrClosed
	}
	var ed *eventData
	var errs []error
	var full []*pipe
	for _, p := range snap.pipes {
		if !p.filter.Match(ev.Type) {
			continue
		}
		if ed == nil {
			var err error
			if ed, err = d.prepare(ev); err != nil {
				return err
			}
			d.tel.publish(ctx, ed, d.cfg.clock)
			if d.store != nil {
				// Recorded once, with every matched copy pending, before
				// any is queued.
				if err := d.store.record(ctx, d, snap, ed, wait); err != nil {
					return err
				}
				if d.store.recordsOnly(ed) {
					return nil // each hook's owner fetches its copy (WithPostgres)
				}
			}
		}
		f, err := p.offer(ed)
		if err != nil {
			errs = append(errs, err)
		}
		if f != nil {
			full = append(full, f)
		}
	}
	// The copies of hooks with room are queued; only now may Publish wait.
	for _, p := range full {
		if err := p.overflow(ctx, ed, wait); err != nil {
			errs = append(errs, err)
		}
	}
	if ed == nil && (ev.Type == "" || len(ev.Body) == 0) {
		_, err := d.prepare(ev) // report an invalid event even when nothing matched
		return err
	}
	return errors.Join(errs...)
}

// Consume publishes every event received from events until the channel is
// closed (then it returns nil), ctx ends (ctx.Err()) or the dispatcher is
// closed (ErrClosed). Per-event failures are dead-lettered as with Publish
// and do not stop it. The caller owns and closes the channel.
func (d *Dispatcher) Consume(ctx context.Context, events <-chan Event) error {
	for {
		if d.closed.Load() {
			return ErrClosed
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.closing:
			return ErrClosed
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			if err := d.Publish(ctx, ev); errors.Is(err, ErrClosed) {
				return err
			} else if err != nil && ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
}

// Flush waits until every event accepted before the call has been delivered
// or dead-lettered, sending partial batches at once instead of lingering. It
// returns nil then, or ctx's error when ctx ends first (delivery goes on).
// After Close, Flush returns ErrClosed.
//
// With WithPostgres, the events are those this instance recorded, Publish
// and PublishTx alike, and Flush waits until the database holds none of
// their copies: delivered or dead-lettered by whichever instance owns
// each hook (dead letters are reported by that instance).
func (d *Dispatcher) Flush(ctx context.Context) error {
	if d.closed.Load() {
		return ErrClosed
	}
	d.mu.Lock()
	pipes := d.pipeListLocked()
	d.mu.Unlock()
	if d.store != nil && d.store.pg != nil {
		if err := d.store.pg.flush(ctx, pipes, d.closing); err != nil {
			return err
		}
		d.mu.Lock()
		pipes = d.pipeListLocked() // then the copies this instance fetched meanwhile
		d.mu.Unlock()
	}
	var waits []*flushWaiter
	defer func() {
		for i, w := range waits {
			pipes[i].cancelFlush(w)
		}
	}()
	for _, p := range pipes {
		waits = append(waits, p.flush())
	}
	for _, w := range waits {
		select {
		case <-w.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

// Close stops the dispatcher, like http.Server.Shutdown: it stops taking
// events (Publish and the others return ErrClosed from then on), sends what
// every hook holds without lingering, and waits until all of it is delivered
// or dead-lettered. If ctx ends first, Close cancels the calls in flight,
// dead-letters everything still held with ReasonShutdown (an event whose
// call was canceled may have reached SQS all the same), and returns ctx's
// error. In both cases Close returns only after every goroutine of the
// dispatcher has exited. Close is idempotent; later calls wait the same way.
func (d *Dispatcher) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		d.mu.Lock()
		d.final = d.statsOrderLocked() // Stats keeps reporting them
		d.closed.Store(true)
		close(d.closing)
		d.eachTenant(func(t *tenant) { t.snap.Store(emptySnapshot) })
		d.idle = make(chan struct{})
		d.closeIdleLocked()
		pipes := d.pipeListLocked()
		d.mu.Unlock()
		d.stopResumeWait() // parked copies stay in the spool
		for _, p := range pipes {
			p.retire()
		}
	})
	var err error
	select {
	case <-d.idle:
	case <-ctx.Done():
		if d.holdsNothing() {
			<-d.idle // nothing to give up on: the pipes finish by themselves
		} else {
			err = ctx.Err()
			d.abort()
		}
	}
	d.wg.Wait()
	if e := d.closeSpool(); e != nil && err == nil {
		err = e
	}
	d.cancelSend()
	d.tel.close()
	if d.pool != nil {
		d.pool.CloseIdleConnections()
	}
	return err
}

// pipeListLocked lists every pipe, active and draining; d.mu is held.
func (d *Dispatcher) pipeListLocked() []*pipe {
	pipes := make([]*pipe, 0, len(d.pipes))
	for p := range d.pipes {
		pipes = append(pipes, p)
	}
	return pipes
}

// holdsNothing reports whether no hook holds an event or a call in flight.
func (d *Dispatcher) holdsNothing() bool {
	d.mu.Lock()
	pipes := d.pipeListLocked()
	d.mu.Unlock()
	for _, p := range pipes {
		p.mu.Lock()
		busy := p.pending > 0 || p.inflight > 0 || p.diskBusyLocked()
		p.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

// abort gives up on delivery: calls in flight are canceled and everything
// held is dead-lettered with ReasonShutdown.
func (d *Dispatcher) abort() {
	d.abortOnce.Do(func() {
		d.cancelSend()
		d.mu.Lock()
		pipes := d.pipeListLocked()
		d.mu.Unlock()
		for _, p := range pipes {
			p.abort()
		}
	})
}

// Stats returns a snapshot of every hook's counters, all tenants: active
// hooks of the default tenant in configuration order, then those of the
// other tenants by tenant id, then hooks still draining after removal.
// After Close it keeps reporting the hooks as they were at the end (all
// Draining). It reads each hook on its own and makes no SetHooks or
// Publish wait for the whole list.
func (d *Dispatcher) Stats() Stats {
	s := d.stats(d.statsPipes())
	s.Spool = d.spoolStats()
	return s
}

// statsOrderLocked is statsOrder; d.mu is held.
func (d *Dispatcher) statsOrderLocked() []*pipe { return d.statsOrder() }

// dispatchDeadLetters reports dead letters; never called with a lock held.
func (d *Dispatcher) dispatchDeadLetters(dls []DeadLetter) {
	for _, dl := range dls {
		if dl.Reason == "" {
			continue // kept in the spool by Close: not a dead letter
		}
		if d.cfg.deadLetter != nil {
			d.callDeadLetter(dl)
			d.settleDeadLetter(dl)
			continue
		}
		d.cfg.logger.Warn("sqshook: event not delivered",
			slog.String("tenant", dl.Tenant),
			slog.String("hook_id", dl.HookID),
			slog.String("event_type", dl.Event.Type),
			slog.String("event_id", dl.Event.ID),
			slog.String("reason", string(dl.Reason)),
			slog.String("code", dl.Code),
			slog.String("message", dl.Message),
			slog.Int("attempts", dl.Attempts),
		)
		d.settleDeadLetter(dl)
	}
}

// String describes the dispatcher without its hooks' credentials: the
// number of hooks and whether it is closed.
func (d *Dispatcher) String() string {
	return fmt.Sprintf("sqshook.Dispatcher{hooks: %d, closed: %t}", d.hookCount(), d.closed.Load())
}

func (d *Dispatcher) hookCount() int {
	n := 0
	d.eachTenant(func(t *tenant) { n += len(t.snap.Load().pipes) })
	return n
}

// Format implements fmt.Formatter: every verb prints String, so that
// printing a dispatcher cannot show its hooks' secrets.
func (d *Dispatcher) Format(f fmt.State, _ rune) { fmt.Fprint(f, d.String()) }

// LogValue implements slog.LogValuer, for the same reason as Format.
func (d *Dispatcher) LogValue() slog.Value {
	return slog.GroupValue(slog.Int("hooks", d.hookCount()), slog.Bool("closed", d.closed.Load()))
}

// callDeadLetter runs the dead-letter callback; a panic in it is recovered,
// counted (Stats.CallbackPanics) and logged, so it cannot take the
// dispatcher down.
func (d *Dispatcher) callDeadLetter(dl DeadLetter) {
	defer func() {
		if r := recover(); r != nil {
			d.countPanic()
			d.cfg.logger.Error("sqshook: dead-letter callback panicked",
				slog.String("tenant", dl.Tenant),
				slog.String("hook_id", dl.HookID),
				slog.String("event_id", dl.Event.ID),
				slog.String("reason", string(dl.Reason)),
				slog.Any("panic", r),
			)
		}
	}()
	d.cfg.deadLetter(dl)
}

func (d *Dispatcher) countPanic() { d.panics.Add(1) }

// recoverHandler passes records to the user's handler and recovers (and
// counts) its panics.
type recoverHandler struct {
	inner  slog.Handler
	panics *atomic.Uint64
}

func (h recoverHandler) Enabled(ctx context.Context, l slog.Level) (ok bool) {
	defer h.recover()
	return h.inner.Enabled(ctx, l)
}

func (h recoverHandler) Handle(ctx context.Context, r slog.Record) error {
	defer h.recover()
	return h.inner.Handle(ctx, r)
}

func (h recoverHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return recoverHandler{inner: h.inner.WithAttrs(attrs), panics: h.panics}
}

func (h recoverHandler) WithGroup(name string) slog.Handler {
	return recoverHandler{inner: h.inner.WithGroup(name), panics: h.panics}
}

func (h recoverHandler) recover() {
	if r := recover(); r != nil {
		h.panics.Add(1)
	}
}

// lastError is the most recent failure a hook saw.
type lastError struct {
	Code    string
	Message string
	Time    time.Time
}
