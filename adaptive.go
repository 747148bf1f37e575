// adaptive.go holds a hook's in-flight limit: fixed, or adaptive (it grows
// while calls succeed and halves when SQS throttles or a call times out).

package sqshook

import "time"

// inflightLimit is one hook's limit on concurrent SendMessageBatch calls:
// fixed (WithMaxInFlight), or adaptive, which is the default.
//
// The adaptive limit works like TCP congestion control (AIMD). It starts at
// DefaultInitialInFlight and, while calls are limited by it (every slot was
// busy when the call started), grows by one per successful call during slow
// start (doubling per round trip) and by 1/limit per call after (one per
// round trip), up to its maximum. Throttling (RequestThrottled,
// ThrottlingException, HTTP 429, KMS throttling), 5xx answers and network
// errors halve it, at most once per round trip (a call that started before
// the last cut does not cut again), and end slow start. A smoothed round
// trip above latencyFactor times the smallest one seen (when that is at
// least a millisecond, like a real network) trims it by a tenth, once per
// round trip: the queue is building up on the way to SQS. So a burst finds
// its level in a few round trips, and a throttling storm sheds load instead
// of multiplying it with retries.
type inflightLimit struct {
	adaptive bool
	max      float64
	limit    float64
	ssthresh float64

	lastCut time.Time     // calls started before it cause no cut
	minRTT  time.Duration // smallest round trip seen (re-probed now and then)
	srtt    time.Duration // smoothed round trip (kept for a fixed limit too: see slowCallLocked)
	samples int
}

// DefaultInitialInFlight is where the adaptive in-flight limit starts.
const DefaultInitialInFlight = 16

const (
	latencyFactor = 4
	// minRTTWindow is how many round trips the smallest one is kept for
	// before it is measured again (routes and load change).
	minRTTWindow = 2000
)

func newInflightLimit(most int, adaptive bool) inflightLimit {
	l := inflightLimit{adaptive: adaptive, max: float64(most), limit: float64(most)}
	if adaptive {
		l.limit = float64(min(most, DefaultInitialInFlight))
		l.ssthresh = l.max
	}
	return l
}

// slots is the number of calls that may be in flight. The pipe counts its
// calls against it under its own mutex rather than with a semaphore.Weighted:
// the limit moves with every outcome, and the pump never blocks.
func (l *inflightLimit) slots() int { return max(1, int(l.limit)) }

// succeeded records a call that SQS answered without a congestion signal,
// after rtt; limited says that every slot was busy when it started.
func (l *inflightLimit) succeeded(started time.Time, rtt time.Duration, limited bool) {
	queueing := l.observe(rtt) // also for a fixed limit: srtt bounds a slow call
	if !l.adaptive {
		return
	}
	if queueing && started.After(l.lastCut) {
		l.lastCut = started.Add(rtt)
		l.limit = max(1, l.limit*0.9)
		l.ssthresh = l.limit
		return
	}
	if !limited {
		return
	}
	if l.limit < l.ssthresh {
		l.limit++
	} else {
		l.limit += 1 / l.limit
	}
	l.limit = min(l.limit, l.max)
}

// congested records a throttled, failed or lost call.
func (l *inflightLimit) congested(started, now time.Time) {
	if !l.adaptive || !started.After(l.lastCut) {
		return
	}
	l.lastCut = now
	l.limit = max(1, l.limit/2)
	l.ssthresh = max(2, l.limit)
}

// observe adds a round trip to the estimates and reports whether the
// smoothed round trip shows a queue building up.
func (l *inflightLimit) observe(rtt time.Duration) bool {
	l.samples++
	if l.samples%minRTTWindow == 1 || rtt < l.minRTT {
		l.minRTT = rtt
	}
	if l.srtt == 0 {
		l.srtt = rtt
	} else {
		l.srtt += (rtt - l.srtt) / 8
	}
	return l.samples > 8 && l.minRTT >= time.Millisecond && l.srtt > latencyFactor*l.minRTT
}
