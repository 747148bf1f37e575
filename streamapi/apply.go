// This file owns how accepted hook lists reach delivery: the Applier
// interface, TenantApplier and TenantChecker, which make each app a tenant
// of one sqshook.Dispatcher, and Dispatchers, which keeps one
// sqshook.Dispatcher per app instead.

package streamapi

import (
	"context"
	"errors"
	"sort"
	"sync"

	"github.com/sqshook/sqshook"
)

// Applier puts an app's validated SQS hooks into effect (for a Dispatcher:
// SetHooks). It must change nothing when it returns an error: the Handler
// then restores the stored list.
type Applier interface {
	ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error
}

// TenantApplier returns an Applier that puts each app's hooks into effect
// as the app's tenant of d: d.Tenant(tenant).SetHooks(hooks). An app's
// events then reach only its own hooks, every app shares d's clients,
// connections and limits, and an empty list removes the tenant. This is
// the form to use; the server publishes an app's events with
// d.Tenant(tenant).Publish.
func TenantApplier(d *sqshook.Dispatcher) Applier { return tenantApplier{d} }

type tenantApplier struct{ d *sqshook.Dispatcher }

func (a tenantApplier) ApplyHooks(_ context.Context, tenant string, hooks []sqshook.Hook) error {
	return a.d.Tenant(tenant).SetHooks(hooks)
}

// TenantChecker returns a Checker for Options.Check that checks a hook as
// the tenant of d would send with it (sqshook.Tenant.CheckHook): d's
// clients and endpoint, the tenant's ExternalId, and the warnings of a
// dispatcher that serves several customers.
func TenantChecker(d *sqshook.Dispatcher) Checker {
	return func(ctx context.Context, tenant string, h sqshook.Hook) sqshook.CheckResult {
		return d.Tenant(tenant).CheckHook(ctx, h, sqshook.CheckOptions{MultiTenant: true})
	}
}

// Dispatchers is an Applier that keeps one *sqshook.Dispatcher per app,
// created on the app's first update with the options given to
// NewDispatchers: the alternative to TenantApplier for servers that want
// apps to share nothing (each app its own clients, connections and
// limits). It is safe for concurrent use.
type Dispatchers struct {
	opts func(tenant string) []sqshook.Option

	mu     sync.Mutex
	m      map[string]*sqshook.Dispatcher
	closed bool
}

// NewDispatchers returns an empty Dispatchers whose dispatchers are created
// with opts (for example sqshook.WithEndpoint). Every app gets the same
// options: never give sqshook.WithExternalID here, or every app would share
// one ExternalId and one app could register another's role; use
// NewDispatchersFunc.
func NewDispatchers(opts ...sqshook.Option) *Dispatchers {
	return NewDispatchersFunc(func(string) []sqshook.Option { return opts })
}

// NewDispatchersFunc returns an empty Dispatchers whose dispatcher for
// tenant is created with fn(tenant), called once, on the app's first
// update. It is how options that differ between apps are given, above all
// sqshook.WithExternalID with the ExternalId the server assigned to the app
// (with Options.Validation and Options.Check saying the same ExternalId).
func NewDispatchersFunc(fn func(tenant string) []sqshook.Option) *Dispatchers {
	return &Dispatchers{opts: fn, m: make(map[string]*sqshook.Dispatcher)}
}

// ApplyHooks implements Applier: SetHooks on the app's dispatcher, or
// sqshook.New for the app's first hooks.
// SetHooks runs outside the lock that Publish and the other apps' updates
// take; the Handler never updates one app concurrently.
func (ds *Dispatchers) ApplyHooks(_ context.Context, tenant string, hooks []sqshook.Hook) error {
	ds.mu.Lock()
	if ds.closed {
		ds.mu.Unlock()
		return sqshook.ErrClosed
	}
	d, ok := ds.m[tenant]
	if !ok {
		defer ds.mu.Unlock()
		d, err := sqshook.New(hooks, ds.opts(tenant)...)
		if err != nil {
			return err
		}
		ds.m[tenant] = d
		return nil
	}
	ds.mu.Unlock()
	return d.SetHooks(hooks)
}

// Dispatcher returns the app's dispatcher, or nil before its first update.
func (ds *Dispatchers) Dispatcher(tenant string) *sqshook.Dispatcher {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	return ds.m[tenant]
}

// Publish publishes ev to the app's hooks. An app without a dispatcher has
// no hooks: nothing is delivered and Publish returns nil.
func (ds *Dispatchers) Publish(ctx context.Context, tenant string, ev sqshook.Event) error {
	d := ds.Dispatcher(tenant)
	if d == nil {
		return nil
	}
	return d.Publish(ctx, ev)
}

func (ds *Dispatchers) all() []*sqshook.Dispatcher {
	ds.mu.Lock()
	defer ds.mu.Unlock()
	names := make([]string, 0, len(ds.m))
	for t := range ds.m {
		names = append(names, t)
	}
	sort.Strings(names)
	out := make([]*sqshook.Dispatcher, 0, len(names))
	for _, t := range names {
		out = append(out, ds.m[t])
	}
	return out
}

// Flush flushes every app's dispatcher (see sqshook.Dispatcher.Flush).
func (ds *Dispatchers) Flush(ctx context.Context) error {
	var errs []error
	for _, d := range ds.all() {
		errs = append(errs, d.Flush(ctx))
	}
	return errors.Join(errs...)
}

// Close closes every app's dispatcher (see sqshook.Dispatcher.Close);
// ApplyHooks afterwards returns sqshook.ErrClosed.
func (ds *Dispatchers) Close(ctx context.Context) error {
	ds.mu.Lock()
	ds.closed = true
	ds.mu.Unlock()
	var errs []error
	for _, d := range ds.all() {
		errs = append(errs, d.Close(ctx))
	}
	return errors.Join(errs...)
}
