// This file owns how accepted hook lists reach delivery: the Applier
// interface, TenantApplier and TenantChecker, which make each app a tenant
// of one sqshook.Dispatcher, and Tenants, a dispatcher bundled with both.

package streamapi

import (
	"context"

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
// connections and limits, and an empty list removes the tenant. The server
// publishes an app's events with d.Tenant(tenant).Publish. Each hook's
// bodies are sent in the encoding the app's settings give it
// (sqshook.Hook.BodyEncoding, which the Handler sets).
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

// Tenants is a dispatcher whose tenants are apps, with TenantApplier and
// TenantChecker bundled: the same model, for a server that lets streamapi
// own its dispatcher (sqshook serve does). An app's events reach only its
// own hooks, every app shares the dispatcher's clients, connections and
// limits, and each hook's bodies are sent in the encoding the app's
// settings give it (sqshook.Hook.BodyEncoding, set by the Handler). It is
// safe for concurrent use.
type Tenants struct {
	d *sqshook.Dispatcher
}

// NewTenants returns a Tenants whose dispatcher is made with opts (for
// example sqshook.WithEndpoint, sqshook.WithTenantExternalID).
func NewTenants(opts ...sqshook.Option) (*Tenants, error) {
	d, err := sqshook.New(nil, opts...)
	if err != nil {
		return nil, err
	}
	return &Tenants{d: d}, nil
}

// Dispatcher returns the dispatcher.
func (ts *Tenants) Dispatcher() *sqshook.Dispatcher { return ts.d }

// ApplyHooks implements Applier (TenantApplier).
func (ts *Tenants) ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error {
	return tenantApplier{ts.d}.ApplyHooks(ctx, tenant, hooks)
}

// Hooks returns the app's hooks.
func (ts *Tenants) Hooks(tenant string) []sqshook.Hook { return ts.d.Tenant(tenant).Hooks() }

// Encoding returns the encoding the app's hook with id is delivered in,
// and false when the app has no such hook.
func (ts *Tenants) Encoding(tenant, id string) (sqshook.Encoding, bool) {
	for _, h := range ts.d.Tenant(tenant).Hooks() {
		if h.ID == id {
			if h.BodyEncoding == "" {
				return sqshook.EncodingRaw, true
			}
			return h.BodyEncoding, true
		}
	}
	return "", false
}

// Publish publishes ev to the app's hooks (sqshook.Tenant.Publish). An app
// without hooks gets nothing delivered, and Publish returns nil.
func (ts *Tenants) Publish(ctx context.Context, tenant string, ev sqshook.Event) error {
	t := ts.d.Tenant(tenant)
	if len(t.Hooks()) == 0 {
		return nil
	}
	return t.Publish(ctx, ev)
}

// Stats returns the counters of the app's hooks (sqshook.Tenant.Stats).
func (ts *Tenants) Stats(tenant string) sqshook.Stats { return ts.d.Tenant(tenant).Stats() }

// Checker returns a Checker for Options.Check (TenantChecker).
func (ts *Tenants) Checker() Checker { return TenantChecker(ts.d) }

// RemoveTenant removes the app and its hooks (sqshook.Dispatcher.RemoveTenant,
// with opts).
func (ts *Tenants) RemoveTenant(ctx context.Context, tenant string, opts ...sqshook.RemoveOption) error {
	return ts.d.RemoveTenant(ctx, tenant, opts...)
}

// Flush flushes the dispatcher (see sqshook.Dispatcher.Flush).
func (ts *Tenants) Flush(ctx context.Context) error { return ts.d.Flush(ctx) }

// Close closes the dispatcher (see sqshook.Dispatcher.Close);
// ApplyHooks afterwards returns sqshook.ErrClosed.
func (ts *Tenants) Close(ctx context.Context) error { return ts.d.Close(ctx) }
