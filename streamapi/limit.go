// This file owns the rates the handler bounds: how often an app may run
// POST /check_sqs (Limiter, AppLimiter, a token bucket per app) and how
// often a refused authentication is logged.

package streamapi

import (
	"container/list"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"
)

// Defaults of the check_sqs rate limit (Options.CheckLimiter).
const (
	// DefaultCheckBurst is how many check_sqs requests an app may make at
	// once: 10. One request checks up to MaxHooks hooks with a few AWS calls
	// each, so 10 checks cost AWS at most about 10 × 50 × 3 calls.
	DefaultCheckBurst = 10
	// DefaultCheckEvery is how often an app gains one more check_sqs
	// request once its burst is spent: every 6 s, 10 a minute. A customer
	// testing its settings checks a few times a minute; a customer using
	// check_sqs to test whether AWS keys are valid tests 10 a minute.
	DefaultCheckEvery = 6 * time.Second
	// DefaultLimiterApps is how many apps an AppLimiter tracks at once:
	// 10,000 (about a megabyte).
	DefaultLimiterApps = 10000
	// DefaultAuthLogInterval is how often a refused authentication is
	// logged at most (Options.AuthLogInterval): one line each 10 s, which
	// says how many refusals went unlogged since the previous one.
	DefaultAuthLogInterval = 10 * time.Second
)

// Limiter decides whether an app may run one more request now. The
// Handler calls Allow once per POST /check_sqs, after authentication,
// with the app's tenant; false refuses the request with HTTP 429 (code
// CodeRateLimit) and a Retry-After of retryAfter. Allow must be safe for
// concurrent use.
type Limiter interface {
	Allow(tenant string) (ok bool, retryAfter time.Duration)
}

// Unlimited returns a Limiter that allows every request: set it as
// Options.CheckLimiter to turn the check_sqs rate limit off.
func Unlimited() Limiter { return unlimited{} }

type unlimited struct{}

func (unlimited) Allow(string) (bool, time.Duration) { return true, 0 }

// Rate is how often an app may repeat a request: Burst requests at once,
// then one more each Every. A zero or negative field takes its default
// (DefaultCheckEvery, DefaultCheckBurst).
type Rate struct {
	Every time.Duration
	Burst int
}

// AppLimiter is a Limiter with a token bucket per app: an app's bucket
// holds at most Burst tokens and gains one each Every; a request takes one
// and is refused when there is none. It is the default of
// Options.CheckLimiter. It is safe for concurrent use.
//
// Its memory is bounded: an app whose bucket has filled up again (at most
// Burst × Every after its last request) is forgotten, since a full bucket
// is what a new app gets; and it tracks at most maxApps apps, forgetting
// the least recently seen one beyond that (which then starts again with a
// full bucket: only a client with more than maxApps apps busy at once
// gains by it).
type AppLimiter struct {
	every     time.Duration
	tolerance time.Duration // (burst-1) × every
	maxApps   int
	now       func() time.Time

	mu   sync.Mutex
	apps map[string]*list.Element // of *appBucket, in lru
	lru  *list.List               // most recently seen first
}

// appBucket is one app's bucket, kept as the time at which it will be full
// again (the "theoretical arrival time" of the generic cell rate
// algorithm): tokens = Burst - (full - now) / Every.
type appBucket struct {
	tenant string
	full   time.Time
}

// NewAppLimiter returns an AppLimiter with rate r that tracks at most
// maxApps apps (0 or less: DefaultLimiterApps) and reads the time from now
// (nil: time.Now).
func NewAppLimiter(r Rate, maxApps int, now func() time.Time) *AppLimiter {
	if r.Every <= 0 {
		r.Every = DefaultCheckEvery
	}
	if r.Burst <= 0 {
		r.Burst = DefaultCheckBurst
	}
	if maxApps <= 0 {
		maxApps = DefaultLimiterApps
	}
	if now == nil {
		now = time.Now
	}
	tolerance := time.Duration(math.MaxInt64)
	if n := int64(r.Burst - 1); n <= math.MaxInt64/int64(r.Every) {
		tolerance = time.Duration(n) * r.Every
	}
	return &AppLimiter{every: r.Every, tolerance: tolerance, maxApps: maxApps, now: now,
		apps: make(map[string]*list.Element), lru: list.New()}
}

// Allow implements Limiter: it takes a token from tenant's bucket, or says
// how long until the bucket has one.
func (l *AppLimiter) Allow(tenant string) (bool, time.Duration) {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.forgetFull(now)
	var b *appBucket
	if e, ok := l.apps[tenant]; ok {
		l.lru.MoveToFront(e)
		b = e.Value.(*appBucket)
	} else {
		b = &appBucket{tenant: tenant, full: now}
		l.apps[tenant] = l.lru.PushFront(b)
		for l.lru.Len() > l.maxApps {
			l.remove(l.lru.Back())
		}
	}
	full := b.full
	if full.Before(now) {
		full = now
	}
	if wait := full.Sub(now) - l.tolerance; wait > 0 {
		return false, wait
	}
	b.full = full.Add(l.every)
	return true, 0
}

// Len returns how many apps the limiter tracks now.
func (l *AppLimiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lru.Len()
}

// forgetFull forgets the least recently seen apps whose buckets are full
// again; each app is forgotten once, so this costs O(1) per Allow on
// average.
func (l *AppLimiter) forgetFull(now time.Time) {
	for e := l.lru.Back(); e != nil; e = l.lru.Back() {
		if e.Value.(*appBucket).full.After(now) {
			return
		}
		l.remove(e)
	}
}

func (l *AppLimiter) remove(e *list.Element) {
	delete(l.apps, e.Value.(*appBucket).tenant)
	l.lru.Remove(e)
}

// allowCheck applies Options.CheckLimiter to a POST /check_sqs; it answers
// a refused one (429 with Retry-After) and returns false.
func (h *Handler) allowCheck(rq *request) bool {
	ok, retry := h.opts.CheckLimiter.Allow(rq.app.Tenant)
	if ok {
		return true
	}
	rq.w.Header().Set("Retry-After", strconv.FormatInt(int64(retrySeconds(retry)/time.Second), 10))
	rq.fail(errRateLimited("CheckSQS", retry))
	return false
}

// refusalLog bounds the log lines of refused authentications, which any
// client can cause: at most one each interval (0 or less: every refusal).
type refusalLog struct {
	interval time.Duration

	mu         sync.Mutex
	next       time.Time // when the next line may be written
	suppressed int       // refusals not logged since the last line
}

// take says whether the refusal seen at now is logged and, if so, how many
// refusals went unlogged since the previous line.
func (l *refusalLog) take(now time.Time) (bool, int) {
	if l.interval <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Before(l.next) {
		l.suppressed++
		return false, 0
	}
	n := l.suppressed
	l.suppressed = 0
	l.next = now.Add(l.interval)
	return true, n
}

// logRefusal logs a refused authentication, within the refusalLog's rate.
func (h *Handler) logRefusal(r *http.Request) {
	ok, suppressed := h.refusals.take(h.opts.Now())
	if !ok {
		return
	}
	h.opts.Logger.Info("streamapi: authentication refused", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr,
		"unlogged_refusals", suppressed)
}
