package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/golang-jwt/jwt/v5"
)

// announceWriter collects output and closes ready once the line naming the
// demo queue (the last line of serve's banner) has been written.
type announceWriter struct {
	mu    sync.Mutex
	b     bytes.Buffer
	ready chan struct{}
	once  sync.Once
}

func (w *announceWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, err := w.b.Write(p)
	if strings.Contains(w.b.String(), "demo queue") && strings.Contains(w.b.String(), "\n\n") {
		w.once.Do(func() { close(w.ready) })
	}
	return n, err
}

func (w *announceWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

// TestServeCommand runs sqshook serve over its in-process SQS endpoint and,
// when SQSHOOK_EMULATOR_ENDPOINT names one, over the SQS emulator.
func TestServeCommand(t *testing.T) {
	t.Run("in-process", func(t *testing.T) { testServe(t) })
	if ep := os.Getenv("SQSHOOK_EMULATOR_ENDPOINT"); ep != "" {
		t.Run("emulator", func(t *testing.T) { testServe(t, "-endpoint", ep) })
	}
}

func testServe(t *testing.T, extra ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &announceWriter{ready: make(chan struct{})}
	var errOut bytes.Buffer
	done := make(chan int, 1)
	args := append([]string{"serve", "-addr", "127.0.0.1:0", "-rate", "200", "-progress", "0"}, extra...)
	go func() { done <- run(ctx, args, out, &errOut) }()
	select {
	case <-out.ready:
	case code := <-done:
		t.Fatalf("serve exited with %d before serving:\n%s\n%s", code, out.String(), errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not print its banner:\n%s", out.String())
	}
	banner := out.String()
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^  ` + name + ` +(\S+)`).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("banner has no %q:\n%s", name, banner)
		}
		return strings.TrimSuffix(m[1], ",")
	}
	base, key, secret, endpoint, queue := field("base URL"), field("api key"), field("api secret"), field("SQS"), field("demo queue")
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	call := func(method, path, body string) map[string]any {
		t.Helper()
		req, _ := http.NewRequest(method, base+path+"?api_key="+key, strings.NewReader(body))
		req.Header.Set("Authorization", token)
		req.Header.Set("stream-auth-type", "jwt")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
		}
		var m map[string]any
		if err := json.Unmarshal(data, &m); err != nil {
			t.Fatal(err)
		}
		return m
	}
	if hooks := call("GET", "/app", "")["event_hooks"].([]any); len(hooks) != 0 {
		t.Fatalf("new demo app has hooks: %v", hooks)
	}
	hook := `{"event_hooks": [{"enabled": true, "hook_type": "sqs", "sqs_queue_url": "` + queue + `",
		"sqs_region": "us-east-1", "sqs_auth_type": "keys", "sqs_key": "AKIADEMOEXAMPLE00000",
		"sqs_secret": "serve-test-secret-0123456789", "event_types": ["message.new"]}]}`
	call("PATCH", "/app", hook)
	if st := call("POST", "/check_sqs", "")["status"]; st != "ok" {
		t.Errorf("check_sqs of the demo queue: %v, want ok", st)
	}

	// The simulated traffic reaches the queue the hook names.
	client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider("AKIADEMOEXAMPLE00000", "x", "")})
	rctx, rcancel := context.WithTimeout(ctx, 60*time.Second)
	defer rcancel()
	var got []string
	for len(got) == 0 {
		res, err := client.ReceiveMessage(rctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10, WaitTimeSeconds: 2})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v\n%s", err, out.String())
		}
		for _, m := range res.Messages {
			got = append(got, aws.ToString(m.Body))
		}
	}
	for _, b := range got {
		if !strings.Contains(b, `"type":"message.new"`) {
			t.Errorf("queue got %s, want only message.new events", b)
		}
	}

	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited with %d:\n%s\n%s", code, out.String(), errOut.String())
	}
	// What serve delivered after the test read is left for no one.
	_, _ = client.PurgeQueue(context.Background(), &sqs.PurgeQueueInput{QueueUrl: aws.String(queue)})
	if !strings.Contains(out.String(), "stopped: published") {
		t.Errorf("serve did not report its end:\n%s", out.String())
	}
	if strings.Contains(out.String()+errOut.String(), "serve-test-secret") {
		t.Errorf("serve printed a hook's secret")
	}
}
