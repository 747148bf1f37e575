// Package benchgrid measures the dispatcher over a grid of linger and
// in-flight settings against an in-process SQS endpoint with a simulated
// round trip. The sqshook bench command prints the grid, and the package's
// benchmarks report the same measurements.
package benchgrid

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// Config describes one grid run. Zero fields take the defaults noted.
type Config struct {
	RTT        time.Duration   // simulated round trip of the endpoint; 0 means none
	Lingers    []time.Duration // nil means 0, 1ms, 10ms
	InFlights  []int           // nil means 1, 4, 16, 64; 0 is the adaptive default
	Events     int             // events per cell; 0 means 5000
	BodyBytes  int             // event body size; 0 means 1800 (chat-like)
	Publishers int             // concurrent publishing goroutines; 0 means 4
	// Paced events are published after the burst at PacedRate events/s by
	// one goroutine, to measure latency at a steady, moderate load (what
	// linger costs); 0 means 400, negative means none.
	Paced     int
	PacedRate int // 0 means 500
}

func (c Config) withDefaults() Config {
	if c.Lingers == nil {
		c.Lingers = []time.Duration{0, time.Millisecond, 10 * time.Millisecond}
	}
	if c.InFlights == nil {
		c.InFlights = []int{1, 4, 16, 64}
	}
	if c.Events <= 0 {
		c.Events = 5000
	}
	if c.BodyBytes <= 0 {
		c.BodyBytes = 1800
	}
	if c.Publishers <= 0 {
		c.Publishers = 4
	}
	if c.Paced == 0 {
		c.Paced = 400
	}
	if c.PacedRate <= 0 {
		c.PacedRate = 500
	}
	return c
}

// Result is one cell of the grid.
type Result struct {
	Linger       time.Duration
	MaxInFlight  int
	Events       int
	Elapsed      time.Duration // from the first Publish to the end of Flush
	EventsPerSec float64
	P50, P99     time.Duration // publish-to-acknowledgement latency of the burst
	Batches      uint64        // SendMessageBatch calls of the burst

	// The paced phase (zero without one): latency and events per call at
	// a steady PacedRate.
	PacedP50, PacedP99 time.Duration
	PacedPerBatch      float64
}

func inFlightOption(n int) sqshook.Option {
	if n == 0 {
		return sqshook.WithAdaptiveInFlight(sqshook.DefaultMaxInFlight)
	}
	return sqshook.WithMaxInFlight(n)
}

// Body returns a chat-like JSON event body of about n bytes.
func Body(n int) []byte {
	const head = `{"type":"message.new","cid":"messaging:fun-d5f396e3-fbaf-469c-9b45-8837b4f75baa","message":{"id":"8bffc454-e1da-4d91-8b88-a87853dfb41c","type":"regular","user":{"id":"tommaso-52ec3a5f","role":"user","banned":false,"online":false},"text":"`
	const tail = `"},"channel_type":"messaging","channel_id":"fun-d5f396e3-fbaf-469c-9b45-8837b4f75baa"}`
	fill := max(1, n-len(head)-len(tail))
	words := strings.Repeat("welcome to the community ", fill/25+1)[:fill]
	return []byte(head + words + tail)
}

// Run measures every cell of the grid, one after the other, each against a
// fresh endpoint. It stops early when ctx ends.
func Run(ctx context.Context, cfg Config) ([]Result, error) {
	cfg = cfg.withDefaults()
	var out []Result
	for _, linger := range cfg.Lingers {
		for _, inFlight := range cfg.InFlights {
			if err := ctx.Err(); err != nil {
				return out, err
			}
			r, err := RunCell(ctx, cfg, linger, inFlight)
			if err != nil {
				return out, err
			}
			out = append(out, r)
		}
	}
	return out, nil
}

// RunCell measures one linger/in-flight setting; inFlight 0 measures the
// adaptive limit (sqshook's default).
func RunCell(ctx context.Context, cfg Config, linger time.Duration, inFlight int) (Result, error) {
	cfg = cfg.withDefaults()
	srv := sqstest.NewServer(sqstest.WithLatency(cfg.RTT))
	defer srv.Close()
	url := srv.CreateQueue("bench", nil)
	d, err := sqshook.New([]sqshook.Hook{{
		ID: "bench", Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: sqshook.AuthKeys, SQSKey: "AKIABENCHEXAMPLE0000", SQSSecret: "bench",
	}}, sqshook.WithEndpoint(srv.URL()), sqshook.WithLinger(linger), inFlightOption(inFlight),
		sqshook.WithMaxBuffered(cfg.Events+1, 1<<30))
	if err != nil {
		return Result{}, err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		d.Close(closeCtx)
	}()

	body := Body(cfg.BodyBytes)
	published := make([]time.Time, cfg.Events+max(0, cfg.Paced))
	var wg sync.WaitGroup
	var firstErr error
	var errMu sync.Mutex
	start := time.Now()
	for p := 0; p < cfg.Publishers; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := p; i < cfg.Events; i += cfg.Publishers {
				published[i] = time.Now()
				if err := d.Publish(ctx, sqshook.Event{ID: strconv.Itoa(i), Type: "message.new", Body: body}); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
			}
		}(p)
	}
	wg.Wait()
	if firstErr != nil {
		return Result{}, firstErr
	}
	if err := d.Flush(ctx); err != nil {
		return Result{}, err
	}
	elapsed := time.Since(start)
	st, _ := d.Stats().Hook("bench")

	// The paced phase: one goroutine at a steady rate.
	interval := time.Second / time.Duration(cfg.PacedRate)
	start = time.Now()
	for i := cfg.Events; i < len(published); i++ {
		time.Sleep(time.Until(start.Add(time.Duration(i-cfg.Events) * interval)))
		published[i] = time.Now()
		if err := d.Publish(ctx, sqshook.Event{ID: strconv.Itoa(i), Type: "message.new", Body: body}); err != nil {
			return Result{}, err
		}
	}
	if err := d.Flush(ctx); err != nil {
		return Result{}, err
	}
	st2, _ := d.Stats().Hook("bench")

	msgs := srv.Received(url)
	if len(msgs) != len(published) {
		return Result{}, fmt.Errorf("benchgrid: %d of %d events arrived", len(msgs), len(published))
	}
	var lat, paced []time.Duration
	for _, m := range msgs {
		i, err := strconv.Atoi(m.Attributes[sqshook.AttrEventID].StringValue)
		if err != nil || i < 0 || i >= len(published) {
			return Result{}, fmt.Errorf("benchgrid: unexpected event id %q", m.Attributes[sqshook.AttrEventID].StringValue)
		}
		if i < cfg.Events {
			lat = append(lat, m.ReceivedAt.Sub(published[i]))
		} else {
			paced = append(paced, m.ReceivedAt.Sub(published[i]))
		}
	}
	r := Result{
		Linger: linger, MaxInFlight: inFlight, Events: cfg.Events, Elapsed: elapsed,
		EventsPerSec: float64(cfg.Events) / elapsed.Seconds(),
		Batches:      st.Batches,
	}
	r.P50, r.P99 = percentiles(lat)
	if len(paced) > 0 {
		r.PacedP50, r.PacedP99 = percentiles(paced)
		r.PacedPerBatch = float64(len(paced)) / float64(max(1, st2.Batches-st.Batches))
	}
	return r, nil
}

// percentiles returns the median and the 99th percentile (nearest rank).
func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[max(0, int(math.Ceil(q*float64(len(d))))-1)] }
	return at(0.50), at(0.99)
}
