// health.go serves the dispatcher's state as JSON over HTTP, for a
// server's admin mux: hooks, counters, delivery rates, the last error, the
// spool.

package sqshook

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// minRateWindow is the shortest interval the handler's rates are measured
// over; requests closer together than that repeat the last rates.
const minRateWindow = time.Second

// HealthHandler returns an http.Handler that serves the dispatcher's state
// as JSON: each hook's counters (as in Stats, Spooled included), its
// queue's name, its in-flight limit, its last error and health cause and
// its delivered and dead-lettered rates per second, measured between
// requests at least a second apart (absent on the first request); with a
// spool (WithSpool), the spool's state as in SpoolStats; with
// WithPostgres, each hook's "stored" (HookStats.Stored) and the store's
// state as in SpoolStats (the database's backlog in "pending", and
// "fetched", "tenant_quota", "tenants_over_quota"). It never shows a
// hook's credentials, its queue's account, an event or the spool's
// directory.
//
// A hook's "last_error" and "health_cause" show the SQS error code and
// the category of the failure (see PublicError and
// HookStats.LastErrorMessage), such as "AccessDenied: access denied by
// the queue policy: …" or "network: connection refused", never AWS's
// message or the network's detail: no ARN, account id or IAM identity, no
// address of the server's resolver or proxy, no host name, no word about
// the server's own credential setup. The detail is in the server's log
// (WithLogger).
//
// The report's "status" is the dispatcher's own health, not the worst of
// its hooks' (one customer's failing queue is that customer's, shown in
// its hook's "health"): HealthDegraded when the spool holds at least 90%
// of its quota, since past the quota every tenant's Publish waits or
// dead-letters buffer_full; HealthOK otherwise.
//
// Like expvar and net/http/pprof, it is meant for the server's own admin
// mux or a loopback listener, not for the public internet: it names every
// customer's hook and queue.
//
//	mux.Handle("/debug/sqshook", d.HealthHandler())
//
// It answers GET and HEAD; other methods get 405. Each handler keeps its
// own rate samples: make one and reuse it.
func (d *Dispatcher) HealthHandler() http.Handler {
	return &healthHandler{d: d}
}

// healthReport is the JSON document HealthHandler serves.
type healthReport struct {
	Time           time.Time    `json:"time"`
	Status         Health       `json:"status"` // the dispatcher's own health; see HealthHandler
	StatusCause    string       `json:"status_cause,omitempty"`
	Closed         bool         `json:"closed"`
	CallbackPanics uint64       `json:"callback_panics"`
	RateWindow     float64      `json:"rate_window_seconds,omitempty"` // the interval of the rates
	Spool          *spoolHealth `json:"spool,omitempty"`               // absent without a spool
	Hooks          []hookHealth `json:"hooks"`
}

// spoolQuotaWarn is the share of its quota a spool may hold before the
// report's status is degraded.
const spoolQuotaWarn = 0.9

// spoolHealth is the spool in the report: SpoolStats, and how full it is.
type spoolHealth struct {
	Health       Health   `json:"health"`
	HealthCause  string   `json:"health_cause,omitempty"`
	Bytes        int64    `json:"bytes"`
	Quota        int64    `json:"quota"`                // 0: no quota
	QuotaUsed    *float64 `json:"quota_used,omitempty"` // bytes / quota; absent without a quota
	Records      int      `json:"records"`
	Pending      int      `json:"pending"`
	Parked       int      `json:"parked"`
	Resumed      uint64   `json:"resumed"`
	HookRemoved  uint64   `json:"hook_removed"`
	Corrupt      uint64   `json:"corrupt"`
	SettleErrors uint64   `json:"settle_errors"`
	// WithPostgres: Pending is the database's backlog (SpoolStats).
	Fetched     int   `json:"fetched,omitempty"`
	TenantQuota int64 `json:"tenant_quota,omitempty"`
	OverQuota   int   `json:"tenants_over_quota,omitempty"`
}

// spoolHealthOf builds the report's spool entry; nil without a spool.
func spoolHealthOf(s *SpoolStats) *spoolHealth {
	if s == nil {
		return nil
	}
	out := &spoolHealth{
		Health: HealthOK, Bytes: s.Bytes, Quota: s.Quota, Records: s.Records, Pending: s.Pending, Parked: s.Parked,
		Resumed: s.Resumed, HookRemoved: s.HookRemoved, Corrupt: s.Corrupt, SettleErrors: s.SettleErrors,
		Fetched: s.Fetched, TenantQuota: s.TenantQuota, OverQuota: s.OverQuota,
	}
	if s.Quota > 0 {
		used := float64(s.Bytes) / float64(s.Quota)
		out.QuotaUsed = &used
		if used >= spoolQuotaWarn {
			out.Health = HealthDegraded
			out.HealthCause = fmt.Sprintf("spool holds %d bytes, %.0f%% of its %d-byte quota: past it, Publish waits or dead-letters buffer_full",
				s.Bytes, 100*used, s.Quota)
		}
	}
	return out
}

// hookHealth is one hook pipeline in the report.
type hookHealth struct {
	Tenant   string `json:"tenant,omitempty"` // "" (left out): the default tenant
	ID       string `json:"id"`
	Queue    string `json:"queue"`
	Draining bool   `json:"draining"`

	Health      Health `json:"health"`
	HealthCause string `json:"health_cause,omitempty"`

	Matched        uint64            `json:"matched"`
	Delivered      uint64            `json:"delivered"`
	DeadLettered   uint64            `json:"dead_lettered"`
	DeadLetteredBy map[Reason]uint64 `json:"dead_lettered_by,omitempty"`
	Pending        uint64            `json:"pending"`
	Spooled        uint64            `json:"spooled"`          // on disk only (WithSpool)
	Stored         uint64            `json:"stored,omitempty"` // in the database, fleet-wide (WithPostgres)
	Held           uint64            `json:"held,omitempty"`   // back on disk after their retry budget (WithSpool)
	Queued         int               `json:"queued"`
	InFlight       int               `json:"in_flight"`
	InFlightLimit  int               `json:"in_flight_limit"`
	Retrying       int               `json:"retrying"`
	BufferedBytes  int               `json:"buffered_bytes"`
	Batches        uint64            `json:"batches"`
	Retries        uint64            `json:"retries"`

	DeliveredRate    *float64 `json:"delivered_per_second,omitempty"`
	DeadLetteredRate *float64 `json:"dead_lettered_per_second,omitempty"`

	LastError *healthError `json:"last_error,omitempty"`
}

// healthError is a hook's last error.
type healthError struct {
	Code    string    `json:"code,omitempty"`
	Message string    `json:"message"`
	Time    time.Time `json:"time"`
}

// hookHealthOf builds a hook's entry of the report from its stats.
func hookHealthOf(h HookStats, queue string) hookHealth {
	out := hookHealth{
		Tenant: h.Tenant, ID: h.HookID, Queue: queue, Draining: h.Draining,
		Health: h.Health, HealthCause: h.HealthCause,
		Matched: h.Matched, Delivered: h.Delivered, DeadLettered: h.DeadLettered, DeadLetteredBy: h.DeadLetteredBy,
		Pending: h.Pending, Spooled: h.Spooled, Stored: h.Stored, Held: h.Held, Queued: h.Queued, InFlight: h.InFlight, InFlightLimit: h.InFlightLimit,
		Retrying: h.Retrying, BufferedBytes: h.BufferedBytes, Batches: h.Batches, Retries: h.Retries,
	}
	if h.LastErrorMessage != "" || h.LastErrorCode != "" {
		out.LastError = &healthError{Code: h.LastErrorCode, Message: h.LastErrorMessage, Time: h.LastErrorTime}
	}
	return out
}

type healthHandler struct {
	d *Dispatcher

	mu     sync.Mutex
	base   map[rateKey]rateSample // counts at the start of the rate window
	baseAt time.Time
	rates  map[rateKey][2]float64 // the last rates: delivered, dead-lettered
	window time.Duration          // the interval of rates
}

// rateKey tells a hook's active pipeline from its draining ones, and one
// tenant's hook from another's with the same id.
type rateKey struct {
	tenant, id string
	draining   bool
}

type rateSample struct{ delivered, deadLettered uint64 }

func (h *healthHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	body, err := json.MarshalIndent(h.report(), "", "  ")
	if err != nil {
		http.Error(w, "sqshook: health report: "+err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if r.Method == http.MethodHead {
		return
	}
	_, _ = w.Write(append(body, '\n'))
}

// report reads the dispatcher's state and updates the rates.
func (h *healthHandler) report() healthReport {
	d := h.d
	now := d.cfg.clock.Now()
	st := d.Stats()
	queues := d.queueNames()
	rep := healthReport{Time: now.UTC(), Status: HealthOK, Closed: d.closed.Load(), CallbackPanics: st.CallbackPanics,
		Spool: spoolHealthOf(st.Spool), Hooks: []hookHealth{}}
	if rep.Spool != nil && rep.Spool.Health != HealthOK {
		rep.Status, rep.StatusCause = rep.Spool.Health, rep.Spool.HealthCause
	}

	h.mu.Lock()
	defer h.mu.Unlock()
	sample := make(map[rateKey]rateSample, len(st.Hooks))
	for _, s := range st.Hooks {
		sample[rateKey{s.Tenant, s.HookID, s.Draining}] = rateSample{s.Delivered, s.DeadLettered}
	}
	if h.base == nil {
		h.base, h.baseAt = sample, now
	} else if elapsed := now.Sub(h.baseAt); elapsed >= minRateWindow {
		h.rates = make(map[rateKey][2]float64, len(sample))
		for k, s := range sample {
			b, ok := h.base[k]
			if !ok || s.delivered < b.delivered || s.deadLettered < b.deadLettered {
				continue // a new pipeline: no rate yet
			}
			sec := elapsed.Seconds()
			h.rates[k] = [2]float64{float64(s.delivered-b.delivered) / sec, float64(s.deadLettered-b.deadLettered) / sec}
		}
		h.base, h.baseAt, h.window = sample, now, elapsed
	}
	if h.rates != nil {
		rep.RateWindow = h.window.Seconds()
	}
	for _, s := range st.Hooks {
		hh := hookHealthOf(s, queues[hookKey{s.Tenant, s.HookID}])
		if r, ok := h.rates[rateKey{s.Tenant, s.HookID, s.Draining}]; ok {
			hh.DeliveredRate, hh.DeadLetteredRate = &r[0], &r[1]
		}
		rep.Hooks = append(rep.Hooks, hh)
	}
	return rep
}

// hookKey names a hook of a tenant.
type hookKey struct{ tenant, id string }

// queueNames maps hooks to their queues' names (the last segment of the
// URL: no account, no region), active hooks first.
func (d *Dispatcher) queueNames() map[hookKey]string {
	pipes := d.statsPipes()
	names := make(map[hookKey]string, len(pipes))
	for _, p := range pipes {
		k := hookKey{p.tenant.id, p.hook.ID}
		if _, ok := names[k]; !ok {
			names[k] = queueName(p.hook.SQSQueueURL)
		}
	}
	return names
}
