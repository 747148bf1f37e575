// tenant.go owns tenants: the per-tenant hook lists and snapshots that
// route a tenant's events to its own hooks only, the Tenant handle, the
// rule of tenant ids, RemoveTenant, the tenant's ExternalId and the rules a
// tenant's hook list must meet.

package sqshook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// MaxTenantIDLen is the longest tenant id, in bytes (see ValidateTenantID).
const MaxTenantIDLen = 128

// tenantIDChars are the characters a tenant id may hold besides ASCII
// letters and digits: those of an ExternalId (a tenant's ExternalId is its
// id by default, see WithTenantExternalID).
const tenantIDChars = "_+=,.@:/-"

// ValidateTenantID reports whether id may name a tenant (Dispatcher.Tenant,
// RemoveTenant): 1 to MaxTenantIDLen bytes of ASCII letters, digits and
// the characters _ + = , . @ : / - (those STS allows in an ExternalId, which
// a tenant's id is by default). Ids are compared byte for byte: "Acme" and
// "acme" are two tenants; nothing is normalised. The empty id is not a
// tenant's name: Dispatcher.Tenant("") is the default tenant. The error
// wraps ErrInvalidTenantID and quotes at most the first 32 bytes of id,
// escaped.
func ValidateTenantID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: empty (the default tenant is Dispatcher.Tenant(\"\"), not a named tenant)", ErrInvalidTenantID)
	case len(id) > MaxTenantIDLen:
		return fmt.Errorf("%w %s: %d bytes, over the limit of %d", ErrInvalidTenantID, quotePrefix(id), len(id), MaxTenantIDLen)
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte(tenantIDChars, c) >= 0) {
			return fmt.Errorf("%w %s: byte %d (%#02x) is not allowed: a tenant id is 1-%d bytes of ASCII letters, digits and %s", ErrInvalidTenantID, quotePrefix(id), i, c, MaxTenantIDLen, tenantIDChars)
		}
	}
	return nil
}

// quotePrefix quotes at most the first 32 bytes of s, escaped, for an
// error message: a huge or binary id is not echoed whole.
func quotePrefix(s string) string {
	const n = 32
	if len(s) <= n {
		return strconv.Quote(s)
	}
	return strconv.Quote(s[:n]) + "…"
}

// checkTenantID is ValidateTenantID for an id that enters the API, where ""
// is the default tenant.
func checkTenantID(id string) error {
	if id == "" {
		return nil
	}
	return ValidateTenantID(id)
}

// tenantDigest is a short digest of s: the first 10 hex digits of its
// SHA-256. It tells apart, in a role's session name, ExternalIds that the
// name's character set and length would make look alike.
func tenantDigest(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:5])
}

// tenant is one tenant's state: its hooks, the snapshot of its active
// pipes that its events fan out to, and its share of what the dispatcher
// holds. A tenant without hooks (other than the default tenant) is dropped
// from the dispatcher's map.
type tenant struct {
	id    string
	share *share
	snap  atomic.Pointer[snapshot] // what this tenant's events fan out to

	setMu   sync.Mutex // serialises this tenant's SetHooks
	removed bool       // guarded by setMu: dropped from the map
	hooks   []Hook     // guarded by Dispatcher.mu
}

// emptySnapshot is the snapshot of a tenant without hooks.
var emptySnapshot = &snapshot{}

func (d *Dispatcher) newTenant(id string) *tenant {
	t := &tenant{id: id, share: newShare("tenant", d.cfg.maxTenantEvents, d.cfg.maxTenantBytes)}
	t.snap.Store(emptySnapshot)
	return t
}

// lookupTenant returns the tenant's state, or nil when it has no hooks.
func (d *Dispatcher) lookupTenant(id string) *tenant {
	if id == "" {
		return d.def
	}
	if v, ok := d.tenants.Load(id); ok {
		return v.(*tenant)
	}
	return nil
}

// Tenant is a handle on the hooks and events of one tenant (one app of the
// chat server, one customer). Get it with Dispatcher.Tenant where the
// server has authenticated the app: an event published through it reaches
// only that tenant's hooks, and there is no other way to name a tenant, so
// no event can reach another tenant's hooks. A Tenant is cheap (no state of
// its own; make one per call if convenient) and safe for concurrent use.
type Tenant struct {
	d   *Dispatcher
	id  string
	err error // the id breaks the rule of tenant ids
}

// Tenant returns the handle of the tenant with the given id. The id is the
// server's own name for the app, never a value from an event or from hook
// JSON; it must follow the rule of ValidateTenantID (1 to MaxTenantIDLen
// bytes of ASCII letters, digits and _+=,.@:/-). The id "" is the default
// tenant, which the Dispatcher's own Publish, SetHooks and Hooks act on. A
// tenant exists while it has hooks; its state is allocated by its first
// SetHooks.
//
// The handle of an invalid id refuses everything: Err, Publish,
// TryPublish, SetHooks and Check return an error wrapping
// ErrInvalidTenantID, CheckHook a result with its message; Hooks and Stats
// report nothing, as for a tenant without hooks.
func (d *Dispatcher) Tenant(id string) *Tenant {
	return &Tenant{d: d, id: id, err: checkTenantID(id)}
}

// ID returns the tenant's id, as given to Dispatcher.Tenant.
func (t *Tenant) ID() string { return t.id }

// Err returns nil for a valid tenant id, else the error (wrapping
// ErrInvalidTenantID) that the handle's methods return.
func (t *Tenant) Err() error { return t.err }

// Publish is Dispatcher.Publish for this tenant's hooks only. A tenant
// without hooks (never configured, or removed) takes the event nowhere and
// Publish returns nil. A copy for a hook that the tenant's removal retired
// while Publish was under way is dead-lettered with ReasonHookRemoved and
// reported in the error (a *DeliveryError wrapping ErrTenantRemoved): every
// copy Publish routed is queued or dead-lettered, none is dropped unseen.
func (t *Tenant) Publish(ctx context.Context, ev Event) error {
	if t.err != nil {
		return t.err
	}
	return t.d.publish(ctx, t.snapshot(), ev, true)
}

// TryPublish is Dispatcher.TryPublish for this tenant's hooks only; a
// tenant being removed is treated as by Publish.
func (t *Tenant) TryPublish(ev Event) error {
	if t.err != nil {
		return t.err
	}
	return t.d.publish(context.Background(), t.snapshot(), ev, false)
}

func (t *Tenant) snapshot() *snapshot {
	if s := t.d.lookupTenant(t.id); s != nil {
		return s.snap.Load()
	}
	return emptySnapshot
}

// SetHooks replaces this tenant's hook list, as Dispatcher.SetHooks does for
// the default tenant. It touches no other tenant, costs in proportion to
// this tenant's hooks, and fails only for problems of this tenant's list
// (errors name the tenant, the hook and the field). Hook ids are unique
// within a tenant; two tenants may use the same id. An empty list removes
// the tenant: its hooks drain like removed hooks and its state is freed.
// With a spool, copies New resumed for this tenant wait for the SetHooks
// that configures their hook; each SetHooks that succeeds dead-letters,
// with ReasonHookRemoved, those whose hook its list leaves out or
// disables (see WithSpool).
//
// An empty list does not wait for the tenant's hooks to drain;
// Dispatcher.RemoveTenant does, or purges them.
func (t *Tenant) SetHooks(hooks []Hook) error {
	if t.err != nil {
		return t.err
	}
	_, err := t.d.setHooks(t.id, hooks)
	return err
}

// Hooks returns a copy of this tenant's hook list.
func (t *Tenant) Hooks() []Hook {
	if t.err != nil {
		return []Hook{}
	}
	d := t.d
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.lookupTenant(t.id)
	if s == nil {
		return []Hook{}
	}
	out := make([]Hook, len(s.hooks))
	for i, h := range s.hooks {
		out[i] = h.Clone()
	}
	return out
}

// Stats returns the counters of this tenant's hooks: active hooks in
// configuration order, then hooks still draining. It reads only this
// tenant's hooks and makes no other tenant's calls wait.
func (t *Tenant) Stats() Stats {
	if t.err != nil {
		return Stats{CallbackPanics: t.d.panics.Load()}
	}
	return t.d.tenantStats(t.id)
}

// Check is Dispatcher.Check for a hook of this tenant, run with this
// tenant's ExternalId.
func (t *Tenant) Check(ctx context.Context, hookID string, opts CheckOptions) (CheckResult, error) {
	if t.err != nil {
		return CheckResult{}, t.err
	}
	return t.d.check(ctx, t.id, hookID, opts)
}

// CheckHook runs CheckHook for a hook this tenant submits (before
// SetHooks, as Stream's check_sqs does), with the dispatcher's clients and
// endpoint and this tenant's ExternalId; opts.ExternalID, opts.Client and
// opts.Endpoint are ignored. After Close it returns a result with
// ErrClosed's message.
func (t *Tenant) CheckHook(ctx context.Context, h Hook, opts CheckOptions) CheckResult {
	if t.err != nil {
		return CheckResult{Status: CheckError, Error: t.err.Error()}
	}
	if t.d.closed.Load() {
		return CheckResult{Status: CheckError, Error: ErrClosed.Error()}
	}
	return t.d.checkHook(ctx, t.id, h, nil, opts, time.Now())
}

// RemoveTenant removes the tenant with the given id: its hooks stop taking
// events at once and its state is freed, as d.Tenant(id).SetHooks(nil)
// does; then RemoveTenant waits until every copy its hooks held is
// accounted for. By default they drain: when RemoveTenant returns nil,
// every copy of the tenant's hooks has been delivered or dead-lettered
// (and reported to the dead-letter callback), and none is left to be
// delivered later. With WithPurge, the copies not yet sent (queued,
// waiting to be retried, on the spool's disk backlog) are dead-lettered
// with ReasonHookRemoved instead, and RemoveTenant waits only for the
// calls already in flight: when it returns nil, nothing more of the tenant
// is delivered. The wait covers the hooks of earlier removals of the same
// tenant that still drain.
//
// A Publish that raced the removal has its copy queued before the hooks
// stopped (and then drained or purged) or dead-lettered with
// ReasonHookRemoved (its error wraps ErrTenantRemoved); after RemoveTenant
// returns, Publish through the tenant's handle finds no hooks, as for any
// tenant without hooks, until SetHooks gives it some again.
//
// If ctx ends first, RemoveTenant returns ctx's error; the tenant is
// removed all the same and its hooks go on draining (or purging) in the
// background, and a call in flight may still deliver its copies. With a
// spool, the copies New resumed for the tenant and that still wait for its
// SetHooks are dead-lettered with ReasonHookRemoved.
//
// With WithPostgres, the copies of the removed hooks still in the
// database count as held: a removed hook's pipeline keeps taking its
// hook's lease in turn with the other instances and fetching the copies
// recorded before the removal (by transactions that had begun writing by
// then), and RemoveTenant returns nil only when the database holds none
// of them: each was delivered or dead-lettered, by this instance or by
// another that still configures the hook and owned its lease. Copies recorded after the removal (another instance still
// publishing to the hook) are that instance's to deliver, or parked (see
// WithResumeWait). WithPurge is then fleet-wide: every copy of the
// removed hooks recorded before the removal, whichever instance recorded
// it, is fetched as the lease allows and dead-lettered here with
// ReasonHookRemoved (an instance that still configures the hook and owns
// its lease delivers those it fetches). If ctx ends first, the pipelines
// go on fetching in the background; what Close leaves in the database is
// parked.
//
// Removing the default tenant "" removes its hooks and waits (or purges)
// the same way, but the default tenant stays: a Publish that raced it
// finds its hooks gone, as after SetHooks, and returns nil for them. An
// id that breaks the rule of ValidateTenantID returns an error wrapping
// ErrInvalidTenantID; after Close, RemoveTenant returns ErrClosed.
func (d *Dispatcher) RemoveTenant(ctx context.Context, id string, opts ...RemoveOption) error {
	if err := checkTenantID(id); err != nil {
		return err
	}
	var rc removeConfig
	for _, o := range opts {
		o(&rc)
	}
	retired, err := d.setHooks(id, nil)
	if err != nil {
		return err
	}
	if rc.purge {
		for _, p := range retired {
			p.purge()
		}
	}
	// A retired pipe takes no copy (a Publish that comes late dead-letters
	// it), so once what it holds is settled and reported, it is done.
	waits := make([]*flushWaiter, len(retired))
	for i, p := range retired {
		waits[i] = p.flush()
	}
	for i, w := range waits {
		select {
		case <-w.done:
		case <-ctx.Done():
			for j := i; j < len(waits); j++ {
				retired[j].cancelFlush(waits[j])
			}
			return ctx.Err()
		}
	}
	// Done: Stats no longer lists them from now on.
	for _, p := range retired {
		p.mu.Lock()
		done := p.state == pipeDone
		p.mu.Unlock()
		if done {
			d.pipeDone(p)
		}
	}
	return nil
}

// retiredPipesLocked lists the pipes of the tenant with the given id that
// are retired and not yet done: every pipe of the id that is not in the
// tenant's current snapshot; d.mu is held.
func (d *Dispatcher) retiredPipesLocked(id string) []*pipe {
	active := map[*pipe]bool{}
	if t := d.lookupTenant(id); t != nil {
		for _, p := range t.snap.Load().pipes {
			active[p] = true
		}
	}
	var out []*pipe
	for p := range d.pipes {
		if p.tenant.id == id && !active[p] {
			out = append(out, p)
		}
	}
	return out
}

// externalIDOf returns the ExternalId the server assigned to the tenant.
func (d *Dispatcher) externalIDOf(tenant string) string {
	switch {
	case tenant == "":
		return d.cfg.externalID
	case d.cfg.tenantExternalID != nil:
		return d.cfg.tenantExternalID(tenant)
	}
	return tenant
}

// multiTenant reports whether a hook list for the tenant belongs to a
// dispatcher that serves several customers.
func (d *Dispatcher) multiTenant(tenant string) bool {
	return tenant != "" || d.named.Load() > 0 || d.cfg.multiTenant
}

// validateTenant validates one tenant's hook list: the hook rules with the
// tenant's ExternalId, the limit on hooks per tenant and the rule on
// "resource" hooks across tenants. Problems of a named tenant say which
// tenant, hook and field.
func (d *Dispatcher) validateTenant(id string, hooks []Hook) ([]Hook, error) {
	ext := d.externalIDOf(id)
	opts := ValidateOptions{Endpoint: d.cfg.endpoint, RoleAuthOnly: d.cfg.roleAuthOnly}
	if ext != "" {
		opts.ExternalID = func(Hook) string { return ext }
	}
	var v validator
	var valid []Hook
	if len(hooks) > d.cfg.maxHooksPerTenant {
		v.add("hooks", fmt.Sprintf("%d hooks is over the limit of %d hooks per tenant (WithMaxHooksPerTenant)", len(hooks), d.cfg.maxHooksPerTenant))
	} else {
		var err error
		if valid, err = ValidateHooks(hooks, opts); err != nil {
			ve, ok := err.(*ValidationError)
			if !ok {
				return nil, err
			}
			v.problems = append(v.problems, ve.Problems...)
		}
	}
	if (id != "" || d.named.Load() > 0) && !d.cfg.resourceForTenants && !d.cfg.roleAuthOnly {
		for i, h := range hooks {
			if h.SQSAuthType == AuthResource {
				v.add(fmt.Sprintf("hooks[%d].sqs_auth_type", i), `"resource" auth is refused in a dispatcher that serves several tenants: every customer's queue policy allows this same server principal, so a tenant who registers another tenant's queue URL would make this server send its events there; use "role" auth (an ExternalId per tenant), or opt in with WithResourceAuthForTenants`)
			}
		}
	}
	if len(v.problems) > 0 {
		if id != "" {
			for i := range v.problems {
				v.problems[i].Field = tenantField(id, hooks, v.problems[i].Field)
			}
		}
		return nil, v.err()
	}
	return valid, nil
}

// tenantField names a problem's tenant and hook: `tenants["acme"].hooks[2]
// (id "h1").sqs_secret`.
func tenantField(tenant string, hooks []Hook, field string) string {
	name := fmt.Sprintf("tenants[%q].", tenant)
	var i int
	if _, err := fmt.Sscanf(field, "hooks[%d]", &i); err == nil && i >= 0 && i < len(hooks) && hooks[i].ID != "" {
		if j := strings.IndexByte(field, ']'); j >= 0 {
			return name + field[:j+1] + fmt.Sprintf(" (id %q)", hooks[i].ID) + field[j+1:]
		}
	}
	return name + field
}

// setHooks replaces one tenant's hook list. When the list is empty (the
// tenant is removed) it returns the tenant's pipes that are retired and
// not yet done, for RemoveTenant to wait for.
func (d *Dispatcher) setHooks(id string, hooks []Hook) ([]*pipe, error) {
	valid, err := d.validateTenant(id, hooks)
	if err != nil {
		return nil, err
	}
	for {
		if d.closed.Load() {
			return nil, ErrClosed
		}
		t := d.lookupTenant(id)
		if t == nil {
			if len(valid) == 0 {
				// Nothing to remove but, for a tenant that has not come
				// back since New, the copies the spool parked for it, and
				// the hooks of an earlier removal that still drain.
				d.dropParked(d.takeParked(id), parkedWhy(id, nil))
				d.mu.Lock()
				retired := d.retiredPipesLocked(id)
				d.mu.Unlock()
				return retired, nil
			}
			v, loaded := d.tenants.LoadOrStore(id, d.newTenant(id))
			t = v.(*tenant)
			if !loaded {
				d.named.Add(1)
			}
		}
		t.setMu.Lock()
		if t.removed { // removed meanwhile: start again with a new state
			t.setMu.Unlock()
			continue
		}
		retired, err := d.setTenantHooksLocked(t, valid)
		var dropped []parkedCopy
		if err == nil && id != "" {
			// Copies the spool parked for hooks the new list does not
			// configure (its enabled hooks adopted theirs).
			dropped = d.takeParked(id)
		}
		if err != nil && id != "" {
			d.mu.Lock()
			if len(t.hooks) == 0 { // a new tenant whose first list failed holds nothing
				d.dropTenantLocked(t)
			}
			d.mu.Unlock()
		}
		t.setMu.Unlock()
		d.dropParked(dropped, parkedWhy(id, valid)) // the callback may call SetHooks
		return retired, err
	}
}

// setTenantHooksLocked builds the pipelines of a tenant's new and changed
// hooks, then swaps its snapshot; t.setMu is held. The new pipelines (and
// their SDK clients, which may load the server's AWS configuration) are
// built outside d.mu, so a slow client does not hold up Stats, Hooks,
// Check, Close or other tenants. When valid is empty it returns the
// tenant's retired pipes that are not yet done.
func (d *Dispatcher) setTenantHooksLocked(t *tenant, valid []Hook) ([]*pipe, error) {
	old := t.snap.Load()
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
	if len(build) == 1 {
		i := build[0]
		next.pipes[i], errs[i] = d.newPipe(t, next.pipes[i].hook)
	} else if len(build) > 1 {
		var g errgroup.Group
		g.SetLimit(buildConcurrency)
		for _, i := range build {
			h := next.pipes[i].hook
			g.Go(func() error {
				next.pipes[i], errs[i] = d.newPipe(t, h)
				return nil
			})
		}
		g.Wait()
	}
	built := make([]*pipe, 0, len(build))
	var failed error
	for _, i := range build {
		if errs[i] == nil {
			built = append(built, next.pipes[i])
		} else if failed == nil {
			failed = errs[i]
		}
	}
	if failed != nil {
		releaseClients(built)
		if t.id != "" {
			return nil, fmt.Errorf("sqshook: tenant %q: %w", t.id, failed)
		}
		return nil, failed
	}
	if len(next.pipes) == 0 {
		next = emptySnapshot
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed.Load() {
		releaseClients(built)
		return nil, ErrClosed // the new pipelines hold nothing and start nothing
	}
	for _, p := range built {
		d.pipes[p] = struct{}{}
		p.adopt() // copies the spool kept for this hook, before any new one
	}
	if len(built) > 0 && d.store != nil && d.store.pg != nil {
		d.store.pg.hooksChanged() // their rows are made before a PublishTx needs them
	}
	t.hooks = valid
	t.snap.Store(next)
	if len(valid) == 0 && t.id != "" {
		d.dropTenantLocked(t)
	}
	for _, p := range byID { // removed or changed
		d.trackDraining(p)
		p.retire()
	}
	if len(valid) == 0 {
		return d.retiredPipesLocked(t.id), nil
	}
	return nil, nil
}

// releaseClients gives back the clients of pipelines that were built but
// will never run.
func releaseClients(pipes []*pipe) {
	for _, p := range pipes {
		p.releaseClient()
	}
}

// dropTenantLocked forgets a named tenant without hooks; t.setMu and d.mu
// are held.
func (d *Dispatcher) dropTenantLocked(t *tenant) {
	if !t.removed {
		t.removed = true
		d.tenants.CompareAndDelete(t.id, t)
		d.named.Add(-1)
	}
}

// eachTenant calls fn for the default tenant, then every named tenant.
func (d *Dispatcher) eachTenant(fn func(t *tenant)) {
	fn(d.def)
	d.tenants.Range(func(_, v any) bool {
		fn(v.(*tenant))
		return true
	})
}

// tenantAttr is the log attribute of a named tenant.
func tenantAttr(tenant string) slog.Attr { return slog.String("tenant", tenant) }
