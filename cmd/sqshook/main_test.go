package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sqshook/sqshook"
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
	for _, want := range []string{"all-events", "messages", "moderation", "accounting: OK", "one message read back from messages", `"type": "message.`, "fault: 20% of SendMessageBatch calls throttled", "published ",
		"starting at 233.3ms", "copies: matched ", "drain ", "drained in "} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "demo-secret-not-real") {
		t.Errorf("demo output shows a secret")
	}
}

// No machine publishes 30 million events in 300 ms: the demo says it did
// not keep the rate, and stops on time all the same.
func TestDemoSaysWhenRateNotKept(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "-duration", "300ms", "-rate", "100000000", "-latency", "1ms")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "note: this machine kept ") || !strings.Contains(out, "of the 100000000 asked") {
		t.Errorf("demo output does not say the rate was missed:\n%s", out)
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

// decodePolicies reads the JSON policy documents printed one after another.
func decodePolicies(t *testing.T, out string) []sqshook.PolicyDocument {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(out))
	var docs []sqshook.PolicyDocument
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			t.Fatalf("output is not a stream of JSON documents: %v\n%s", err, out)
		}
		doc, err := sqshook.ParsePolicy(raw)
		if err != nil {
			t.Fatalf("printed policy does not parse: %v\n%s", err, raw)
		}
		docs = append(docs, doc)
	}
	return docs
}

func TestPolicyCommandRole(t *testing.T) {
	const (
		queue     = "https://sqs.us-west-2.amazonaws.com/111111111111/q"
		queueARN  = "arn:aws:sqs:us-west-2:111111111111:q"
		server    = "arn:aws:iam::185583345998:role/chat-server"
		tenantID  = "tenant-7f3c9e"
		keyARN    = "arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"
		aliasARN  = "arn:aws:kms:us-west-2:111111111111:alias/events"
		tenantArn = "arn:aws:iam::111111111111:role/sqshook-sender"
	)
	wantTrust, err := sqshook.TrustPolicy(server, tenantID)
	if err != nil {
		t.Fatal(err)
	}
	wantPerm, err := sqshook.RolePermissionPolicy(queue, keyARN)
	if err != nil {
		t.Fatal(err)
	}

	code, out, errOut := runCmd(t, "policy", "-auth", "role", "-queue-url", queue, "-principal", server, "-external-id", tenantID, "-kms-key", keyARN)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	docs := decodePolicies(t, out)
	if len(docs) != 2 || !reflect.DeepEqual(docs[0], wantTrust) || !reflect.DeepEqual(docs[1], wantPerm) {
		t.Fatalf("role policies: got %+v, want the trust policy then the permission policy\n%s", docs, out)
	}
	headings := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(headings) != 2 || !strings.HasPrefix(headings[0], "# 1/2 trust policy") || !strings.HasPrefix(headings[1], "# 2/2 permission policy") {
		t.Errorf("stderr: got %q, want two heading lines", errOut)
	}
	trustJSON, _ := json.Marshal(docs[0])
	if d, err := sqshook.AllowsRequest(trustJSON, sqshook.PolicyRequest{Principal: server, Action: "sts:AssumeRole", Resource: tenantArn, Context: map[string]string{"sts:ExternalId": tenantID}}); err != nil || d != sqshook.DecisionAllow {
		t.Errorf("printed trust policy for the server and its ExternalId: %v, %v", d, err)
	}
	if d, err := sqshook.AllowsRequest(trustJSON, sqshook.PolicyRequest{Principal: server, Action: "sts:AssumeRole", Resource: tenantArn, Context: map[string]string{"sts:ExternalId": "tenant-other"}}); err != nil || d != sqshook.DecisionImplicitDeny {
		t.Errorf("printed trust policy for another ExternalId: %v, %v", d, err)
	}
	permJSON, _ := json.Marshal(docs[1])
	for action, resource := range map[string]string{"sqs:SendMessage": queueARN, "sqs:SendMessageBatch": queueARN, "kms:GenerateDataKey": keyARN} {
		if d, err := sqshook.IdentityAllows(permJSON, action, resource); err != nil || d != sqshook.DecisionAllow {
			t.Errorf("printed permission policy, %s on %s: %v, %v", action, resource, d, err)
		}
	}

	// -print trust and -print permission print exactly one document, which
	// a script can pipe into the AWS CLI.
	code, out, errOut = runCmd(t, "policy", "-auth", "role", "-queue-url", queue, "-principal", server, "-external-id", tenantID, "-print", "trust")
	if docs := decodePolicies(t, out); code != 0 || len(docs) != 1 || !reflect.DeepEqual(docs[0], wantTrust) {
		t.Errorf("-print trust: exit %d, %+v\n%s", code, docs, errOut)
	}
	if !strings.HasPrefix(errOut, "# trust policy") {
		t.Errorf("-print trust: stderr %q", errOut)
	}
	if err := json.Unmarshal([]byte(out), new(any)); err != nil {
		t.Errorf("-print trust: stdout is not one JSON document: %v", err)
	}
	code, out, errOut = runCmd(t, "policy", "-auth", "role", "-queue-url", queue, "-kms-key", aliasARN, "-print", "permission")
	if docs := decodePolicies(t, out); code != 0 || len(docs) != 1 || len(docs[0].Statement) != 2 ||
		docs[0].Statement[1].Condition["ForAnyValue:StringEquals"]["kms:ResourceAliases"][0] != "alias/events" {
		t.Errorf("-print permission with an alias: exit %d, %+v\n%s", code, docs, errOut)
	}

	// An assumed-role ARN from sts get-caller-identity becomes its role.
	code, out, errOut = runCmd(t, "policy", "-auth", "role", "-queue-url", queue, "-principal", "arn:aws:sts::185583345998:assumed-role/chat-server/i-0abc", "-external-id", tenantID, "-print", "trust")
	if docs := decodePolicies(t, out); code != 0 || len(docs) != 1 || !reflect.DeepEqual(docs[0], wantTrust) || !strings.Contains(errOut, "assumed-role session") {
		t.Errorf("assumed-role principal: exit %d, %+v\n%s", code, docs, errOut)
	}
}

func TestPolicyCommandRoleErrors(t *testing.T) {
	const queue = "https://sqs.us-west-2.amazonaws.com/111111111111/q"
	const server = "arn:aws:iam::185583345998:role/chat-server"
	tests := []struct {
		name string
		args []string
		code int
		want []string
	}{
		{"no principal", []string{"-external-id", "tenant-1"}, 2, []string{"-principal is required with -auth role", "aws sts get-caller-identity"}},
		{"no external id", []string{"-principal", server}, 2, []string{"-external-id is required with -auth role", "never taken from the hook"}},
		{"principal star", []string{"-principal", "*", "-external-id", "tenant-1"}, 1, []string{`trust policy principal "*"`, "every AWS account"}},
		{"account id", []string{"-principal", "185583345998", "-external-id", "tenant-1"}, 1, []string{"arn:aws:iam::185583345998:root"}},
		{"bad external id", []string{"-principal", server, "-external-id", "tenant 1"}, 1, []string{`external ID "tenant 1"`, "2 to 1,224 characters"}},
		{"KMS partition", []string{"-principal", server, "-external-id", "tenant-1", "-kms-key", "arn:aws-cn:kms:cn-north-1:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab"}, 1, []string{"KMS key ARN", "is not the queue's partition aws"}},
		{"bad print", []string{"-principal", server, "-external-id", "tenant-1", "-print", "all"}, 2, []string{`-print: "all" is not trust, permission or both`}},
		{"resource flag", []string{"-principal", server, "-external-id", "tenant-1", "-org-id", "o-aaaaaaaaaa"}, 2, []string{"-org-id: not used with -auth role"}},
		{"bad queue", []string{"-print", "permission", "-queue-url", "https://example.com/q"}, 1, []string{"invalid queue URL"}},
	}
	for _, tt := range tests {
		args := append([]string{"policy", "-auth", "role", "-queue-url", queue}, tt.args...)
		code, out, errOut := runCmd(t, args...)
		if code != tt.code || out != "" {
			t.Errorf("%s: exit %d, stdout %q; want exit %d and no output", tt.name, code, out, tt.code)
		}
		for _, w := range tt.want {
			if !strings.Contains(errOut, w) {
				t.Errorf("%s: stderr %q lacks %q", tt.name, errOut, w)
			}
		}
	}
}

func TestPolicyCommandResourceWarnsOfCrossTenantRisk(t *testing.T) {
	code, out, errOut := runCmd(t, "policy", "-queue-url", "https://sqs.us-west-2.amazonaws.com/111111111111/q", "-principal", "185583345998")
	if code != 0 || len(decodePolicies(t, out)) != 1 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	for _, w := range []string{"every customer's queue policy allows the same server principal", "another customer's queue URL", "-auth role", "ExternalId"} {
		if !strings.Contains(errOut, w) {
			t.Errorf("stderr %q lacks %q", errOut, w)
		}
	}
	if strings.Contains(out, "#") {
		t.Errorf("the note went to stdout:\n%s", out)
	}
	// Flags of another auth type are refused rather than ignored.
	code, _, errOut = runCmd(t, "policy", "-queue-url", "https://sqs.us-west-2.amazonaws.com/111111111111/q", "-principal", "185583345998", "-external-id", "tenant-1")
	if code != 2 || !strings.Contains(errOut, "-external-id: not used with -auth resource") {
		t.Errorf("-external-id with resource auth: exit %d, %q", code, errOut)
	}
	// keys auth takes -kms-key too.
	code, out, errOut = runCmd(t, "policy", "-auth", "keys", "-queue-url", "https://sqs.us-west-2.amazonaws.com/111111111111/q",
		"-kms-key", "arn:aws:kms:us-west-2:111111111111:key/1234abcd-12ab-34cd-56ef-1234567890ab")
	if docs := decodePolicies(t, out); code != 0 || len(docs) != 1 || len(docs[0].Statement) != 2 || errOut != "" {
		t.Errorf("keys with -kms-key: exit %d, %+v, stderr %q", code, docs, errOut)
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
		{[]string{"demo", "-throttle", "2"}, 2, "-throttle must be between 0 and 1"},
		{[]string{"demo", "-rate", "0"}, 2, `Run "sqshook demo -h" for its flags.`},
		{[]string{"demo", "-endpoint", "http://127.0.0.1:1", "-outage", "1s"}, 2, "need the in-process endpoint"},
		{[]string{"bench", "-linger", "soon"}, 2, `-linger: "soon" is not a duration`},
		{[]string{"bench", "-inflight", "0"}, 2, "-inflight"},
		{[]string{"serve", "-rate", "-1"}, 2, "-rate must be between 0 and 100000"},
		{[]string{"serve", "-rate", "2000000000"}, 2, "-rate must be between 0 and 100000"},
		{[]string{"serve", "-progress", "-1s"}, 2, "-progress must not be negative"},
		{[]string{"serve", "-rate", "-1"}, 2, `Run "sqshook serve -h" for its flags.`},
		{[]string{"check"}, 2, "-hooks is required"},
		{[]string{"check", "-hooks", "does-not-exist.json"}, 1, "sqshook check: open does-not-exist.json"},
		{[]string{"policy"}, 2, "-queue-url is required"},
		{[]string{"policy", "-queue-url", "https://example.com/q", "-principal", "1"}, 1, "invalid queue URL"},
		{[]string{"policy", "-queue-url", "https://sqs.us-east-1.amazonaws.com/123456789012/q", "-auth", "magic"}, 2, "unknown auth type"},
		{[]string{"migrate", "-postgres", "postgres://127.0.0.1:1/x", "-timeout", "-1s"}, 2, "-timeout -1s: want a positive duration"},
		{[]string{"replay", "-postgres", "postgres://127.0.0.1:1/x", "-hook", "h", "-since", "2026-01-02T15:04:05Z", "-timeout", "0s"}, 2, "-timeout 0s: want a positive duration"},
	}
	for _, tt := range tests {
		code, _, errOut := runCmd(t, tt.args...)
		if code != tt.code || !strings.Contains(errOut, tt.want) {
			t.Errorf("sqshook %q: exit %d, stderr %q; want exit %d and %q", tt.args, code, errOut, tt.code, tt.want)
		}
	}
}

// A library error is printed once, after the command's name, without the
// library's own "sqshook: " prefix a second time; it exits 1.
func TestErrorsNotDoubled(t *testing.T) {
	file := filepath.Join(t.TempDir(), "hooks.json")
	if err := os.WriteFile(file, []byte(`[{"id":"x","hook_type":"sqs"}]`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"demo", "check"} {
		code, _, errOut := runCmd(t, cmd, "-hooks", file)
		if code != 1 || !strings.HasPrefix(errOut, "sqshook "+cmd+": ") || strings.Contains(errOut, "sqshook: ") {
			t.Errorf("sqshook %s with invalid hooks: exit %d, stderr %q; want exit 1 and one prefix", cmd, code, errOut)
		}
	}
}

func TestHumanCheckError(t *testing.T) {
	msg := "the server's own AWS credentials are not available (calling sqs:GetQueueAttributes)"
	raw := "operation error SQS: GetQueueAttributes, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"
	text, cause := humanCheckError(msg, raw)
	if !strings.Contains(text, "no AWS credentials found") || !strings.Contains(text, "AWS_ACCESS_KEY_ID") || cause != raw {
		t.Errorf("humanCheckError(%q, %q) = %q, %q", msg, raw, text, cause)
	}
	if _, cause := humanCheckError(msg, ""); cause != msg {
		t.Errorf("rewritten without a logged detail: cause %q, want the result's text %q", cause, msg)
	}
	if text, cause := humanCheckError("the queue does not exist", "detail"); text != "the queue does not exist" || cause != "detail" {
		t.Errorf("other errors are kept as they are, with the detail as the cause: %q, %q", text, cause)
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
	if code, _, errOut := runCmd(t, "bench", "-inflight", "0"); code != 2 || !strings.Contains(errOut, "-inflight") {
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
	// The error is what a customer would see; the cause, for the operator,
	// is what SQS said.
	e, _ := got["missing"]["error"].(string)
	c, _ := got["missing"]["cause"].(string)
	if !strings.Contains(e, "no such queue") || !strings.Contains(c, "The specified queue does not exist") {
		t.Errorf("missing queue: error %q, cause %q; want \"no such queue\" and SQS's message", e, c)
	}
	for id, r := range got {
		d, ok := r["duration"].(string)
		if _, err := time.ParseDuration(d); !ok || err != nil {
			t.Errorf("hook %s: duration %v; want a duration for people such as 1.2ms", id, r["duration"])
		}
	}
	if strings.Contains(out, "check-secret-value") {
		t.Errorf("check output shows the secret")
	}
	if len(srv.Received(url)) != 1 {
		t.Errorf("test messages received: %d, want 1", len(srv.Received(url)))
	}
}

func TestCheckCommandRoleHook(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	const server, role = "arn:aws:iam::185583345998:role/chat-server", "arn:aws:iam::123456789012:role/sqshook-sender"
	srv.AddIdentity("AKIASERVERIDENTITY01", server)
	srv.AddRole(sqstest.Role{ARN: role, TrustedPrincipals: []string{server}, ExternalID: "tenant-a-1"})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIASERVERIDENTITY01")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	url := srv.CreateQueue("role-checked", nil)
	file := filepath.Join(t.TempDir(), "hooks.json")
	hooks := `[{"id":"r","enabled":true,"hook_type":"sqs","sqs_queue_url":"` + url + `","sqs_region":"us-east-1","sqs_auth_type":"role","sqs_role_arn":"` + role + `"}]`
	if err := os.WriteFile(file, []byte(hooks), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		externalID string
		code       int
		want       string
	}{
		{"tenant-a-1", 0, `"status": "ok"`},
		{"tenant-b-2", 1, `"step": "assume_role"`},
	} {
		code, out, errOut := runCmd(t, "check", "-hooks", file, "-endpoint", srv.URL(), "-sts-endpoint", srv.URL(), "-external-id", c.externalID, "-send-test")
		if code != c.code || !strings.Contains(out, c.want) {
			t.Errorf("ExternalId %s: exit %d, want %d and output containing %s\n%s\n%s", c.externalID, code, c.code, c.want, out, errOut)
		}
	}
	if n := len(srv.Received(url)); n != 1 {
		t.Errorf("%d test messages, want 1 (from the check that assumed the role)", n)
	}
}

// TestCheckCommandHidesTypedSecrets: hooks whose credentials (a secret of
// the real alphabet, with '/' and '+') were also typed into the queue URL,
// the region, the event types or the id. The JSON output and the errors
// show neither the secret nor the whole key id.
func TestCheckCommandHidesTypedSecrets(t *testing.T) {
	const key = "AKIAQ3EXAMPLE7TYPED2"
	const secret = "wJalrXUtnF/EMI+K7MDENG/bPxRfiCYzEXAMPLE+"
	srv := sqstest.NewServer()
	defer srv.Close()
	local := srv.CreateQueue("typed", nil)
	const aws = "https://sqs.us-east-1.amazonaws.com/123456789012/q"
	hook := func(id, url, region, types string) map[string]any {
		h := map[string]any{"id": id, "enabled": true, "hook_type": "sqs", "sqs_queue_url": url, "sqs_region": region,
			"sqs_auth_type": "keys", "sqs_key": key, "sqs_secret": secret}
		if types != "" {
			h["event_types"] = []string{types, "message." + key}
		}
		return h
	}
	hooks := []map[string]any{
		hook("userinfo", "https://"+key+":"+secret+"@sqs.us-east-1.amazonaws.com/123456789012/q", "us-east-1", ""),
		hook("userinfo-local", strings.Replace(local, "://", "://"+key+":"+secret+"@", 1), "us-east-1", ""),
		hook("path", "https://sqs.us-east-1.amazonaws.com/123456789012/"+secret, "us-east-1", ""),
		hook("query", aws+"?k="+key+"&s="+secret, "us-east-1", ""),
		hook("fragment", aws+"#"+secret, "us-east-1", ""),
		hook("region", aws, secret, ""),
		hook("types", local, "us-east-1", secret),
		hook(secret, aws, "us-east-1", ""),
	}
	data, err := json.Marshal(hooks)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "hooks.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCmd(t, "check", "-hooks", file, "-endpoint", srv.URL())
	if code == 0 || !strings.Contains(out, `"status": "error"`) || strings.Count(out, `"hook"`) != len(hooks) {
		t.Fatalf("sanity: exit %d; want a result per hook, some failing:\n%s\n%s", code, out, errOut)
	}
	for what, s := range map[string]string{"stdout": out, "stderr": errOut} {
		if strings.Contains(s, secret) || strings.Contains(s, key) {
			t.Errorf("LEAK: sqshook check %s shows the secret or the whole key id:\n%s", what, s)
		}
	}
}

// A hooks file with no hooks checks nothing: it must not pass silently.
func TestCheckCommandWithoutHooks(t *testing.T) {
	for _, doc := range []string{`[]`, `{"event_hooks": []}`} {
		file := filepath.Join(t.TempDir(), "hooks.json")
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
		code, out, errOut := runCmd(t, "check", "-hooks", file)
		if code != 1 || out != "" || !strings.Contains(errOut, "sqshook check: "+file+": no hooks") {
			t.Errorf("check of %s: exit %d, stdout %q, stderr %q; want exit 1 and \"no hooks\"", doc, code, out, errOut)
		}
	}
}

// errText makes one line of a multi-line error, each cause once: a
// PostgreSQL driver lists one line per address it tried.
func TestErrTextOneLine(t *testing.T) {
	err := errors.New("sqshook: connect to `user=u`:\n\t127.0.0.1:1: refused\n\t127.0.0.1:1: refused\nthen: gave up")
	if got, want := errText(err), "connect to `user=u`: 127.0.0.1:1: refused; then: gave up"; got != want {
		t.Fatalf("errText = %q, want %q", got, want)
	}
}
