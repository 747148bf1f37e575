// This file owns how accepted hook lists reach delivery: the Applier and
// EncodingApplier interfaces, TenantApplier and TenantChecker, which make
// each app a tenant of one sqshook.Dispatcher, and Tenants, which makes
// each app a tenant too and gives each hook its own body encoding.

package streamapi

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sqshook/sqshook"
)

// Applier puts an app's validated SQS hooks into effect (for a Dispatcher:
// SetHooks). It must change nothing when it returns an error: the Handler
// then restores the stored list.
type Applier interface {
	ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error
}

// EncodingApplier is an Applier that sends each hook's bodies in the
// encoding the app's settings give it (see "Body encodings" in the package
// documentation). The Handler calls ApplyEncodedHooks instead of
// ApplyHooks when its Applier implements it; encodings[i] is the encoding
// of hooks[i].
type EncodingApplier interface {
	Applier
	ApplyEncodedHooks(ctx context.Context, tenant string, hooks []sqshook.Hook, encodings []sqshook.Encoding) error
}

// TenantApplier returns an Applier that puts each app's hooks into effect
// as the app's tenant of d: d.Tenant(tenant).SetHooks(hooks). An app's
// events then reach only its own hooks, every app shares d's clients,
// connections and limits, and an empty list removes the tenant. The server
// publishes an app's events with d.Tenant(tenant).Publish. Every hook's
// bodies are sent in d's encoding (sqshook.WithBodyEncoding), whatever
// the app's settings say; Tenants sends each hook in its own.
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

// Tenants is an EncodingApplier that makes each app a tenant, as
// TenantApplier does, and sends each hook's bodies in the encoding the
// app's settings give it: an app's events reach only its own hooks, and
// every app shares the same clients, connections and limits. The server
// publishes an app's events with Publish. It is safe for concurrent use.
//
// It holds one sqshook.Dispatcher per body encoding (raw, base64, gzip),
// each made with the options given to NewTenants and that encoding; an
// app is a tenant of each, holding there the hooks of that encoding.
type Tenants struct {
	ds map[sqshook.Encoding]*sqshook.Dispatcher

	mu sync.Mutex // serialises ApplyEncodedHooks, each with its rollback
}

// tenantEncodings are the encodings Tenants delivers with, in a fixed
// order.
var tenantEncodings = []sqshook.Encoding{sqshook.EncodingRaw, sqshook.EncodingBase64, sqshook.EncodingGzip}

// NewTenants returns a Tenants whose dispatchers are made with opts (for
// example sqshook.WithEndpoint, sqshook.WithTenantExternalID); a
// sqshook.WithBodyEncoding among them is overridden.
func NewTenants(opts ...sqshook.Option) (*Tenants, error) {
	ts := &Tenants{ds: make(map[sqshook.Encoding]*sqshook.Dispatcher, len(tenantEncodings))}
	for _, e := range tenantEncodings {
		d, err := sqshook.New(nil, append(append([]sqshook.Option(nil), opts...), sqshook.WithBodyEncoding(e))...)
		if err != nil {
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			_ = ts.Close(ctx)
			return nil, err
		}
		ts.ds[e] = d
	}
	return ts, nil
}

// ApplyHooks implements Applier: every hook with Stream's default encoding
// (base64).
func (ts *Tenants) ApplyHooks(ctx context.Context, tenant string, hooks []sqshook.Hook) error {
	encs := make([]sqshook.Encoding, len(hooks))
	for i := range encs {
		encs[i] = sqshook.EncodingBase64
	}
	return ts.ApplyEncodedHooks(ctx, tenant, hooks, encs)
}

// ApplyEncodedHooks implements EncodingApplier. When one encoding's hooks
// cannot be set, the app's hooks of the encodings already set are put back
// and the error returned.
func (ts *Tenants) ApplyEncodedHooks(_ context.Context, tenant string, hooks []sqshook.Hook, encodings []sqshook.Encoding) error {
	if len(encodings) != len(hooks) {
		return fmt.Errorf("streamapi: %d hooks and %d encodings", len(hooks), len(encodings))
	}
	by := make(map[sqshook.Encoding][]sqshook.Hook, len(tenantEncodings))
	for i, h := range hooks {
		e := encodings[i]
		if e == "" {
			e = sqshook.EncodingRaw
		}
		if _, ok := ts.ds[e]; !ok {
			return fmt.Errorf("streamapi: hook %d: unknown body encoding %q", i, encodings[i])
		}
		by[e] = append(by[e], h)
	}
	ts.mu.Lock()
	defer ts.mu.Unlock()
	var done []sqshook.Encoding
	prev := make(map[sqshook.Encoding][]sqshook.Hook, len(tenantEncodings))
	for _, e := range tenantEncodings {
		t := ts.ds[e].Tenant(tenant)
		prev[e] = t.Hooks()
		if len(prev[e]) == 0 && len(by[e]) == 0 {
			continue // nothing to do: do not make an empty tenant
		}
		if err := t.SetHooks(by[e]); err != nil {
			for _, d := range done {
				_ = ts.ds[d].Tenant(tenant).SetHooks(prev[d])
			}
			return err
		}
		done = append(done, e)
	}
	return nil
}

// Hooks returns the app's hooks, those of each encoding in the order
// raw, base64, gzip.
func (ts *Tenants) Hooks(tenant string) []sqshook.Hook {
	var out []sqshook.Hook
	for _, e := range tenantEncodings {
		out = append(out, ts.ds[e].Tenant(tenant).Hooks()...)
	}
	return out
}

// Encoding returns the encoding the app's hook with id is delivered in,
// and false when the app has no such hook.
func (ts *Tenants) Encoding(tenant, id string) (sqshook.Encoding, bool) {
	for _, e := range tenantEncodings {
		for _, h := range ts.ds[e].Tenant(tenant).Hooks() {
			if h.ID == id {
				return e, true
			}
		}
	}
	return "", false
}

// Publish publishes ev to the app's hooks (sqshook.Tenant.Publish). An app
// without hooks gets nothing delivered, and Publish returns nil.
func (ts *Tenants) Publish(ctx context.Context, tenant string, ev sqshook.Event) error {
	var errs []error
	for _, e := range tenantEncodings {
		t := ts.ds[e].Tenant(tenant)
		if len(t.Hooks()) == 0 {
			continue
		}
		errs = append(errs, t.Publish(ctx, ev))
	}
	return errors.Join(errs...)
}

// Stats returns the counters of the app's hooks (sqshook.Tenant.Stats),
// those of each encoding in the order raw, base64, gzip.
func (ts *Tenants) Stats(tenant string) sqshook.Stats {
	var out sqshook.Stats
	for _, e := range tenantEncodings {
		s := ts.ds[e].Tenant(tenant).Stats()
		out.Hooks = append(out.Hooks, s.Hooks...)
		out.CallbackPanics += s.CallbackPanics
	}
	return out
}

// Checker returns a Checker for Options.Check, as TenantChecker does for
// one dispatcher.
func (ts *Tenants) Checker() Checker { return TenantChecker(ts.ds[sqshook.EncodingBase64]) }

// RemoveTenant removes the app and its hooks (sqshook.Dispatcher.RemoveTenant,
// with opts).
func (ts *Tenants) RemoveTenant(ctx context.Context, tenant string, opts ...sqshook.RemoveOption) error {
	var errs []error
	for _, e := range tenantEncodings {
		errs = append(errs, ts.ds[e].RemoveTenant(ctx, tenant, opts...))
	}
	return errors.Join(errs...)
}

// Flush flushes every dispatcher (see sqshook.Dispatcher.Flush).
func (ts *Tenants) Flush(ctx context.Context) error {
	var errs []error
	for _, e := range tenantEncodings {
		errs = append(errs, ts.ds[e].Flush(ctx))
	}
	return errors.Join(errs...)
}

// Close closes every dispatcher (see sqshook.Dispatcher.Close);
// ApplyHooks afterwards returns sqshook.ErrClosed.
func (ts *Tenants) Close(ctx context.Context) error {
	var errs []error
	for _, e := range tenantEncodings {
		if d := ts.ds[e]; d != nil {
			errs = append(errs, d.Close(ctx))
		}
	}
	return errors.Join(errs...)
}
