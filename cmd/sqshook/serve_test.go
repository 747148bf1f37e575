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
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/golang-jwt/jwt/v5"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/streamclient"
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

// clientDir holds Stream's pinned JavaScript clients and their flows.
const clientDir = "../../testdata/stream-client"

// writeApps writes an apps file at path, replacing it by a rename as an
// operator's deploy would.
func writeApps(t *testing.T, path string, apps ...[3]string) {
	t.Helper()
	var list []map[string]string
	for _, a := range apps {
		list = append(list, map[string]string{"api_key": a[0], "api_secret": a[1], "tenant": a[2]})
	}
	data, _ := json.Marshal(list)
	tmp := path + ".new"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// receiveUntil receives (and deletes) messages of queue until keep has
// accepted n of them, and returns their bodies; each message's event_id
// attribute must start with prefix.
func receiveUntil(ctx context.Context, t *testing.T, client *sqs.Client, queue, prefix string, n int, keep func(body string) bool) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 90*time.Second)
	defer cancel()
	var got []string
	for len(got) < n {
		res, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(queue), MaxNumberOfMessages: 10,
			WaitTimeSeconds: 1, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatalf("ReceiveMessage(%s) with %d of %d bodies: %v", queue, len(got), n, err)
		}
		for _, m := range res.Messages {
			_, _ = client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queue), ReceiptHandle: m.ReceiptHandle})
			id := aws.ToString(m.MessageAttributes["event_id"].StringValue)
			if !strings.HasPrefix(id, prefix) {
				t.Fatalf("queue %s got event %q, want only events of %s*: another app's event", queue, id, prefix)
			}
			if body := aws.ToString(m.Body); keep(body) && len(got) < n {
				got = append(got, body)
			}
		}
	}
	return got
}

// TestServeTwoAppsWithStreamClients runs "sqshook serve" with two apps
// from an apps file (over the SQS emulator when SQSHOOK_EMULATOR_ENDPOINT
// names one): app A runs the documentation's flow with stream-chat, app B
// the generated SDK's with @stream-io/node-sdk and
// enable_hook_payload_compression; neither sees the other's hooks or
// events, and both clients' parseSqs read every delivery, with and without
// compression. Then A turns compression on, chooses raw bodies, and
// deletes its hook by id alone.
func TestServeTwoAppsWithStreamClients(t *testing.T) {
	node := streamclient.Node(t, clientDir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appsFile := filepath.Join(t.TempDir(), "apps.json")
	const (
		keyA, secretA = "app-a-key", "app-a-secret-0123456789abcdefghij"
		keyB, secretB = "app-b-key", "app-b-secret-zyxwvutsrqponmlkjihg"
		hookKey       = "AKIADEMOEXAMPLE00000"
		hookSecret    = "serve-clients-secret-0123456789"
	)
	writeApps(t, appsFile, [3]string{keyA, secretA, "app-a"}, [3]string{keyB, secretB, "app-b"})
	args := []string{"-addr", "127.0.0.1:0", "-rate", "100", "-progress", "0", "-apps", appsFile}
	if ep := os.Getenv("SQSHOOK_EMULATOR_ENDPOINT"); ep != "" {
		args = append(args, "-endpoint", ep)
	} else {
		t.Log("SQSHOOK_EMULATOR_ENDPOINT not set: serve's in-process SQS endpoint")
	}
	out, errOut, done, field := startServe(ctx, t, args)
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d:\n%s\n%s", code, out.String(), errOut.String())
		}
	}()
	base, endpoint := field("base URL"), field("SQS")
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections) // after the queues' cleanups, which use it
	client := sqs.New(sqs.Options{Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(hookKey, "x", "")})
	newQueue := func(name string) string {
		q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e9))})
		if err != nil {
			t.Fatal(err)
		}
		url := aws.ToString(q.QueueUrl)
		t.Cleanup(func() {
			_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
		})
		return url
	}
	queueA, queueB := newQueue("serve-app-a"), newQueue("serve-app-b")
	hook := func(queue string) []string {
		return []string{"QUEUE_URL=" + queue, "SQS_KEY=" + hookKey, "SQS_SECRET=" + hookSecret}
	}

	a := streamclient.Run(t, node, clientDir, "doc", base, keyA, secretA, hook(queueA)...)
	b := streamclient.Run(t, node, clientDir, "sdk", base, keyB, secretB, append(hook(queueB), "COMPRESS=true")...)
	for name, r := range map[string]map[string]any{"A (stream-chat)": a, "B (node-sdk)": b} {
		if f, ok := r["failed"]; ok {
			t.Fatalf("app %s: flow failed: %v (code %v)", name, f, r["code"])
		}
		if check, _ := r["check"].(map[string]any); check["status"] != "ok" {
			t.Errorf("app %s: check_sqs %v, want ok", name, check)
		}
	}
	if b["compression"] != true {
		t.Errorf("app B: enable_hook_payload_compression after updateApp: %v, want true", b["compression"])
	}
	// Each app sees its own hook only.
	for _, c := range []struct{ key, secret, queue string }{{keyA, secretA, queueA}, {keyB, secretB, queueB}} {
		got := streamclient.Run(t, node, clientDir, "get", base, c.key, c.secret)
		hooks, _ := got["hooks"].([]any)
		if len(hooks) != 1 || hooks[0].(map[string]any)["sqs_queue_url"] != c.queue {
			t.Fatalf("%s sees hooks %v, want its own hook on %s only", c.key, hooks, c.queue)
		}
		if id, _ := hooks[0].(map[string]any)["id"].(string); !uuidRE.MatchString(id) {
			t.Errorf("%s's hook id %q, want a UUID as Stream gives", c.key, id)
		}
	}

	isGzip := func(b string) bool { return strings.HasPrefix(b, "H4sI") } // base64 of 1f 8b 08
	isJSON := func(b string) bool { return json.Valid([]byte(b)) }
	every := func(string) bool { return true }
	parseAll := func(name string, bodies []string, wantJSON bool) {
		t.Helper()
		for i, p := range streamclient.Parse(t, node, clientDir, base, keyA, secretA, bodies) {
			decoded, err := sqshook.DecodeBody(bodies[i])
			var fromGo map[string]any
			if err == nil {
				err = json.Unmarshal(decoded, &fromGo)
			}
			switch {
			case err != nil:
				t.Errorf("%s: DecodeBody(%.40s…): %v", name, bodies[i], err)
			case wantJSON:
				if p.JSON.Error != "" || !reflect.DeepEqual(p.JSON.Event, any(fromGo)) {
					t.Errorf("%s: JSON.parse of a raw body: %v, want the event DecodeBody read", name, p.JSON)
				}
				if p.Chat.Error == "" {
					t.Errorf("%s: parseSqs read a raw body, which Stream's contract does not allow", name)
				}
			default:
				for client, r := range map[string]streamclient.Attempt{"stream-chat": p.Chat, "node-sdk": p.SDK} {
					if r.Error != "" || fromGo["type"] == nil || !reflect.DeepEqual(r.Event, any(fromGo)) {
						t.Errorf("%s: %s parseSqs(%.40s…) = %.200v, want the event DecodeBody read", name, client, bodies[i], r)
					}
				}
			}
		}
	}
	bodiesA := receiveUntil(ctx, t, client, queueA, "app-a-", 5, every)
	bodiesB := receiveUntil(ctx, t, client, queueB, "app-b-", 5, every)
	for _, body := range bodiesA {
		if isGzip(body) || isJSON(body) {
			t.Errorf("app A without compression got %.40s…, want base64 of the event JSON", body)
		}
	}
	for _, body := range bodiesB {
		if !isGzip(body) {
			t.Errorf("app B with compression got %.40s…, want base64 of gzip data", body)
		}
	}
	parseAll("app A, base64", bodiesA, false)
	parseAll("app B, gzip", bodiesB, false)

	// A turns compression on with stream-chat: its next deliveries are
	// gzipped, and still parse.
	set := streamclient.Run(t, node, clientDir, "settings", base, keyA, secretA, `SETTINGS={"enable_hook_payload_compression": true}`)
	if set["compression"] != true || set["encoding"] != "stream" {
		t.Fatalf("app A's settings after turning compression on: %v", set)
	}
	parseAll("app A, gzip", receiveUntil(ctx, t, client, queueA, "app-a-", 3, isGzip), false)
	// A consumer that JSON-parses bodies, as the documentation's example
	// does, is served by the app's choice of raw bodies.
	set = streamclient.Run(t, node, clientDir, "settings", base, keyA, secretA, `SETTINGS={"sqs_body_encoding": "raw"}`)
	if set["encoding"] != "raw" {
		t.Fatalf("app A's settings after choosing raw bodies: %v", set)
	}
	parseAll("app A, raw", receiveUntil(ctx, t, client, queueA, "app-a-", 3, isJSON), true)

	// Deleting by id alone, as the SDKs' EventHook allows.
	hooks, _ := streamclient.Run(t, node, clientDir, "get", base, keyA, secretA)["hooks"].([]any)
	id, _ := hooks[0].(map[string]any)["id"].(string)
	del := streamclient.Run(t, node, clientDir, "delete", base, keyA, secretA, "HOOK_ID="+id)
	if f, ok := del["failed"]; ok {
		t.Fatalf("delete by {id, delete: true}: %v (code %v)", f, del["code"])
	}
	if after, _ := del["after"].([]any); len(after) != 0 {
		t.Errorf("after deleting its hook app A has %v, want none", after)
	}
	// B kept its hook and its compression.
	if bodies := receiveUntil(ctx, t, client, queueB, "app-b-", 2, every); !isGzip(bodies[0]) || !isGzip(bodies[1]) {
		t.Errorf("app B's deliveries changed with app A's settings")
	}
	if strings.Contains(out.String()+errOut.String(), hookSecret) || strings.Contains(out.String(), secretA) {
		t.Errorf("serve printed a secret")
	}
}

// TestServeAppsFileRotation: apps added to serve's apps file work without
// a restart, a rotated secret refuses the old one at once, and a removed
// app is refused; a file that stops reading keeps the apps read last.
func TestServeAppsFileRotation(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	appsFile := filepath.Join(t.TempDir(), "apps.json")
	writeApps(t, appsFile, [3]string{"key-1", "secret-one-0123456789", "t1"})
	out, errOut, done, field := startServe(ctx, t, []string{"-addr", "127.0.0.1:0", "-rate", "0", "-progress", "0", "-apps", appsFile})
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("serve exited with %d:\n%s\n%s", code, out.String(), errOut.String())
		}
	}()
	base := field("base URL")
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	get := func(key, secret string) int {
		t.Helper()
		token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("GET", base+"/app?api_key="+key, nil)
		req.Header.Set("Authorization", token)
		req.Header.Set("stream-auth-type", "jwt")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode
	}
	if s := get("key-1", "secret-one-0123456789"); s != 200 {
		t.Fatalf("app 1: %d, want 200", s)
	}
	if s := get("key-2", "secret-two-0123456789"); s != 401 {
		t.Fatalf("app 2 before it is listed: %d, want 401", s)
	}
	// App 2 added, app 1's secret rotated: no restart.
	writeApps(t, appsFile, [3]string{"key-1", "secret-one-ROTATED-6789", "t1"}, [3]string{"key-2", "secret-two-0123456789", "t2"})
	if s := get("key-2", "secret-two-0123456789"); s != 200 {
		t.Errorf("app 2 after it was added: %d, want 200", s)
	}
	if s := get("key-1", "secret-one-0123456789"); s != 401 {
		t.Errorf("app 1 with its old secret after rotation: %d, want 401", s)
	}
	if s := get("key-1", "secret-one-ROTATED-6789"); s != 200 {
		t.Errorf("app 1 with its new secret: %d, want 200", s)
	}
	// A damaged file keeps the apps read last, and says so.
	if err := os.WriteFile(appsFile, []byte(`[{"api_key": "key-1"`), 0o600); err != nil {
		t.Fatal(err)
	}
	if s := get("key-2", "secret-two-0123456789"); s != 200 {
		t.Errorf("app 2 after the file was damaged: %d, want 200 (the apps read last)", s)
	}
	// App 1 removed.
	writeApps(t, appsFile, [3]string{"key-2", "secret-two-0123456789", "t2"})
	if s := get("key-1", "secret-one-ROTATED-6789"); s != 401 {
		t.Errorf("app 1 after it was removed: %d, want 401", s)
	}
	if !strings.Contains(errOut.String(), "does not read") {
		t.Errorf("serve did not log the damaged apps file:\n%s", errOut.String())
	}
	if strings.Contains(out.String()+errOut.String(), "secret-two") {
		t.Errorf("serve printed an app's secret")
	}
}

// uuidRE matches a version 4 UUID, the form of Stream's hook ids.
var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)
