package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
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

// startServe runs "sqshook serve" with args until ctx ends and returns the
// named fields of its banner, and the channel of its exit code.
func startServe(ctx context.Context, t *testing.T, args []string) (out *announceWriter, errOut *bytes.Buffer, done chan int, field func(string) string) {
	t.Helper()
	out = &announceWriter{ready: make(chan struct{})}
	errOut = &bytes.Buffer{}
	done = make(chan int, 1)
	go func() { done <- run(ctx, append([]string{"serve"}, args...), out, errOut) }()
	select {
	case <-out.ready:
	case code := <-done:
		t.Fatalf("serve exited with %d before serving:\n%s\n%s", code, out.String(), errOut.String())
	case <-time.After(60 * time.Second):
		t.Fatalf("serve did not print its banner:\n%s", out.String())
	}
	banner := out.String()
	field = func(name string) string {
		t.Helper()
		m := regexp.MustCompile(`(?m)^  ` + name + ` +(\S+)`).FindStringSubmatch(banner)
		if m == nil {
			t.Fatalf("banner has no %q:\n%s", name, banner)
		}
		return strings.TrimSuffix(m[1], ",")
	}
	return out, errOut, done, field
}

func testServe(t *testing.T, extra ...string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done, field := startServe(ctx, t, append([]string{"-addr", "127.0.0.1:0", "-rate", "200", "-progress", "0"}, extra...))
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
		// Stream's SQS contract: the event JSON in base64.
		ev, err := base64.StdEncoding.DecodeString(b)
		if err != nil || !strings.Contains(string(ev), `"type":"message.new"`) {
			t.Errorf("queue got %s, want only message.new events in base64 (%v)", b, err)
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

// TestServeClosesSlowAndIdleConnections: a client that announces a body and
// never sends it, one that never finishes its headers, and an idle
// keep-alive connection are each closed once serve's timeouts (set with
// its flags) have passed.
func TestServeClosesSlowAndIdleConnections(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out, errOut, done, field := startServe(ctx, t, []string{"-addr", "127.0.0.1:0", "-rate", "0", "-progress", "0",
		"-read-header-timeout", "200ms", "-read-timeout", "300ms", "-idle-timeout", "300ms"})
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d:\n%s\n%s", code, out.String(), errOut.String())
		}
	}()
	addr := strings.TrimPrefix(field("base URL"), "http://")
	key := field("api key")
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte(field("api secret")))
	if err != nil {
		t.Fatal(err)
	}

	// A generous bound, far above the timeouts: a busy machine may be slow
	// to close, but a server without timeouts never closes.
	const bound = 30 * time.Second
	dial := func(t *testing.T) net.Conn {
		t.Helper()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	wantClosed := func(t *testing.T, c net.Conn, r io.Reader) {
		t.Helper()
		if err := c.SetReadDeadline(time.Now().Add(bound)); err != nil {
			t.Fatal(err)
		}
		_, err := io.Copy(io.Discard, r)
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Fatalf("the server kept the connection open for %v", bound)
		}
	}

	t.Run("body never sent", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "PATCH /app?api_key=%s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nStream-Auth-Type: jwt\r\n"+
			"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"event_hooks\": [", key, addr, token)
		wantClosed(t, c, c)
	})
	t.Run("headers never finished", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "GET /app?api_key=%s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\n", key, addr, token)
		wantClosed(t, c, c)
	})
	t.Run("idle keep-alive connection", func(t *testing.T) {
		c := dial(t)
		fmt.Fprintf(c, "GET /app?api_key=%s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nStream-Auth-Type: jwt\r\n\r\n", key, addr, token)
		br := bufio.NewReader(c)
		res, err := http.ReadResponse(br, nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK || res.Close {
			t.Fatalf("GET /app: %d (close %v) %s, want 200 on a kept-alive connection", res.StatusCode, res.Close, body)
		}
		wantClosed(t, c, br)
	})
}

func TestServeTimeoutFlags(t *testing.T) {
	for _, flag := range []string{"-read-header-timeout", "-read-timeout", "-write-timeout", "-idle-timeout"} {
		for _, v := range []string{"0", "-1s"} {
			code, _, errOut := runCmd(t, "serve", flag, v)
			if want := flag + " must be positive"; code != 2 || !strings.Contains(errOut, want) {
				t.Errorf("serve %s %s: exit %d, stderr %q; want exit 2 and %q", flag, v, code, errOut, want)
			}
		}
	}
	code, _, errOut := runCmd(t, "serve", "-h")
	for _, flag := range []string{"-read-header-timeout", "-read-timeout", "-write-timeout", "-idle-timeout"} {
		if code != 0 || !strings.Contains(errOut, flag) {
			t.Errorf("serve -h: exit %d, does not name %s:\n%s", code, flag, errOut)
		}
	}
}
