// bench_lean_test.go measures the sending process's CPU time per
// acknowledged event against a fake SQS endpoint in another process, for
// sqshook (lean and SDK send paths) beside two baselines: the floor (a
// bare net/http POST loop of one pre-built unsigned request) and a raw SDK
// loop.

package sqshook_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// envFakeSQSChild makes the test binary serve a fake SQS endpoint
// (TestHelperFakeSQS) instead of testing.
const envFakeSQSChild = "SQSHOOK_FAKE_SQS_CHILD"

// TestHelperFakeSQS is not a test: run by BenchmarkClientCPU in a child
// process (with envFakeSQSChild set to the latency), it serves sqstest
// with that latency and without recording, prints its URL and serves
// until its standard input closes.
func TestHelperFakeSQS(t *testing.T) {
	lat := os.Getenv(envFakeSQSChild)
	if lat == "" {
		return
	}
	d, err := time.ParseDuration(lat)
	if err != nil {
		t.Fatal(err)
	}
	srv := sqstest.NewServer(sqstest.WithLatency(d), sqstest.WithoutRecording())
	defer srv.Close()
	srv.CreateQueue("cpu", nil)
	fmt.Printf("URL %s\n", srv.URL())
	_, _ = io.Copy(io.Discard, os.Stdin)
}

// startFakeSQSProcess starts the fake endpoint in a child process and
// returns its URL; the child ends with the benchmark.
func startFakeSQSProcess(b *testing.B, latency time.Duration) string {
	b.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperFakeSQS$", "-test.count=1")
	cmd.Env = append(os.Environ(), envFakeSQSChild+"="+latency.String())
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		_ = cmd.Wait()
	})
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "URL "); ok {
			go func() { _, _ = io.Copy(io.Discard, stdout) }()
			return u
		}
	}
	b.Fatal("the fake SQS process printed no URL")
	return ""
}

// cpuResult is one way's measurement.
type cpuResult struct {
	events        int
	cpu           time.Duration
	mallocs       uint64
	elapsed       time.Duration
	perEvent      float64 // µs of CPU per acknowledged event
	allocsPerCall float64 // heap allocations per 10-event batch
}

// measureCPU runs fn (which sends and waits for the acknowledgement of
// what it reports) and measures the process's CPU time and allocations.
func measureCPU(fn func() int) cpuResult {
	runtime.GC()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0, t0 := cpuTime(), time.Now()
	n := fn()
	c1, t1 := cpuTime(), time.Now()
	runtime.ReadMemStats(&m1)
	r := cpuResult{events: n, cpu: c1 - c0, mallocs: m1.Mallocs - m0.Mallocs, elapsed: t1.Sub(t0)}
	r.derive()
	return r
}

// derive sets r's per-event and per-batch figures from its totals.
func (r *cpuResult) derive() {
	if r.events > 0 {
		r.perEvent = float64(r.cpu.Microseconds()) / float64(r.events)
		r.allocsPerCall = float64(r.mallocs) / (float64(r.events) / sqshook.MaxBatchEntries)
	}
}

// paced calls send once per tick, ticks coming at rate/10 per second for
// dur, from workers goroutines; it returns the events acknowledged (10
// per successful send).
func paced(b *testing.B, rate int, dur time.Duration, send func() error) int {
	interval := time.Second * sqshook.MaxBatchEntries / time.Duration(rate)
	ticks := make(chan struct{}, 1024)
	var ok atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	for range 128 {
		wg.Go(func() {
			for range ticks {
				if err := send(); err != nil {
					firstErr.CompareAndSwap(nil, err)
					continue
				}
				ok.Add(sqshook.MaxBatchEntries)
			}
		})
	}
	start := time.Now()
	for next := start; next.Sub(start) < dur; next = next.Add(interval) {
		time.Sleep(time.Until(next))
		ticks <- struct{}{}
	}
	close(ticks)
	wg.Wait()
	if err := firstErr.Load(); err != nil {
		b.Fatal(err)
	}
	return int(ok.Load())
}

// cpuBenchRates are the paced rates measured: 8,000 events/s, and those
// in SQSHOOK_CPU_RATES (comma-separated) when set.
func cpuBenchRates() []int {
	rates := []int{8000}
	for _, s := range strings.Split(os.Getenv("SQSHOOK_CPU_RATES"), ",") {
		if n, err := strconv.Atoi(strings.TrimSpace(s)); err == nil && n > 0 {
			rates = append(rates, n)
		}
	}
	return rates
}

// BenchmarkClientCPU paces every way at the same rate of 1.8 KB chat
// events against a fake SQS endpoint with a 5 ms round trip in another
// process, and reports the sending process's CPU time per acknowledged
// event (getrusage), heap allocations per 10-event batch, and, for the
// sqshook ways, their ratios to the floor and to the raw SDK loop of the
// same run. Each way runs SQSHOOK_CPU_SECONDS seconds (default 3); run
// with -benchtime=1x.
//
// The ways run one after the other, and the machine's load moves between
// them; "interleaved" measures the floor and sqshook's lean path in
// alternating one-second slices instead (SQSHOOK_CPU_ROUNDS pairs,
// default 6), so that both see the same machine, and reports their ratio
// over all slices (x-floor) and the median of the rounds' ratios; it
// also interleaves floor-checked, the floor plus the per-byte work no
// correct client skips, and reports the lean path's ratio to it
// (x-floor-checked) and its own to the floor (checked-x-floor).
func BenchmarkClientCPU(b *testing.B) {
	url := startFakeSQSProcess(b, 5*time.Millisecond)
	queueURL := url + "/" + sqstest.AccountID + "/cpu"
	dur := 3 * time.Second
	if s, err := strconv.ParseFloat(os.Getenv("SQSHOOK_CPU_SECONDS"), 64); err == nil && s > 0 {
		dur = time.Duration(s * float64(time.Second))
	}
	rounds := 6
	if n, err := strconv.Atoi(os.Getenv("SQSHOOK_CPU_ROUNDS")); err == nil && n > 0 {
		rounds = n
	}
	body := benchChatBody(b, 1800)
	hook := benchSQSHook("cpu", queueURL)

	for _, rate := range cpuBenchRates() {
		ways := map[string]func(b *testing.B) cpuWay{
			"floor":         func(b *testing.B) cpuWay { return floorWay(b, queueURL, body, rate, false) },
			"floor-checked": func(b *testing.B) cpuWay { return floorWay(b, queueURL, body, rate, true) },
			"sdk-raw":       func(b *testing.B) cpuWay { return sdkRawWay(b, url, hook, body, rate, false) },
			"sdk-trimmed":   func(b *testing.B) cpuWay { return sdkRawWay(b, url, hook, body, rate, true) },
			"sqshook-sdk":   func(b *testing.B) cpuWay { return dispatcherWay(b, url, hook, body, rate, true) },
			"sqshook-lean":  func(b *testing.B) cpuWay { return dispatcherWay(b, url, hook, body, rate, false) },
		}
		results := map[string]cpuResult{}
		for _, name := range []string{"floor", "floor-checked", "sdk-raw", "sdk-trimmed", "sqshook-sdk", "sqshook-lean"} {
			b.Run(fmt.Sprintf("rate=%d/%s", rate, name), func(b *testing.B) {
				w := ways[name](b)
				defer w.close()
				var r cpuResult
				for range b.N {
					r = measureCPU(func() int { return w.run(b, dur) })
				}
				results[name] = r
				r.report(b)
				if f := results["floor"]; f.perEvent > 0 && name != "floor" {
					b.ReportMetric(r.perEvent/f.perEvent, "x-floor")
				}
				if f := results["floor-checked"]; f.perEvent > 0 && strings.HasPrefix(name, "sqshook") {
					b.ReportMetric(r.perEvent/f.perEvent, "x-floor-checked")
				}
				if s := results["sdk-raw"]; s.perEvent > 0 && name != "sdk-raw" && name != "floor" {
					b.ReportMetric(r.perEvent/s.perEvent, "x-sdk-raw")
				}
			})
		}
		b.Run(fmt.Sprintf("rate=%d/interleaved", rate), func(b *testing.B) {
			floor, checked, lean := ways["floor"](b), ways["floor-checked"](b), ways["sqshook-lean"](b)
			defer floor.close()
			defer checked.close()
			defer lean.close()
			// A first slice of each, not counted, opens their connections.
			floor.run(b, time.Second/2)
			checked.run(b, time.Second/2)
			lean.run(b, time.Second/2)
			var f, c, l cpuResult
			var ratios []float64
			for range b.N {
				for range rounds {
					fr := measureCPU(func() int { return floor.run(b, time.Second) })
					cr := measureCPU(func() int { return checked.run(b, time.Second) })
					lr := measureCPU(func() int { return lean.run(b, time.Second) })
					f.add(fr)
					c.add(cr)
					l.add(lr)
					ratios = append(ratios, lr.perEvent/fr.perEvent)
				}
			}
			slices.Sort(ratios)
			b.ReportMetric(f.perEvent, "floor-cpu-µs/event")
			b.ReportMetric(c.perEvent, "floor-checked-cpu-µs/event")
			b.ReportMetric(l.perEvent, "lean-cpu-µs/event")
			b.ReportMetric(l.perEvent/f.perEvent, "x-floor")
			b.ReportMetric(c.perEvent/f.perEvent, "checked-x-floor")
			b.ReportMetric(l.perEvent/c.perEvent, "x-floor-checked")
			b.ReportMetric(ratios[len(ratios)/2], "x-floor-median")
			b.ReportMetric(ratios[0], "x-floor-min")
			b.ReportMetric(ratios[len(ratios)-1], "x-floor-max")
			b.ReportMetric(l.allocsPerCall, "lean-allocs/batch")
		})
	}
}

// report reports r's figures.
func (r cpuResult) report(b *testing.B) {
	b.ReportMetric(r.perEvent, "cpu-µs/event")
	b.ReportMetric(r.allocsPerCall, "allocs/batch")
	b.ReportMetric(float64(r.events)/r.elapsed.Seconds(), "events/s")
}

// add adds o's measurement to r's.
func (r *cpuResult) add(o cpuResult) {
	*r = cpuResult{events: r.events + o.events, cpu: r.cpu + o.cpu, mallocs: r.mallocs + o.mallocs, elapsed: r.elapsed + o.elapsed}
	r.derive()
}

// cpuWay is one way of sending, set up once: run sends at the way's pace
// for dur and returns the events acknowledged, close ends the way.
type cpuWay struct {
	run   func(b *testing.B, dur time.Duration) int
	close func()
}

// cpuEntries are a batch of 10 events as sqshook sends them: the body and
// the event_id and event_type attributes.
func cpuEntries(body []byte) []types.SendMessageBatchRequestEntry {
	s := string(body)
	entries := make([]types.SendMessageBatchRequestEntry, sqshook.MaxBatchEntries)
	for i := range entries {
		entries[i] = types.SendMessageBatchRequestEntry{
			Id: aws.String(strconv.Itoa(i)), MessageBody: &s,
			MessageAttributes: map[string]types.MessageAttributeValue{
				sqshook.AttrEventID:   {DataType: aws.String("String"), StringValue: aws.String("evt-" + strconv.Itoa(1000000+i))},
				sqshook.AttrEventType: {DataType: aws.String("String"), StringValue: aws.String("message.new")},
			},
		}
	}
	return entries
}

// floorWay posts one pre-built, unsigned 10-entry request (encoded once by
// encoding/json) with net/http. With checked, each call also does the
// per-byte work no correct client skips (sqshook.RequiredByteWork: the
// grammar check and escaping of the bodies, the SHA-256 of the request and
// the MD5 of each body), as sqshook does it: the floor any design of
// sqshook's contract can reach.
func floorWay(b *testing.B, queueURL string, body []byte, rate int, checked bool) cpuWay {
	type attr struct{ DataType, StringValue string }
	type entry struct {
		Id, MessageBody   string
		MessageAttributes map[string]attr
	}
	var req struct {
		QueueUrl string
		Entries  []entry
	}
	req.QueueUrl = queueURL
	for _, e := range cpuEntries(body) {
		en := entry{Id: *e.Id, MessageBody: *e.MessageBody, MessageAttributes: map[string]attr{}}
		for k, v := range e.MessageAttributes {
			en.MessageAttributes[k] = attr{*v.DataType, *v.StringValue}
		}
		req.Entries = append(req.Entries, en)
	}
	payload, err := json.Marshal(req)
	if err != nil {
		b.Fatal(err)
	}
	endpoint := queueURL[:strings.Index(queueURL[len("http://"):], "/")+len("http://")]
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	bodies := slices.Repeat([]string{string(body)}, sqshook.MaxBatchEntries) // one body, as dispatcherWay publishes
	scratch := sync.Pool{New: func() any { return new([]byte) }}
	send := func() error {
		if checked {
			buf := scratch.Get().(*[]byte)
			*buf = sqshook.RequiredByteWork(*buf, bodies)
			scratch.Put(buf)
		}
		r, err := http.NewRequest(http.MethodPost, endpoint+"/", bytes.NewReader(payload))
		if err != nil {
			return err
		}
		r.Header.Set("Content-Type", "application/x-amz-json-1.0")
		r.Header.Set("X-Amz-Target", "AmazonSQS.SendMessageBatch")
		resp, err := client.Do(r)
		if err != nil {
			return err
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("floor: status %d", resp.StatusCode)
		}
		return nil
	}
	return cpuWay{
		run:   func(b *testing.B, dur time.Duration) int { return paced(b, rate, dur, send) },
		close: client.CloseIdleConnections,
	}
}

// sdkRawWay sends the batch with the SDK client the pool builds; trimmed
// also turns off the SDK's MD5 check of the response and removes the
// middlewares that are not needed to make the call.
func sdkRawWay(b *testing.B, endpoint string, h sqshook.Hook, body []byte, rate int, trimmed bool) cpuWay {
	pool := sqshook.NewClientPool(sqshook.ClientOptions{Endpoint: endpoint, MaxIdleConnsPerHost: 256})
	c, err := pool.Client(context.Background(), h)
	if err != nil {
		b.Fatal(err)
	}
	var opts []func(*sqs.Options)
	if trimmed {
		opts = append(opts, trimSDK)
	}
	in := &sqs.SendMessageBatchInput{QueueUrl: &h.SQSQueueURL, Entries: cpuEntries(body)}
	send := func() error {
		out, err := c.SendMessageBatch(context.Background(), in, opts...)
		if err == nil && len(out.Failed) > 0 {
			err = fmt.Errorf("%d entries failed", len(out.Failed))
		}
		return err
	}
	return cpuWay{
		run:   func(b *testing.B, dur time.Duration) int { return paced(b, rate, dur, send) },
		close: pool.CloseIdleConnections,
	}
}

// dispatcherWay publishes paced events through a Dispatcher (10 per
// tick, so that its publisher wakes as often as the baselines' tickers);
// each run waits for all of its events to be acknowledged.
func dispatcherWay(b *testing.B, endpoint string, h sqshook.Hook, body []byte, rate int, sdkPath bool) cpuWay {
	d, err := sqshook.New([]sqshook.Hook{h},
		sqshook.WithLogger(slog.New(slog.DiscardHandler)),
		sqshook.WithEndpoint(endpoint),
		sqshook.WithClientOptions(sqshook.ClientOptions{SDKSendPath: sdkPath, MaxIdleConnsPerHost: 256}),
	)
	if err != nil {
		b.Fatal(err)
	}
	var total int64 // events accepted by all runs
	run := func(b *testing.B, dur time.Duration) int {
		ctx := context.Background()
		n := 0
		interval := time.Second * sqshook.MaxBatchEntries / time.Duration(rate)
		start := time.Now()
		for next := start; next.Sub(start) < dur; next = next.Add(interval) {
			time.Sleep(time.Until(next))
			for range sqshook.MaxBatchEntries {
				// A full queue (the way does not keep up with the rate)
				// refuses the event: only acknowledged events count. The
				// event's id is sqshook's (an event without one gets
				// one), so that the harness spends nothing per event.
				if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: body}); err == nil {
					n++
				}
			}
		}
		fctx, cancel := context.WithTimeout(ctx, time.Minute)
		defer cancel()
		if err := d.Flush(fctx); err != nil {
			b.Fatal(err)
		}
		total += int64(n)
		if st, _ := d.Stats().Hook(h.ID); int64(st.Delivered) != total {
			b.Fatalf("%d of %d events delivered", st.Delivered, total)
		}
		return n
	}
	return cpuWay{run: run, close: func() { benchClose(b, d) }}
}

// trimSDK turns off the SDK's MD5 check of the response and removes the
// middlewares a call can do without: input validation, invocation ids,
// the user agent, recursion detection, interceptors, timing and logging.
func trimSDK(o *sqs.Options) {
	o.DisableMessageChecksumValidation = true
	o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
		for _, id := range trimmedMiddlewares {
			_, _ = s.Initialize.Remove(id)
			_, _ = s.Serialize.Remove(id)
			_, _ = s.Build.Remove(id)
			_, _ = s.Finalize.Remove(id)
			_, _ = s.Deserialize.Remove(id)
		}
		return nil
	})
}

var trimmedMiddlewares = []string{
	"SQSValidateMessageChecksum", "OperationInputValidation", "ClientRequestID", "UserAgent",
	"RecursionDetection", "InterceptBeforeRetryLoop", "InterceptAttempt", "AddRawResponseToMetadata",
	"RecordResponseTiming", "RequestResponseLogger",
}
