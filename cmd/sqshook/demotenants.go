// demotenants.go is the multi-tenant demo (sqshook demo -tenants N): each
// tenant has its own two hooks and queues, events are published for the
// tenants in turn, one tenant's queues may be down for the whole run, and
// the summary gives per-tenant accounting.

package main

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// tenantHooks are tenant i's hooks: every event, and message.* only.
func tenantHooks(i int) []sqshook.Hook {
	q := "https://sqs.us-east-1.amazonaws.com/123456789012/sqshook-demo-t" + strconv.Itoa(i)
	h := sqshook.Hook{Enabled: true, HookType: sqshook.HookTypeSQS, SQSRegion: "us-east-1",
		SQSAuthType: sqshook.AuthKeys, SQSKey: "AKIADEMOEXAMPLE00000", SQSSecret: "demo-secret-not-real"}
	all, msgs := h, h
	all.ID, all.SQSQueueURL = "all-events", q+"-all"
	msgs.ID, msgs.SQSQueueURL, msgs.EventTypes = "messages", q+"-messages", []string{"message.*"}
	return []sqshook.Hook{all, msgs}
}

func tenantName(i int) string { return "tenant-" + strconv.Itoa(i) }

func demoTenants(ctx context.Context, c demoConfig, out io.Writer) error {
	srv, endpoint, client := demoSQS(c, out, sqstest.WithoutRecording())
	if srv != nil {
		defer srv.Close()
	}
	var deadMu sync.Mutex
	dead := map[string]map[sqshook.Reason]int{}
	d, err := sqshook.New(nil,
		sqshook.WithEndpoint(endpoint),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxInterval: 500 * time.Millisecond}),
		sqshook.WithDeadLetter(func(dl sqshook.DeadLetter) {
			deadMu.Lock()
			if dead[dl.Tenant] == nil {
				dead[dl.Tenant] = map[sqshook.Reason]int{}
			}
			dead[dl.Tenant][dl.Reason]++
			deadMu.Unlock()
		}),
	)
	if err != nil {
		return err
	}
	handles := make([]*sqshook.Tenant, c.tenants)
	for i := range handles {
		hooks := tenantHooks(i)
		for _, h := range hooks {
			if err := createQueue(ctx, client, h.SQSQueueURL); err != nil {
				return fmt.Errorf("creating the queue of tenant %d's hook %s: %w", i, h.ID, err)
			}
			if srv != nil && i == c.down {
				name := h.SQSQueueURL[strings.LastIndexByte(h.SQSQueueURL, '/')+1:]
				srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Queue: name, Code: "ServiceUnavailable"})
			}
		}
		handles[i] = d.Tenant(tenantName(i))
		if err := handles[i].SetHooks(hooks); err != nil {
			return err
		}
	}
	fmt.Fprintf(out, "%d tenants, each with hooks all-events (every event) and messages (message.*) on queues of its own\n", c.tenants)
	if c.down >= 0 {
		fmt.Fprintf(out, "fault: %s's queues answer ServiceUnavailable for the whole run\n", tenantName(c.down))
	}
	fmt.Fprintf(out, "publishing %d events/s for %v, for the tenants in turn\n\n", c.rate, roundDuration(c.duration))

	traffic := newChat(c.seed)
	published := make([]int, c.tenants)
	var longest time.Duration
	start := time.Now()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	n := 0
	stopProgress := startProgress(out, c.progress, func(elapsed time.Duration) string {
		st := totals(d.Stats())
		return fmt.Sprintf("%6v  copies: matched %d  delivered %d  pending %d  dead letters %d",
			roundDuration(elapsed), st.Matched, st.Delivered, st.Pending, st.DeadLettered)
	})
publish:
	for {
		select {
		case <-ctx.Done():
			break publish
		case now := <-tick.C:
			elapsed := now.Sub(start)
			if elapsed >= c.duration {
				break publish
			}
			for due := int(float64(c.rate) * elapsed.Seconds()); n < due; n++ {
				ev, err := traffic.next()
				if err != nil {
					return err
				}
				i := n % c.tenants
				t0 := time.Now()
				_ = handles[i].Publish(ctx, ev) // dead-lettered copies are counted by the callback
				longest = max(longest, time.Since(t0))
				published[i]++
			}
		}
	}
	stopProgress()
	if srv != nil {
		srv.ClearFaults() // the down tenant's queues come back: what it holds drains
	}
	fmt.Fprintf(out, "\npublished %d events; the longest Publish took %v\n", n, roundDuration(longest))
	closeCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	closeErr := d.Close(closeCtx)
	return summarizeTenants(out, d, c, published, dead, &deadMu, closeErr)
}

// summarizeTenants prints per-tenant accounting: the first tenants, the one
// that was down, and the totals.
func summarizeTenants(out io.Writer, d *sqshook.Dispatcher, c demoConfig, published []int,
	dead map[string]map[sqshook.Reason]int, deadMu *sync.Mutex, closeErr error) error {
	type row struct {
		published                                 int
		matched, delivered, deadLettered, pending uint64
		health                                    sqshook.Health
	}
	rows := map[string]*row{}
	ok := true
	for _, h := range d.Stats().Hooks {
		r := rows[h.Tenant]
		if r == nil {
			r = &row{health: sqshook.HealthOK}
			rows[h.Tenant] = r
		}
		r.matched += h.Matched
		r.delivered += h.Delivered
		r.deadLettered += h.DeadLettered
		r.pending += h.Pending
		if h.Health != sqshook.HealthOK {
			r.health = h.Health
		}
		if h.Matched != h.Delivered+h.DeadLettered+h.Pending || h.Pending != 0 {
			ok = false
		}
	}
	var show []int
	for i := 0; i < c.tenants && i < 10; i++ {
		show = append(show, i)
	}
	if c.down >= 10 {
		show = append(show, c.down)
	}
	sort.Ints(show)
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "tenant\tpublished\tcopies matched\tdelivered\tdead letters\tpending\thealth at the end\t")
	var total row
	for i, p := range published {
		r := rows[tenantName(i)]
		if r == nil {
			continue
		}
		total.published += p
		total.matched += r.matched
		total.delivered += r.delivered
		total.deadLettered += r.deadLettered
		total.pending += r.pending
	}
	for _, i := range show {
		r := rows[tenantName(i)]
		if r == nil {
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%s\t\n", tenantName(i), published[i], r.matched, r.delivered, r.deadLettered, r.pending, r.health)
	}
	if len(show) < c.tenants {
		fmt.Fprintf(tw, "(%d more)\t\t\t\t\t\t\t\n", c.tenants-len(show))
	}
	fmt.Fprintf(tw, "all %d\t%d\t%d\t%d\t%d\t%d\t\t\n", c.tenants, total.published, total.matched, total.delivered, total.deadLettered, total.pending)
	tw.Flush()
	deadMu.Lock()
	for _, i := range show {
		if m := dead[tenantName(i)]; len(m) > 0 {
			fmt.Fprintf(out, "dead letters of %s by reason: %v\n", tenantName(i), m)
		}
	}
	deadMu.Unlock()
	fmt.Fprintln(out)
	if ok && closeErr == nil {
		fmt.Fprintln(out, "accounting: OK — for every tenant, every matched event was delivered or dead-lettered (pending 0)")
		return nil
	}
	fmt.Fprintf(out, "accounting: FAILED — some events are unaccounted for (close: %v)\n", closeErr)
	return errFailed
}
