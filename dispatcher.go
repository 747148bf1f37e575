// Package sqshook delivers a chat server's events to its customers' Amazon
// SQS queues, configured as event hooks in the format Stream Chat documents
// (hook_type "sqs", a queue URL and region, "keys" or "resource" auth, and an
// event_types filter).
//
// The server describes its hooks as JSON (ParseHooks) or Go values, creates a
// Dispatcher with New and calls Publish for every event. For each enabled
// hook whose filter matches the event type, the dispatcher queues a copy
// (bounded in events and bytes), packs copies into SendMessageBatch calls of
// up to ten entries, sends up to MaxInFlight calls at a time per hook,
// retries what failed transiently with exponential back-off and jitter, and
// hands everything it could not deliver to a dead-letter callback with a
// reason. Every event is either acknowledged by SQS or dead-lettered: at
// every moment and for every hook, matched = delivered + dead-lettered +
// pending (see Stats).
//
// Before an event is queued, the size guard applies SQS's rules: the body
// (raw JSON by default, or base64 or gzip+base64) must fit the per-message
// limit, characters SQS refuses inside JSON strings are escaped as \uXXXX,
// and FIFO fields are checked. Consumers read any encoding back with
// DecodeBody. Each message carries the event id (the "event_id" attribute,
// and the deduplication id on FIFO queues) so consumers can drop the rare
// duplicate of at-least-once delivery.
//
// The policy helpers write the JSON a customer attaches to the queue
// (ResourcePolicy, PermissionPolicy) and check a policy (Allows). SetHooks
// replaces the hook list while events flow; Flush waits for delivery and
// Close drains and stops, like http.Server.Shutdown. The sqstest package is
// an in-process SQS endpoint for tests.
package sqshook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"golang.org/x/sync/errgroup"
)

// Event is one chat event to deliver.
type Event struct {
	// ID identifies the event across retries and hooks; it travels as the
	// "event_id" message attribute and is the deduplication id on FIFO
	// queues when DedupID is empty. Empty: Publish assigns a unique one.
	ID string
	// Type is the event type, such as "message.new"; hooks filter on it.
	// Required.
	Type string
	// Body is the event as a JSON document. Required. Publish takes it over:
	// it is shared by every hook's copy without copying, so the caller must
	// not modify it after Publish.
	Body []byte
	// GroupID is the FIFO message group id. Empty: the dispatcher's group
	// strategy picks one (GroupByChannel by default: the body's "cid",
	// else the event type). Ignored by standard queues.
	GroupID string
	// DedupID is the FIFO deduplication id. Empty: the event id.
	DedupID string
	// Attributes are extra SQS message attributes (at most eight: sqshook
	// adds "event_id" and "event_type").
	Attributes map[string]types.MessageAttributeValue

	// valid is the body NewEvent made or checked: Publish need not check
	// that it is JSON again, as long as Body is still that slice.
	valid []byte
}

// bodyValidated reports whether Body is the JSON body NewEvent made.
func (ev *Event) bodyValidated() bool {
	return len(ev.Body) > 0 && len(ev.valid) == len(ev.Body) && unsafe.SliceData(ev.valid) == unsafe.SliceData(ev.Body)
}

// NewEvent marshals payload to JSON and returns an event of the given type.
// A payload that is already JSON ([]byte or json.RawMessage) is checked and
// used as is. Publish checks that the body of every event is JSON, except
// for the bodies NewEvent made (while Event.Body is not replaced), so an
// event built once and published many times pays for the check once.
func NewEvent(eventType string, payload any) (Event, error) {
	body, err := marshalPayload(payload)
	if err != nil {
		return Event{}, fmt.Errorf("sqshook: event %q: body: %w", eventType, err)
	}
	return Event{Type: eventType, Body: body, valid: body}, nil
}

// Message attribute names sqshook adds to every message.
const (
	AttrEventID   = "event_id"
	AttrEventType = "event_type"
)

// DeadLetter is an event that was not delivered to a hook's queue.
type DeadLetter struct {
	HookID      string
	Event       Event // as published; Event.ID is set
	Reason      Reason
	Code        string // the SQS error code, when there is one
	Message     string // the SQS error message or the rule that was broken
	SenderFault bool
	Attempts    int   // SendMessageBatch attempts made for this event
	Err         error // a *DeliveryError

	// Seq is the event's place in the order the hook accepted events: 1
	// for the first event after the hook was configured (or changed), 2 for
	// the next, and so on across all groups.
	Seq uint64
	// GroupID is the event's FIFO message group, for hooks whose queue is
	// FIFO. The group's events with a lower Seq were sent before this
	// one; those with a higher Seq continue to be delivered after it, so
	// the dead letter marks the gap in the group's order.
	GroupID string
}

// DeliveryError says why an event was not delivered to one hook. Dead
// letters carry it, and Publish and TryPublish return it (joined, one per
// hook) for copies they dead-letter at once:
//
//	var de *sqshook.DeliveryError
//	if errors.As(err, &de) && de.Reason == sqshook.ReasonTooLarge {
//		// the event does not fit SQS's message size limit
//	}
type DeliveryError struct {
	HookID      string
	EventID     string
	EventType   string
	Reason      Reason
	Code        string
	Message     string
	SenderFault bool
	Err         error // the underlying error, if any
}

func (e *DeliveryError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "sqshook: hook %q: event %s (%s) not delivered: %s", e.HookID, e.EventID, e.EventType, e.Reason)
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// ErrBufferFull is wrapped by the errors of Publish (when its context ends
// while a hook is full) and TryPublish (when a hook is full).
var ErrBufferFull = errors.New("sqshook: buffer full")

// ErrInvalidEvent is wrapped by Publish's error for an event without a type
// or body; no hook receives such an event.
var ErrInvalidEvent = errors.New("sqshook: invalid event")

// Dispatcher delivers events to the SQS queues of its hooks. Create one with
// New; the zero value is not usable. All methods are safe for concurrent
// use, and no call order panics.
type Dispatcher struct {
	cfg   settings
	rules batchRules
	pool  *ClientPool

	idPrefix string
	idSeq    atomic.Uint64

	closed atomic.Bool
	snap   atomic.Pointer[snapshot] // what Publish fans out to

	setMu sync.Mutex // serialises SetHooks, whose clients are built outside mu
	mu    sync.Mutex // guards hooks, pipes, and SetHooks/Close transitions
	hooks []Hook
	pipes map[*pipe]struct{} // active and draining
	// idle is made by Close and closed once no pipe is left.
	idle       chan struct{}
	idleClosed bool
	final      []*pipe // the pipes at Close, for Stats

	sendCtx    context.Context // canceled when Close gives up
	cancelSend context.CancelFunc
	closing    chan struct{} // closed when Close begins
	closeOnce  sync.Once
	abortOnce  sync.Once
	wg         sync.WaitGroup // every goroutine and timer callback; not an errgroup: they return no error, and timer callbacks are counted before they exist

	panics atomic.Uint64 // user callbacks that panicked
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
		pipes:    make(map[*pipe]struct{}),
		closing:  make(chan struct{}),
	}
	if cfg.clientFor == nil {
		co := cfg.clientOptions
		if co.Endpoint == "" {
			co.Endpoint = cfg.endpoint
		}
		if co.ExternalID == nil {
			co.ExternalID = cfg.externalID
		}
		co.InsecureCleartextEndpoint = co.InsecureCleartextEndpoint || cfg.insecureEndpoint
		if co.MaxIdleConnsPerHost == 0 {
			co.MaxIdleConnsPerHost = max(DefaultMaxIdleConnsPerHost, cfg.maxInFlight)
		}
		d.pool = NewClientPool(co)
		d.cfg.endpoint = d.pool.Endpoint()
		d.cfg.clientFor = func(ctx context.Context, h Hook) (SQSAPI, error) { return d.pool.Client(ctx, h) }
	} else {
		d.cfg.endpoint = ResolveEndpoint(cfg.endpoint)
	}
	// A logger whose handler panics must not take a sender down.
	d.cfg.logger = slog.New(recoverHandler{inner: d.cfg.logger.Handler(), panics: &d.panics})
	if d.pool != nil && d.pool.endpointErr != nil {
		return nil, d.pool.endpointErr
	}
	if err := CheckEndpoint(d.cfg.endpoint, d.cfg.insecureEndpoint || d.cfg.clientOptions.InsecureCleartextEndpoint); err != nil {
		return nil, fmt.Errorf("sqshook: %w", err)
	}
	d.sendCtx, d.cancelSend = context.WithCancel(context.Background())
	d.snap.Store(&snapshot{})
	if err := d.SetHooks(hooks); err != nil {
		d.cancelSend()
		return nil, err
	}
	return d, nil
}

func (d *Dispatcher) validateOptions() ValidateOptions {
	return ValidateOptions{Endpoint: d.cfg.endpoint, ExternalID: d.cfg.externalID, RoleAuthOnly: d.cfg.roleAuthOnly}
}

// Hooks returns a copy of the current hook list (with generated IDs filled
// in), for the read–modify–write-back pattern of Stream's update_app.
func (d *Dispatcher) Hooks() []Hook {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]Hook, len(d.hooks))
	for i, h := range d.hooks {
		out[i] = h.Clone()
	}
	return out
}

// buildConcurrency is how many hooks' pipelines (and SDK clients) SetHooks
// builds at once.
const buildConcurrency = 8

// SetHooks replaces the hook list whole. It validates first: an invalid list
// changes nothing and returns a *ValidationError. Hooks whose ID and settings
// are unchanged keep running untouched; changed hooks get a new pipeline;
// the pipelines of removed and changed hooks stop taking events and drain in
// the background, delivering or dead-lettering everything they hold.
func (d *Dispatcher) SetHooks(hooks []Hook) error {
	valid, err := ValidateHooks(hooks, d.validateOptions())
	if err != nil {
		return err
	}
	// The new pipelines (and their SDK clients, which may load the
	// server's AWS configuration) are built outside mu, so a slow client
	// does not hold up Stats, Hooks, Check or Close; setMu keeps SetHooks
	// calls in order.
	d.setMu.Lock()
	defer d.setMu.Unlock()
	if d.closed.Load() {
		return ErrClosed
	}
	old := d.snap.Load()
	byID := make(map[string]*pipe, len(old.pipes))
	for _, p := range old.pipes {
		byID[p.hook.ID] = p
	}
	next := &snapshot{}
	var build []int // indexes in next.pipes of the hooks that need a new pipeline
	for _, h := range valid {
		if !h.Enabled {
			continue
		}
		if p, ok := byID[h.ID]; ok && hooksEqual(p.hook, h) {
			delete(byID, h.ID)
			next.pipes = append(next.pipes, p)
			continue
		}
		build = append(build, len(next.pipes))
		next.pipes = append(next.pipes, &pipe{hook: h}) // replaced below
	}
	// The clients of many new hooks are built a few at a time: each may
	// load the server's AWS configuration or wait on a slow credential
	// source. An error is reported for the first failing hook in list order,
	// whichever finishes first.
	errs := make([]error, len(next.pipes))
	var g errgroup.Group
	g.SetLimit(buildConcurrency)
	for _, i := range build {
		h := next.pipes[i].hook
		g.Go(func() error {
			next.pipes[i], errs[i] = d.newPipe(h)
			return nil
		})
	}
	g.Wait()
	built := make([]*pipe, 0, len(build))
	for _, i := range build {
		if errs[i] != nil {
			return errs[i]
		}
		built = append(built, next.pipes[i])
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		return ErrClosed // the new pipelines hold nothing and start nothing
	}
	for _, p := range built {
		d.pipes[p] = struct{}{}
	}
	d.hooks = valid
	d.snap.Store(next)
	for _, p := range byID { // removed or changed
		p.retire()
	}
	return nil
}

func hooksEqual(a, b Hook) bool {
	return a.ID == b.ID && a.Enabled == b.Enabled && a.HookType == b.HookType &&
		a.SQSQueueURL == b.SQSQueueURL && a.SQSRegion == b.SQSRegion &&
		a.SQSAuthType == b.SQSAuthType && a.SQSKey == b.SQSKey && a.SQSSecret == b.SQSSecret &&
		a.SQSRoleARN == b.SQSRoleARN && slices.Equal(a.EventTypes, b.EventTypes)
}

// pipeDone is called by a pipe (without its lock) once it has drained after
// being retired or closed.
func (d *Dispatcher) pipeDone(p *pipe) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.pipes, p)
	d.closeIdleLocked()
}

func (d *Dispatcher) closeIdleLocked() {
	if d.idle != nil && !d.idleClosed && len(d.pipes) == 0 {
		close(d.idle)
		d.idleClosed = true
	}
}

// Publish delivers ev to every enabled hook whose filter matches ev.Type. It
// returns once each matching hook has queued its copy. When a hook is full
// (see WithMaxBuffered), Publish waits for room until ctx ends; then that
// hook's copy is dead-lettered with ReasonBufferFull and the returned error
// wraps ErrBufferFull. Copies the size guard refuses are dead-lettered at
// once (ReasonTooLarge, ReasonInvalidContents, ReasonInvalidField) and
// reported in the error as *DeliveryError values. An event without type or
// body returns an error wrapping ErrInvalidEvent and goes nowhere.
//
// After Close, Publish returns ErrClosed.
func (d *Dispatcher) Publish(ctx context.Context, ev Event) error {
	return d.publish(ctx, ev, true)
}

// TryPublish is Publish without waiting: a hook that is full dead-letters
// its copy with ReasonBufferFull, and the error wraps ErrBufferFull.
func (d *Dispatcher) TryPublish(ev Event) error {
	return d.publish(context.Background(), ev, false)
}

func (d *Dispatcher) publish(ctx context.Context, ev Event, wait bool) error {
	if d.closed.Load() {
		return ErrClosed
	}
	snap := d.snap.Load()
	var ed *eventData
	var errs []error
	for _, p := range snap.pipes {
		if !p.filter.Match(ev.Type) {
			continue
		}
		if ed == nil {
			var err error
			if ed, err = d.prepare(ev); err != nil {
				return err
			}
		}
		if err := p.enqueue(ctx, ed, wait); err != nil {
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
func (d *Dispatcher) Flush(ctx context.Context) error {
	if d.closed.Load() {
		return ErrClosed
	}
	d.mu.Lock()
	pipes := d.pipeListLocked()
	d.mu.Unlock()
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
		d.snap.Store(&snapshot{})
		d.idle = make(chan struct{})
		d.closeIdleLocked()
		pipes := d.pipeListLocked()
		d.mu.Unlock()
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
	d.cancelSend()
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
		busy := p.pending > 0 || p.inflight > 0
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

// Stats returns a snapshot of every hook's counters: active hooks in
// configuration order, then hooks still draining after removal. After Close
// it keeps reporting the hooks as they were at the end (all Draining).
func (d *Dispatcher) Stats() Stats {
	d.mu.Lock()
	pipes := d.statsOrderLocked()
	if d.closed.Load() {
		pipes = d.final
	}
	d.mu.Unlock()
	s := Stats{CallbackPanics: d.panics.Load()}
	for _, p := range pipes {
		s.Hooks = append(s.Hooks, p.stats())
	}
	return s
}

// statsOrderLocked lists active pipes in configuration order, then the
// draining ones by hook id.
func (d *Dispatcher) statsOrderLocked() []*pipe {
	active := d.snap.Load().pipes
	inActive := make(map[*pipe]bool, len(active))
	for _, p := range active {
		inActive[p] = true
	}
	var draining []*pipe
	for p := range d.pipes {
		if !inActive[p] {
			draining = append(draining, p)
		}
	}
	slices.SortFunc(draining, func(a, b *pipe) int { return strings.Compare(a.hook.ID, b.hook.ID) })
	return append(slices.Clone(active), draining...)
}

// eventData is one published event, shared read-only by every hook's copy.
type eventData struct {
	ev    Event
	id    string
	body  string // the SQS message body: encoded and repaired
	size  int    // SQS message size, attributes included
	guard error  // non-nil: the size guard refused the event

	// One allocation serves the common case of one matching hook: the
	// generated id's bytes and the first hook's entry live here.
	idBuf     [eventIDBufLen]byte
	first     entry
	firstUsed bool
}

// newEntry returns an entry for one hook's copy of the event. Copies are
// made one after the other by the publishing goroutine.
func (ed *eventData) newEntry() *entry {
	if !ed.firstUsed {
		ed.firstUsed = true
		return &ed.first
	}
	return new(entry)
}

func (d *Dispatcher) prepare(ev Event) (*eventData, error) {
	var problems []string
	if ev.Type == "" {
		problems = append(problems, "type: required")
	}
	if len(ev.Body) == 0 {
		problems = append(problems, "body: required (a JSON document)")
	}
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalidEvent, strings.Join(problems, "; "))
	}
	ed := &eventData{ev: ev}
	if ev.ID == "" {
		ed.id = d.newEventID(&ed.idBuf)
		ed.ev.ID = ed.id
	} else {
		ed.id = ev.ID
	}
	if len(ev.Attributes) > 0 {
		for _, name := range []string{AttrEventID, AttrEventType} {
			if _, ok := ev.Attributes[name]; ok {
				ed.guard = &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes[" + name + "]", Detail: "reserved for sqshook"}
			}
		}
		if len(ev.Attributes) > 8 {
			ed.guard = &GuardError{Reason: ReasonInvalidField, Field: "MessageAttributes", Detail: "at most 8 attributes (sqshook adds 2, SQS allows 10)"}
		}
		if ed.guard == nil {
			ed.guard = CheckAttributes(ev.Attributes)
		}
	}
	if ed.guard == nil {
		body, err := d.cfg.guard.encode(ev.Body)
		// A raw body that needed repair was checked as JSON by RepairJSON.
		repaired := d.cfg.guard.raw() && unsafe.StringData(body) != unsafe.SliceData(ev.Body)
		if err == nil && !repaired && !ev.bodyValidated() && !validJSON(ev.Body) {
			err = &GuardError{Reason: ReasonInvalidContents, Field: "body", Detail: "not a JSON document"}
		}
		if err != nil {
			ed.guard = err
		} else {
			ed.body = body
			ed.size = MessageSize(body, ev.Attributes) + ownAttributesSize(ed.id, ev.Type)
			if max := d.cfg.guard.Limit(); ed.size > max {
				ed.guard = &GuardError{Reason: ReasonTooLarge, Field: "message", Bytes: ed.size, Max: max}
			}
		}
	}
	return ed, nil
}

// ownAttributesSize is what the attributes sqshook adds count toward the
// message size.
func ownAttributesSize(id, eventType string) int {
	return len(AttrEventID) + len("String") + len(id) + len(AttrEventType) + len("String") + len(eventType)
}

// attributes returns the message attributes of ed's messages.
// attributes returns the event's message attributes, its own and sqshook's,
// for one call. The map is not kept with the event: it is larger than a
// chat event's body, and events wait in memory through outages. Its values
// point into the event's data (the SDK only reads them).
func (ed *eventData) attributes() map[string]types.MessageAttributeValue {
	m := make(map[string]types.MessageAttributeValue, len(ed.ev.Attributes)+2)
	for k, v := range ed.ev.Attributes {
		m[k] = v
	}
	m[AttrEventID] = types.MessageAttributeValue{DataType: &stringDataType, StringValue: &ed.id}
	m[AttrEventType] = types.MessageAttributeValue{DataType: &stringDataType, StringValue: &ed.ev.Type}
	return m
}

// stringDataType is the DataType of sqshook's attributes; the SDK only
// reads it.
var stringDataType = "String"

// newEventID makes a unique event id in buf, which must not change
// afterwards: the id is the prefix of this dispatcher, '-' and a sequence
// number in base 36. It allocates nothing.
func (d *Dispatcher) newEventID(buf *[eventIDBufLen]byte) string {
	b := append(buf[:0], d.idPrefix...)
	b = append(b, '-')
	b = strconv.AppendUint(b, d.idSeq.Add(1), 36)
	return unsafe.String(&buf[0], len(b))
}

// eventIDBufLen holds a 16-digit prefix, '-' and a 64-bit number in base 36.
const eventIDBufLen = 16 + 1 + 13

// dispatchDeadLetters reports dead letters; never called with a lock held.
func (d *Dispatcher) dispatchDeadLetters(dls []DeadLetter) {
	for _, dl := range dls {
		if d.cfg.deadLetter != nil {
			d.callDeadLetter(dl)
			continue
		}
		d.cfg.logger.Warn("sqshook: event not delivered",
			slog.String("hook_id", dl.HookID),
			slog.String("event_type", dl.Event.Type),
			slog.String("event_id", dl.Event.ID),
			slog.String("reason", string(dl.Reason)),
			slog.String("code", dl.Code),
			slog.String("message", dl.Message),
			slog.Int("attempts", dl.Attempts),
		)
	}
}

// String describes the dispatcher without its hooks' credentials: the
// number of hooks and whether it is closed.
func (d *Dispatcher) String() string {
	return fmt.Sprintf("sqshook.Dispatcher{hooks: %d, closed: %t}", d.hookCount(), d.closed.Load())
}

func (d *Dispatcher) hookCount() int {
	if s := d.snap.Load(); s != nil {
		return len(s.pipes)
	}
	return 0
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

// marshalPayload returns the JSON body of a payload.
func marshalPayload(payload any) ([]byte, error) {
	switch v := payload.(type) {
	case json.RawMessage:
		if !json.Valid(v) {
			return nil, errors.New("not valid JSON")
		}
		return v, nil
	case []byte:
		if !json.Valid(v) {
			return nil, errors.New("not valid JSON")
		}
		return v, nil
	}
	return json.Marshal(payload)
}
