// metrics_test.go tests the -metrics listener: a scrape of /metrics agrees
// with Stats, and /debug/sqshook serves the health JSON.

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// promSample is one line of the Prometheus text format.
type promSample struct {
	name   string
	labels map[string]string
	value  float64
}

var promLabel = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"`)

// scrape reads url's Prometheus text format.
func scrape(t *testing.T, url string) []promSample {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	var out []promSample
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("bad sample %q: %v", line, err)
		}
		s := promSample{name: line[:i], labels: map[string]string{}, value: v}
		if j := strings.IndexByte(line, '{'); j >= 0 && j < i {
			s.name = line[:j]
			for _, m := range promLabel.FindAllStringSubmatch(line[j:i], -1) {
				s.labels[m[1]] = m[2]
			}
		}
		out = append(out, s)
	}
	return out
}

// promSum sums the samples of name whose labels include want; found says
// whether there was any.
func promSum(samples []promSample, name string, want map[string]string) (sum float64, found bool) {
next:
	for _, s := range samples {
		if s.name != name {
			continue
		}
		for k, v := range want {
			if s.labels[k] != v {
				continue next
			}
		}
		sum, found = sum+s.value, true
	}
	return sum, found
}

func TestMetricsScrapeAgreesWithStats(t *testing.T) {
	m, err := startMetrics("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := m.stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}()
	srv := sqstest.NewServer(sqstest.WithSeed(7))
	defer srv.Close()
	// Throttled calls give retries and calls of another outcome.
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.3})
	ctx := context.Background()
	client := sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(srv.URL()), Retryer: aws.NopRetryer{},
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIADEMOEXAMPLE00000", "demo-secret-not-real", "")),
	})
	hooks, err := sqshook.ParseHooks([]byte(demoHooks))
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hooks {
		if err := createQueue(ctx, client, h.SQSQueueURL); err != nil {
			t.Fatal(err)
		}
	}
	d, err := sqshook.New(hooks, append(m.options(), sqshook.WithEndpoint(srv.URL()),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 10 * time.Millisecond}),
		sqshook.WithDeadLetter(func(sqshook.DeadLetter) {}))...)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(ctx)
	m.mux.Handle("/debug/sqshook", d.HealthHandler())

	const n = 300
	for i := range n {
		typ := []string{"message.new", "reaction.new", "message.flagged"}[i%3]
		ev, err := sqshook.NewEvent(typ, map[string]any{"i": i, "cid": "messaging:general"})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	flushCtx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := d.Flush(flushCtx); err != nil {
		t.Fatal(err)
	}
	stats := d.Stats()
	samples := scrape(t, "http://"+m.addr+"/metrics")

	if got, _ := promSum(samples, "sqshook_events_published_total", nil); got != n {
		t.Errorf("sqshook_events_published_total = %v, want %d", got, n)
	}
	var retries uint64
	for _, h := range stats.Hooks {
		hook := map[string]string{"sqshook_hook_id": h.HookID, "messaging_system": "aws_sqs"}
		for name, want := range map[string]uint64{
			"sqshook_copies_delivered_total":                    h.Delivered,
			"sqshook_calls_total":                               h.Batches,
			"sqshook_retries_total":                             h.Retries,
			"sqshook_delivery_latency_seconds_count":            h.Delivered,
			"messaging_client_operation_duration_seconds_count": h.Batches,
		} {
			got, found := promSum(samples, name, hook)
			if !found && want != 0 {
				t.Errorf("%s: no %s", h.HookID, name)
			}
			if got != float64(want) {
				t.Errorf("%s: %s = %v, Stats says %d", h.HookID, name, got, want)
			}
		}
		if h.Delivered == 0 {
			t.Errorf("%s: nothing delivered", h.HookID)
		}
		// Idle after Flush: a hook's gauges have no series.
		for _, name := range []string{"sqshook_buffered_events", "sqshook_inflight_limit"} {
			if _, found := promSum(samples, name, hook); found {
				t.Errorf("%s: %s has a series while the hook is idle", h.HookID, name)
			}
		}
		retries += h.Retries
	}
	for name, want := range map[string]float64{"sqshook_buffered_events": 0, `sqshook_hooks`: float64(len(stats.Hooks))} {
		if got, found := promSum(samples, name, nil); !found || got != want {
			t.Errorf("%s = %v (found %t), want %v", name, got, found, want)
		}
	}
	if got, _ := promSum(samples, "sqshook_hooks", map[string]string{"sqshook_health": "ok"}); got != float64(len(stats.Hooks)) {
		t.Errorf("sqshook_hooks{sqshook_health=ok} = %v, want %d", got, len(stats.Hooks))
	}
	if retries == 0 {
		t.Error("no retries: the throttling fault did not bite")
	}
	if got, _ := promSum(samples, "sqshook_calls_total", map[string]string{"sqshook_call_outcome": "transient", "error_type": "RequestThrottled"}); got == 0 {
		t.Error("no throttled call in sqshook_calls_total")
	}

	resp, err := http.Get("http://" + m.addr + "/debug/sqshook")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var health struct {
		Hooks []struct {
			ID        string `json:"id"`
			Delivered uint64 `json:"delivered"`
		} `json:"hooks"`
	}
	if err := json.Unmarshal(body, &health); err != nil {
		t.Fatalf("/debug/sqshook: %v: %s", err, body)
	}
	if len(health.Hooks) != len(stats.Hooks) || health.Hooks[0].Delivered != stats.Hooks[0].Delivered {
		t.Errorf("/debug/sqshook hooks %+v, Stats %+v", health.Hooks, stats.Hooks)
	}
	if strings.Contains(string(body), "demo-secret-not-real") || strings.Contains(string(body), "AKIADEMOEXAMPLE00000") {
		t.Errorf("/debug/sqshook shows the credentials:\n%s", body)
	}
}

func TestDemoMetricsFlag(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "-duration", "200ms", "-rate", "500", "-latency", "1ms", "-metrics", "127.0.0.1:0")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !regexp.MustCompile(`metrics: curl http://127\.0\.0\.1:\d+/metrics`).MatchString(out) {
		t.Errorf("demo output does not give the metrics address:\n%s", out)
	}
	if code, _, errOut := runCmd(t, "demo", "-duration", "100ms", "-metrics", "256.0.0.1:bad"); code == 0 || !strings.Contains(errOut, "-metrics") {
		t.Errorf("bad -metrics address: exit %d, stderr %q", code, errOut)
	}
}
