// This file owns "sqshook bench": a grid of linger and in-flight settings
// run against an in-process SQS endpoint with a simulated round trip
// (package internal/benchgrid), printed as a table of throughput and
// latency with the best cell, to help tune WithLinger and WithMaxInFlight.

package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/sqshook/sqshook/internal/benchgrid"
)

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", `Measures throughput and publish-to-acknowledgement latency over a grid of
linger and in-flight settings, against an in-process SQS endpoint with a
simulated round trip, to help tune WithLinger and WithMaxInFlight (or keep
the adaptive in-flight limit, the default). Each cell
publishes a burst of -events events from -publishers goroutines (events/s,
and its latency, which includes queueing behind the burst), then -paced
events at -paced-rate per second from one goroutine (latency at a steady
load, and events per call: what linger costs and saves). Latency is from
Publish to the endpoint's acknowledgement.`, stderr)
	rtt := fs.Duration("rtt", 5*time.Millisecond, "simulated round trip of SendMessageBatch")
	lingers := fs.String("linger", "0,1ms,10ms", "comma-separated linger values")
	inflights := fs.String("inflight", "1,4,16,64,adaptive", `comma-separated in-flight limits; "adaptive" is the default adaptive limit`)
	events := fs.Int("events", 5000, "events per cell")
	bodyBytes := fs.Int("body", 1800, "event body size in bytes")
	publishers := fs.Int("publishers", 4, "concurrent publishing goroutines")
	paced := fs.Int("paced", 400, "events published at a steady rate after the burst (0: none)")
	pacedRate := fs.Int("paced-rate", 500, "events per second of the paced phase")
	if err := parse(fs, args); err != nil {
		return err
	}
	cfg := benchgrid.Config{RTT: *rtt, Events: *events, BodyBytes: *bodyBytes, Publishers: *publishers, Paced: *paced, PacedRate: *pacedRate}
	if *paced == 0 {
		cfg.Paced = -1
	}
	for _, s := range strings.Split(*lingers, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if s == "0" {
			d, err = 0, nil
		}
		if err != nil || d < 0 {
			return usagef("-linger: %q is not a duration", s)
		}
		cfg.Lingers = append(cfg.Lingers, d)
	}
	for _, s := range strings.Split(*inflights, ",") {
		s = strings.TrimSpace(s)
		n, err := strconv.Atoi(s)
		if s == "adaptive" {
			n, err = 0, nil
		} else if err != nil || n < 1 {
			return usagef("-inflight: %q is not a positive number or \"adaptive\"", s)
		}
		cfg.InFlights = append(cfg.InFlights, n)
	}
	fmt.Fprintf(stdout, "round trip %v, %d events of %d bytes per cell, %d publishers\n\n", *rtt, *events, *bodyBytes, *publishers)
	const row = "%8v %10v %10v %10v %10v %10v %10v %13v\n"
	fmt.Fprintf(stdout, row, "linger", "in-flight", "events/s", "burst p50", "burst p99", "paced p50", "paced p99", "paced ev/call")
	best := benchgrid.Result{}
	for _, linger := range cfg.Lingers {
		for _, n := range cfg.InFlights {
			r, err := benchgrid.RunCell(ctx, cfg, linger, n)
			if err != nil {
				return err
			}
			round := func(d time.Duration) time.Duration { return d.Round(100 * time.Microsecond) }
			fmt.Fprintf(stdout, row, r.Linger, inflightLabel(r.MaxInFlight), fmt.Sprintf("%.0f", r.EventsPerSec),
				round(r.P50), round(r.P99), round(r.PacedP50), round(r.PacedP99), fmt.Sprintf("%.1f", r.PacedPerBatch))
			if r.EventsPerSec > best.EventsPerSec {
				best = r
			}
		}
	}
	fmt.Fprintf(stdout, "\nbest throughput: linger %v, in-flight %s: %.0f events/s (p99 %v)\n",
		best.Linger, inflightLabel(best.MaxInFlight), best.EventsPerSec, best.P99.Round(100*time.Microsecond))
	return nil
}

func inflightLabel(n int) string {
	if n == 0 {
		return "adaptive"
	}
	return strconv.Itoa(n)
}
