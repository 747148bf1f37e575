// This file owns the noisy-neighbour scenario of scenario_neighbours_test.go on the
// real SQS emulator: the dispatcher's endpoint is a reverse proxy on
// loopback in front of the emulator that holds every SendMessageBatch call
// to one tenant's queues (never answers until the dispatcher gives up on it
// or the test ends) and forwards everything else. The noisy tenant holds at
// most its share of calls (WithTenantMaxInFlight), so the quiet tenants, on
// the same connection pool, find connections: their events all reach their
// queues, read back from the emulator, while the noisy calls are still
// held.

package sqshook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
)

// emuTenantShare is the noisy tenant's share of calls in flight with the
// default options.
const emuTenantShare = sqshook.DefaultTenantMaxInFlight

// holdProxy forwards SQS calls to the emulator, except the SendMessageBatch
// calls to the queues in hold, which it holds until the client gives up or
// release is closed. It records when the emulator's acceptance of each
// entry of a forwarded batch passed through it, by event id.
type holdProxy struct {
	t       testing.TB
	srv     *httptest.Server
	tr      *http.Transport
	hold    map[string]bool // queue URLs whose batches are held
	release chan struct{}

	mu       sync.Mutex
	held     int // calls held now
	maxHeld  int // the most held at once
	holds    int // calls held in all
	accepted map[string][]time.Time
}

// entryIDsKey keys, in a forwarded batch's context, its entries' event ids
// by entry id.
type entryIDsKey struct{}

func newHoldProxy(t testing.TB, emulatorURL string, hold []string) *holdProxy {
	target, err := url.Parse(emulatorURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{t: t, tr: &http.Transport{}, hold: map[string]bool{}, release: make(chan struct{}),
		accepted: map[string][]time.Time{}}
	for _, q := range hold {
		p.hold[q] = true
	}
	rp := &httputil.ReverseProxy{
		Rewrite:        func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:      p.tr,
		ModifyResponse: p.recordAccepted,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Amz-Target") != "AmazonSQS.SendMessageBatch" {
			rp.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(io.LimitReader(r.Body, 4<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		var req struct {
			QueueUrl string
			Entries  []struct {
				Id                string
				MessageAttributes map[string]struct{ StringValue string }
			}
		}
		if err := json.Unmarshal(body, &req); err != nil || req.QueueUrl == "" {
			t.Errorf("proxy: a SendMessageBatch body without a QueueUrl (%v): %.200s", err, body)
		}
		if p.hold[req.QueueUrl] {
			p.mu.Lock()
			p.held++
			p.holds++
			p.maxHeld = max(p.maxHeld, p.held)
			p.mu.Unlock()
			select {
			case <-r.Context().Done(): // the client gave up
			case <-p.release:
			}
			p.mu.Lock()
			p.held--
			p.mu.Unlock()
			panic(http.ErrAbortHandler) // no answer: the connection is cut
		}
		ids := map[string]string{}
		for _, e := range req.Entries {
			ids[e.Id] = e.MessageAttributes[sqshook.AttrEventID].StringValue
		}
		r = r.WithContext(context.WithValue(r.Context(), entryIDsKey{}, ids))
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		rp.ServeHTTP(w, r)
	}))
	return p
}

// recordAccepted notes the event ids of the entries the emulator accepted.
func (p *holdProxy) recordAccepted(resp *http.Response) error {
	ids, _ := resp.Request.Context().Value(entryIDsKey{}).(map[string]string)
	if ids == nil || resp.StatusCode != http.StatusOK {
		return nil
	}
	at := time.Now()
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	var out struct{ Successful []struct{ Id string } }
	if err := json.Unmarshal(body, &out); err != nil {
		p.t.Errorf("proxy: a SendMessageBatch answer that is not JSON (%v): %.200s", err, body)
		return nil
	}
	p.mu.Lock()
	for _, s := range out.Successful {
		if id := ids[s.Id]; id != "" {
			p.accepted[id] = append(p.accepted[id], at)
		}
	}
	p.mu.Unlock()
	return nil
}

func (p *holdProxy) heldNow() (held, maxHeld, holds int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.held, p.maxHeld, p.holds
}

// acceptedCount is how many acceptances of event ids with the prefix
// passed.
func (p *holdProxy) acceptedCount(prefix string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for id, ts := range p.accepted {
		if strings.HasPrefix(id, prefix) {
			n += len(ts)
		}
	}
	return n
}

// p99 is the 99th percentile, over the events prefix+i, of sentAt[i] to
// the first acceptance.
func (p *holdProxy) p99(prefix string, sentAt []time.Time) time.Duration {
	p.mu.Lock()
	defer p.mu.Unlock()
	ds := make([]time.Duration, 0, len(sentAt))
	for i, s := range sentAt {
		if ts := p.accepted[prefix+strconv.Itoa(i)]; len(ts) > 0 {
			ds = append(ds, ts[0].Sub(s))
		}
	}
	if len(ds) == 0 {
		return 0
	}
	slices.Sort(ds)
	return ds[(len(ds)*99+99)/100-1]
}

// emuWait polls cond until it holds, failing the test after d.
func emuWait(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached in %v", what, d)
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not synchronisation
	}
}

// emuReceive reads want messages from the queue (deleting them) and returns
// their event ids, failing the test if they do not arrive within a minute.
func emuReceive(t testing.TB, client *sqs.Client, queueURL string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var ids []string
	for len(ids) < want {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage after %d of %d: %v", len(ids), want, err)
		}
		if len(out.Messages) == 0 {
			time.Sleep(10 * time.Millisecond) // polling with a deadline, not synchronisation
			continue
		}
		for _, m := range out.Messages {
			ids = append(ids, aws.ToString(m.MessageAttributes[sqshook.AttrEventID].StringValue))
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
	return ids
}

// close ends the held calls still held and stops the proxy.
func (p *holdProxy) close() {
	close(p.release)
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// emuNeighbours is one run of the scenario.
type emuNeighbours struct {
	quiet   []string // one queue URL per quiet tenant
	noisy   []string // the noisy tenant's queue URLs; none for the baseline
	rate    int      // events/s published to the quiet tenants together
	dur     time.Duration
	prefill int // events published to the noisy tenant before the quiet ones
	noisyBy int // every noisyBy-th quiet event is followed by one to the noisy tenant
}

type emuResult struct {
	p99     time.Duration // quiet tenants: Publish to the emulator's acceptance
	events  int
	maxHeld int // the most noisy calls the proxy held at once
	holds   int // noisy calls held in all
	heldAt  int // noisy calls held once the quiet events had all been read back
}

// runEmuNeighbours runs the scenario through a proxy and a dispatcher of its
// own, reads every quiet event back from the emulator (client reads the
// queues directly), and closes the dispatcher, which gives up on the held
// calls: every noisy copy is then dead-lettered, none lost.
func runEmuNeighbours(t *testing.T, ep string, client *sqs.Client, cfg emuNeighbours) emuResult {
	t.Helper()
	proxy := newHoldProxy(t, ep, cfg.noisy)
	defer proxy.close()
	dls := &deadLetters{}
	d, err := sqshook.New(nil,
		sqshook.WithLogger(slog.New(slog.DiscardHandler)),
		sqshook.WithEndpoint(proxy.srv.URL),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxElapsedTime: time.Hour, MaxAttempts: 1 << 30}),
		// No call gives up during the run (Close does): a call given up and
		// the next one started before the proxy notices would count twice.
		sqshook.WithCallTimeout(5*time.Minute),
	)
	if err != nil {
		t.Fatal(err)
	}
	closed := false
	closeD := func() {
		if closed {
			return
		}
		closed = true
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_ = d.Close(ctx) // gives up on the held calls after a second
	}
	defer closeD()
	hook := func(id, queueURL string) sqshook.Hook {
		return sqshook.Hook{ID: id, Enabled: true, HookType: sqshook.HookTypeSQS, SQSQueueURL: queueURL, SQSRegion: "us-east-1",
			SQSAuthType: sqshook.AuthKeys, SQSKey: "AKIAEMULATOREXAMPLE", SQSSecret: "emulator-secret-not-real"}
	}
	if len(cfg.noisy) > 0 {
		hooks := make([]sqshook.Hook, len(cfg.noisy))
		for i, q := range cfg.noisy {
			hooks[i] = hook("h"+strconv.Itoa(i), q)
		}
		if err := d.Tenant("noisy").SetHooks(hooks); err != nil {
			t.Fatal(err)
		}
	}
	quiet := make([]*sqshook.Tenant, len(cfg.quiet))
	for i, q := range cfg.quiet {
		quiet[i] = d.Tenant("quiet" + strconv.Itoa(i))
		if err := quiet[i].SetHooks([]sqshook.Hook{hook("h", q)}); err != nil {
			t.Fatal(err)
		}
	}
	body := chatEventJSON(t, "message.new", "hello")
	// A first event per quiet tenant, not measured: connections and
	// clients are set up before the measured events, in both runs alike.
	for i, q := range quiet {
		if err := q.Publish(context.Background(), sqshook.Event{ID: "w-" + strconv.Itoa(i), Type: "message.new", Body: body}); err != nil {
			t.Fatalf("quiet Publish: %v", err)
		}
	}
	emuWait(t, "first quiet events accepted", time.Minute, func() bool { return proxy.acceptedCount("w-") >= len(quiet) })
	noisyEvents := 0
	publishNoisy := func() {
		ev := sqshook.Event{ID: "n-" + strconv.Itoa(noisyEvents), Type: "message.new", Body: body}
		noisyEvents++
		if err := d.Tenant("noisy").Publish(context.Background(), ev); err != nil {
			t.Fatalf("noisy Publish: %v", err)
		}
	}
	if len(cfg.noisy) > 0 {
		for range cfg.prefill {
			publishNoisy()
		}
		// The noisy tenant's share of calls is out and held before the
		// quiet tenants publish (before the share existed: more).
		emuWait(t, "noisy calls held", time.Minute, func() bool { h, _, _ := proxy.heldNow(); return h >= emuTenantShare })
	}

	n := int(float64(cfg.rate) * cfg.dur.Seconds())
	sentAt := make([]time.Time, n)
	start := time.Now()
	for i := 0; i < n; {
		if want := int(time.Since(start).Seconds() * float64(cfg.rate)); i >= want {
			time.Sleep(time.Millisecond) // pacing
			continue
		}
		sentAt[i] = time.Now()
		ev := sqshook.Event{ID: "e-" + strconv.Itoa(i), Type: "message.new", Body: body}
		if err := quiet[i%len(quiet)].Publish(context.Background(), ev); err != nil {
			t.Fatalf("quiet Publish: %v", err)
		}
		if len(cfg.noisy) > 0 && cfg.noisyBy > 0 && i%cfg.noisyBy == 0 {
			publishNoisy()
		}
		i++
	}
	// Far above a healthy run. Quiet calls waiting for a connection the
	// noisy tenant holds would wait until the call timeout, longer.
	for deadline := time.Now().Add(2 * time.Minute); proxy.acceptedCount("e-") < n; {
		if time.Now().After(deadline) {
			held, maxHeld, _ := proxy.heldNow()
			t.Fatalf("quiet events: %d of %d accepted after 2m, with %d noisy calls held (at most %d at once; the share is %d)",
				proxy.acceptedCount("e-"), n, held, maxHeld, emuTenantShare)
		}
		time.Sleep(time.Millisecond) // polling with a deadline, not synchronisation
	}
	res := emuResult{events: n, p99: proxy.p99("e-", sentAt)}

	// Read back from the emulator: each quiet queue holds exactly its
	// tenant's events.
	for i, q := range cfg.quiet {
		want := map[string]bool{"w-" + strconv.Itoa(i): true}
		for j := i; j < n; j += len(cfg.quiet) {
			want["e-"+strconv.Itoa(j)] = true
		}
		for _, id := range emuReceive(t, client, q, len(want)) {
			if !want[id] {
				t.Errorf("quiet tenant %d: message %q read back, not one of its events or twice", i, id)
			}
			delete(want, id)
		}
		if len(want) != 0 {
			t.Errorf("quiet tenant %d: %d events not read back", i, len(want))
		}
		extra, err := client.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(q)})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(extra.Messages) != 0 {
			t.Errorf("quiet tenant %d: more messages after its events; want none", i)
		}
	}
	res.heldAt, res.maxHeld, _ = proxy.heldNow()

	closeD()
	dead := 0
	for _, dl := range dls.list() {
		if !strings.HasPrefix(dl.Event.ID, "n-") {
			t.Errorf("a quiet tenant's event was dead-lettered: %s %s %s", dl.Event.ID, dl.Reason, dl.Message)
			continue
		}
		dead++
	}
	if want := noisyEvents * len(cfg.noisy); dead+proxy.acceptedCount("n-") != want {
		t.Errorf("after Close: %d noisy copies dead-lettered and %d delivered, want %d in all", dead, proxy.acceptedCount("n-"), want)
	}
	// The dispatcher gave up on the held calls: the proxy sees each end.
	emuWait(t, "held calls ended", time.Minute, func() bool { h, _, _ := proxy.heldNow(); return h == 0 })
	_, res.maxHeld, res.holds = proxy.heldNow()
	return res
}

// TestEmulatorHangingTenantHoldsItsShare: one tenant's 100 queues on the
// emulator hang behind the proxy. The proxy never holds more of its calls
// than the tenant's share, the quiet tenants' events all reach their queues
// while the noisy calls are still held, and their p99 stays within a
// generous factor of a baseline run without the noisy tenant.
func TestEmulatorHangingTenantHoldsItsShare(t *testing.T) {
	ep := emulator(t)
	opt := goleak.IgnoreCurrent()
	t.Cleanup(func() { goleak.VerifyNone(t, opt) })
	pool := sqshook.NewClientPool(sqshook.ClientOptions{Endpoint: ep})
	t.Cleanup(pool.CloseIdleConnections)
	client, err := pool.Client(context.Background(), sqshook.Hook{Enabled: true, HookType: sqshook.HookTypeSQS, SQSRegion: "us-east-1",
		SQSAuthType: sqshook.AuthKeys, SQSKey: "AKIAEMULATOREXAMPLE", SQSSecret: "emulator-secret-not-real"})
	if err != nil {
		t.Fatal(err)
	}
	run := strconv.FormatInt(time.Now().UnixNano()%1e9, 10) + "-" + strconv.FormatInt(queueSeq.Add(1), 10)
	newQueue := func(name string) string {
		out, err := client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name + "-" + run)})
		if err != nil {
			t.Fatalf("CreateQueue(%s): %v", name, err)
		}
		t.Cleanup(func() { _, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl}) })
		return aws.ToString(out.QueueUrl)
	}
	quiet := make([]string, 10)
	for i := range quiet {
		quiet[i] = newQueue("quiet" + strconv.Itoa(i))
	}
	noisy := make([]string, 100)
	for i := range noisy {
		noisy[i] = newQueue("noisy" + strconv.Itoa(i))
	}

	base := runEmuNeighbours(t, ep, client, emuNeighbours{quiet: quiet, rate: 200, dur: time.Second})
	cfg := emuNeighbours{quiet: quiet, noisy: noisy, rate: 200, dur: time.Second, prefill: 40, noisyBy: 20}
	out := runEmuNeighbours(t, ep, client, cfg)
	ratio := float64(out.p99) / float64(max(base.p99, time.Microsecond))
	t.Logf("%d quiet tenants, %d events/s on the emulator: p99 %v without the noisy tenant, %v with its %d queues held: %.2fx (target 1.3x); its calls held at most %d at once (share %d), %d when the quiet events had been read back, %d in all",
		len(quiet), cfg.rate, base.p99, out.p99, len(noisy), ratio, out.maxHeld, emuTenantShare, out.heldAt, out.holds)
	if out.maxHeld > emuTenantShare {
		t.Errorf("the proxy held %d of the noisy tenant's calls at once, more than its share %d", out.maxHeld, emuTenantShare)
	}
	if out.heldAt == 0 {
		t.Errorf("no noisy call was held when the quiet events had been read back: the fault was not in effect")
	}
	// The target is 1.3x; on a busy machine a p99 of a few hundred events
	// swings by several times from run to run. The bound catches quiet
	// calls waiting for a connection, not noise.
	if limit := 10*base.p99 + time.Second; out.p99 > limit {
		t.Errorf("quiet tenants' p99 %v with the noisy tenant, over 10x the %v without it (+1s)", out.p99, base.p99)
	}
}
