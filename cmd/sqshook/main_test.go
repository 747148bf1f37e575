package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/sqshook/sqshook/sqstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func runCmd(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = run(context.Background(), args, &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestDemoAccountsForEverything(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "-duration", "700ms", "-rate", "2000", "-latency", "1ms", "-throttle", "0.2", "-outage", "100ms", "-progress", "200ms")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"all-events", "messages", "moderation", "accounting: OK", "one message read back from messages", `"type": "message.`, "fault: 20% of SendMessageBatch calls throttled", "published "} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "demo-secret-not-real") {
		t.Errorf("demo output shows a secret")
	}
}

func TestPolicyCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "policy", "-queue-url", "https://sqs.us-west-2.amazonaws.com/111111111111/q", "-principal", "185583345998")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var doc struct {
		Version   string
		Statement []struct {
			Effect    string
			Principal struct{ AWS string }
			Action    string
			Resource  string
		}
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	st := doc.Statement[0]
	if doc.Version != "2012-10-17" || st.Principal.AWS != "arn:aws:iam::185583345998:root" || st.Resource != "arn:aws:sqs:us-west-2:111111111111:q" || st.Action != "SQS:SendMessage" {
		t.Errorf("policy = %+v", doc)
	}
	code, out, _ = runCmd(t, "policy", "-auth", "keys", "-queue-url", "https://sqs.us-west-2.amazonaws.com/111111111111/q")
	if code != 0 || !strings.Contains(out, "sqs:SendMessageBatch") {
		t.Errorf("keys policy: exit %d\n%s", code, out)
	}
}

func TestUsageErrors(t *testing.T) {
	tests := []struct {
		args []string
		code int
		want string
	}{
		{nil, 2, "Usage: sqshook <command>"},
		{[]string{"-h"}, 0, "Commands:"},
		{[]string{"nope"}, 2, `unknown command "nope"`},
		{[]string{"demo", "-h"}, 0, "-rate"},
		{[]string{"demo", "-rate", "x"}, 2, "invalid value"},
		{[]string{"demo", "extra"}, 2, "unexpected arguments"},
		{[]string{"demo", "-throttle", "2"}, 1, "-throttle must be between 0 and 1"},
		{[]string{"policy"}, 2, "-queue-url is required"},
		{[]string{"policy", "-queue-url", "https://example.com/q", "-principal", "1"}, 1, "invalid queue URL"},
		{[]string{"policy", "-queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "-auth", "magic"}, 2, "unknown auth type"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("sqshook %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

func TestBenchCommand(t *testing.T) {
	code, out, errOut := runCmd(t, "bench", "-rtt", "1ms", "-events", "300", "-linger", "0,2ms", "-inflight", "2,8")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if n := strings.Count(out, "\n"); n < 7 || !strings.Contains(out, "best throughput") {
		t.Errorf("bench output:\n%s", out)
	}
	if code, _, errOut := runCmd(t, "bench", "-inflight", "0"); code == 0 || !strings.Contains(errOut, "-inflight") {
		t.Errorf("bench -inflight 0: exit %d, %s", code, errOut)
	}
}

func TestCheckCommand(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("checked", map[string]string{"MaximumMessageSize": "1024"})
	dir := t.TempDir()
	file := filepath.Join(dir, "hooks.json")
	hooks := `[{"id":"good","enabled":true,"hook_type":"sqs","sqs_queue_url":"` + url + `","sqs_region":"us-east-1","sqs_auth_type":"keys","sqs_key":"AKIACHECKEXAMPLE0000","sqs_secret":"check-secret-value"},
	{"id":"missing","enabled":true,"hook_type":"sqs","sqs_queue_url":"` + srv.URL() + `/123456789012/nope","sqs_region":"us-east-1","sqs_auth_type":"keys","sqs_key":"AKIACHECKEXAMPLE0000","sqs_secret":"check-secret-value"}]`
	if err := os.WriteFile(file, []byte(hooks), 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "check", "-hooks", file, "-endpoint", srv.URL(), "-send-test")
	if code != 1 {
		t.Fatalf("exit %d (want 1: one hook fails)\n%s\n%s", code, out, errOut)
	}
	dec := json.NewDecoder(strings.NewReader(out))
	got := map[string]map[string]any{}
	for dec.More() {
		var r map[string]any
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("output is not JSON: %v\n%s", err, out)
		}
		got[r["hook"].(string)] = r
	}
	if got["good"]["status"] != "ok" || got["good"]["test_message_id"] == nil || got["good"]["warnings"] == nil {
		t.Errorf("good hook: %v", got["good"])
	}
	if got["missing"]["status"] != "error" {
		t.Errorf("missing queue: %v", got["missing"])
	}
	if strings.Contains(out, "check-secret-value") {
		t.Errorf("check output shows the secret")
	}
	if len(srv.Received(url)) != 1 {
		t.Errorf("test messages received: %d, want 1", len(srv.Received(url)))
	}
}
