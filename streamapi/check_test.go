package streamapi_test

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/faultnet"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

func TestCheckSQSAllHooks(t *testing.T) {
	e := newEnv(t, nil)
	r := e.asA(t, "POST", "/check_sqs", nil)
	wantOK(t, "no hooks", r)
	if r.body["status"] != "error" || !strings.Contains(r.body["error"].(string), "no SQS hook") {
		t.Errorf("check without hooks: %s, want status error saying there is no SQS hook", r.raw)
	}

	good := e.sqsHook(t, "exists")
	good["id"] = "good"
	missing := e.sqsHook(t, "will-be-deleted")
	missing["id"] = "missing"
	e.sqs.DeleteQueue(missing["sqs_queue_url"].(string))
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{webhookHook(), good}}))

	r = e.asA(t, "POST", "/check_sqs", "{}")
	wantOK(t, "one good hook", r)
	if r.body["status"] != "ok" {
		t.Fatalf("check of a reachable queue: %s, want status ok", r.raw)
	}
	results := r.body["results"].([]any)
	if len(results) != 1 || results[0].(map[string]any)["hook_id"] != "good" {
		t.Errorf("results %v, want one for hook good", results)
	}

	wantOK(t, "two hooks", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{good, missing}}))
	r = e.asA(t, "POST", "/check_sqs", "")
	wantOK(t, "a missing queue", r)
	if r.body["status"] != "error" || !strings.Contains(r.body["error"].(string), `hook "missing"`) {
		t.Errorf("check with a missing queue: %s, want status error naming hook missing", r.raw)
	}
	if strings.Contains(r.raw, hookSecret) || strings.Contains(r.raw, hookKey) {
		t.Errorf("check result shows a credential: %s", r.raw)
	}
}

func TestCheckSQSExplicitSettings(t *testing.T) {
	var mu sync.Mutex
	var seen []sqshook.Hook
	var e *env
	check := func(ctx context.Context, tenant string, h sqshook.Hook) sqshook.CheckResult {
		mu.Lock()
		seen = append(seen, h)
		mu.Unlock()
		res := sqshook.CheckHook(ctx, h, sqshook.CheckOptions{Endpoint: e.sqs.URL()})
		// A checker that echoes what it was given must still not leak it.
		res.Warnings = append(res.Warnings, "checked with "+h.SQSSecret)
		return res
	}
	e = newEnv(t, func(o *streamapi.Options) { o.Check = check })

	url := e.sqs.CreateQueue("explicit", nil)
	r := e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_url": url, "sqs_key": hookKey, "sqs_secret": hookSecret})
	wantOK(t, "explicit", r)
	if r.body["status"] != "ok" {
		t.Fatalf("explicit check: %s, want ok", r.raw)
	}
	if strings.Contains(r.raw, hookSecret) {
		t.Fatalf("check response shows the secret it was given: %s", r.raw)
	}
	if h := seen[0]; h.SQSAuthType != "keys" || h.SQSRegion != streamapi.DefaultCheckRegion {
		t.Errorf("explicit settings became auth %q region %q, want keys and %s", h.SQSAuthType, h.SQSRegion, streamapi.DefaultCheckRegion)
	}

	// The placeholder stands for the stored secret of the hook with that
	// URL and key, as GET /app showed it.
	hook := e.sqsHook(t, "stored")
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": []any{hook}}))
	shown := hooksOf(t, e.asA(t, "GET", "/app", nil))[0]
	r = e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_url": shown["sqs_queue_url"], "sqs_key": shown["sqs_key"], "sqs_secret": shown["sqs_secret"]})
	wantOK(t, "placeholder", r)
	if last := seen[len(seen)-1]; last.SQSSecret != hookSecret || last.SQSKey != hookKey {
		t.Errorf("placeholder check ran without the stored credentials")
	}
	// B cannot use A's placeholder.
	r = e.asB(t, "POST", "/check_sqs", map[string]any{"sqs_url": shown["sqs_queue_url"], "sqs_key": hookKey, "sqs_secret": streamapi.SecretPlaceholder})
	wantError(t, "B with A's placeholder", r, 400, streamapi.CodeInput)

	wantError(t, "no url", e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_key": hookKey}), 400, streamapi.CodeInput)
	wantError(t, "malformed", e.asA(t, "POST", "/check_sqs", "{"), 400, streamapi.CodeInput)
}

// A check's error may echo the secret as AWS or an SDK encoded it: real
// secrets hold "/" and "+", which URL encoding and JSON escaping change.
func TestCheckSQSHidesEncodedSecrets(t *testing.T) {
	const secret = "wJalrXUtnFEMI/K7MDENG/bPxRfi+CYEXAMPLEKEY"
	e := newEnv(t, func(o *streamapi.Options) {
		o.Check = func(ctx context.Context, tenant string, h sqshook.Hook) sqshook.CheckResult {
			return sqshook.CheckResult{Status: sqshook.CheckError, Error: "SignatureDoesNotMatch: " + url.QueryEscape(h.SQSSecret) +
				" " + url.PathEscape(h.SQSSecret) + " " + strings.ReplaceAll(h.SQSSecret, "/", `\/`)}
		}
	})
	r := e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_url": e.sqs.CreateQueue("enc", nil), "sqs_key": hookKey, "sqs_secret": secret})
	wantOK(t, "check", r)
	if r.body["status"] != "error" {
		t.Fatalf("status %v, want error: %s", r.body["status"], r.raw)
	}
	for _, form := range []string{url.QueryEscape(secret), url.PathEscape(secret), "K7MDENG%2FbPxRfi", `K7MDENG\\/bPxRfi`} {
		if strings.Contains(r.raw, form) {
			t.Errorf("the response shows the secret as %q: %s", form, r.raw)
		}
	}
	if !strings.Contains(r.raw, "SignatureDoesNotMatch: "+streamapi.SecretPlaceholder) {
		t.Errorf("the error lost its text, want the cause with the placeholder: %s", r.raw)
	}
}

// checkDenied is AWS's message for a refused call: the caller's IAM
// identity and the queue's ARN, each with its account id.
const checkDenied = "User: arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc is not authorized to perform: sqs:getqueueattributes on resource: arn:aws:sqs:us-east-1:444455556666:customer-queue because no resource-based policy allows the sqs:getqueueattributes action"

// checkForbidden never shows in a check_sqs answer: AWS's identities and
// account ids, the server's network and its credential setup.
var checkForbidden = []string{"111122223333", "444455556666", "assumed-role", "chat-server", "i-0abc", "customer-queue",
	"10.1.2.3", "nosuchhost", "lookup", "proxyconnect", "dial tcp", "no such host", ":53", "IMDS", "get identity"}

// checkAnswer checks a check_sqs answer: status error, the error holding
// want, the one result's code, and nothing of checkForbidden or more.
func checkAnswer(t *testing.T, r response, want, code string, more ...string) {
	t.Helper()
	wantOK(t, "check_sqs", r)
	msg, _ := r.body["error"].(string)
	if r.body["status"] != "error" || !strings.Contains(msg, want) {
		t.Errorf("answer: status %v, error %q; want error containing %q", r.body["status"], msg, want)
	}
	results, _ := r.body["results"].([]any)
	if len(results) != 1 {
		t.Fatalf("answer has %d results, want 1: %s", len(results), r.raw)
	}
	res, _ := results[0].(map[string]any)["result"].(map[string]any)
	if got, _ := res["code"].(string); got != code || res["error"] != msg {
		t.Errorf("result: code %q, error %q; want code %q and the answer's error", got, res["error"], code)
	}
	for _, f := range append(checkForbidden, more...) {
		if strings.Contains(r.raw, f) {
			t.Errorf("the answer shows %q: %s", f, r.raw)
		}
	}
}

// TestCheckSQSHidesAWSDetail: check_sqs answers name the category of a
// failure and its SQS code, never AWS's message (identities, ARNs, account
// ids), the server's proxy or resolver, or its credential setup.
func TestCheckSQSHidesAWSDetail(t *testing.T) {
	const awsQueue = "https://sqs.us-east-1.amazonaws.com/123456789012/events"
	t.Run("access denied", func(t *testing.T) {
		e := newEnv(t, nil)
		url := e.sqs.CreateQueue("events", nil)
		e.sqs.AddFault(sqstest.Fault{Op: "GetQueueAttributes", Code: "AccessDenied", Message: checkDenied})
		r := e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_url": url, "sqs_key": hookKey, "sqs_secret": hookSecret})
		checkAnswer(t, r, "access denied for sqs:GetQueueAttributes", "AccessDenied", "arn:")
	})

	t.Run("name not resolved", func(t *testing.T) {
		client := sqs.New(sqs.Options{
			Region: "us-east-1", BaseEndpoint: aws.String("https://nosuchhost.invalid"), RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(hookKey, hookSecret, ""),
			HTTPClient:  faultnet.HTTPClient(t, ""),
		})
		e := newEnv(t, func(o *streamapi.Options) {
			o.Check = func(ctx context.Context, _ string, h sqshook.Hook) sqshook.CheckResult {
				return sqshook.CheckHook(ctx, h, sqshook.CheckOptions{Endpoint: "https://nosuchhost.invalid", Client: client, Logger: slogTo(io.Discard)})
			}
		})
		r := e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_url": awsQueue, "sqs_key": hookKey, "sqs_secret": hookSecret})
		checkAnswer(t, r, "network: name not resolved", "")
	})

	// A Checker of the server's own that passes on what it was told: the
	// answer still shows neither identities nor addresses, and keeps the
	// principal the queue policy must name.
	t.Run("a checker's own text", func(t *testing.T) {
		const principal = "arn:aws:iam::999988887777:role/ChatServer"
		e := newEnv(t, func(o *streamapi.Options) {
			o.Check = func(context.Context, string, sqshook.Hook) sqshook.CheckResult {
				return sqshook.CheckResult{Status: sqshook.CheckError, Code: "AccessDenied", Principal: principal,
					Error: "AccessDenied: " + checkDenied + "; the queue policy must allow " + principal + "; via proxy 10.1.2.3:3128"}
			}
		})
		r := e.asA(t, "POST", "/check_sqs", map[string]any{"sqs_url": awsQueue, "sqs_key": hookKey, "sqs_secret": hookSecret})
		checkAnswer(t, r, "the queue policy must allow "+principal, "AccessDenied")
	})
}

// TestCheckSQSProxyFromEnvironment: a server that sends through an HTTP
// proxy (HTTPS_PROXY) does not tell customers its address. The proxy
// setting is read once per process, so the check runs in a process of its
// own, started with the proxy set to a loopback port where nothing listens.
func TestCheckSQSProxyFromEnvironment(t *testing.T) {
	const child = "STREAMAPI_TEST_PROXY_CHILD"
	if proxy := os.Getenv(child); proxy != "" {
		e := newEnv(t, func(o *streamapi.Options) { o.Endpoint = "https://nosuchhost.invalid" })
		r := e.asA(t, "POST", "/check_sqs", map[string]any{
			"sqs_url": "https://sqs.us-east-1.amazonaws.com/123456789012/events", "sqs_key": hookKey, "sqs_secret": hookSecret})
		checkAnswer(t, r, "network: connection refused", "", proxy, "127.0.0.1")
		fmt.Fprint(os.Stderr, e.logs.String()) // for the parent to read
		return
	}
	proxy := faultnet.RefusedAddr(t)
	cmd := exec.Command(os.Args[0], "-test.run=^TestCheckSQSProxyFromEnvironment$", "-test.count=1")
	cmd.Env = append(os.Environ(), child+"="+proxy,
		"HTTPS_PROXY=http://"+proxy, "https_proxy=http://"+proxy, "HTTP_PROXY=http://"+proxy, "http_proxy=http://"+proxy,
		"NO_PROXY=", "no_proxy=")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the check with HTTPS_PROXY=%s failed: %v\n%s", proxy, err, out)
	}
	// The default Checker logs the detail to the handler's Logger, which
	// the child prints.
	if !strings.Contains(string(out), "proxyconnect") || !strings.Contains(string(out), proxy) {
		t.Errorf("the log does not show the proxy's failure:\n%s", out)
	}
}

// TestCheckSQSChecksHooksConcurrently: an app's hooks are checked
// CheckConcurrency at a time, never more, and the answer lists them in the
// app's order. Checked one after the other, the Checker below would never
// see a second call while the first waits, and would time out.
func TestCheckSQSChecksHooksConcurrently(t *testing.T) {
	const hooks = 2*streamapi.CheckConcurrency + 3
	var mu sync.Mutex
	active, most := 0, 0
	full := make(chan struct{})
	e := newEnv(t, func(o *streamapi.Options) {
		o.Check = func(ctx context.Context, _ string, h sqshook.Hook) sqshook.CheckResult {
			mu.Lock()
			active++
			most = max(most, active)
			if active == streamapi.CheckConcurrency {
				select {
				case <-full:
				default:
					close(full)
				}
			}
			mu.Unlock()
			defer func() { mu.Lock(); active--; mu.Unlock() }()
			select {
			case <-full: // the first round filled every slot
			case <-time.After(10 * time.Second):
				return sqshook.CheckResult{Status: sqshook.CheckError, Error: "checked alone"}
			}
			return sqshook.CheckResult{Status: sqshook.CheckOK}
		}
	})
	var list []any
	for i := range hooks {
		hk := e.sqsHook(t, fmt.Sprintf("q%d", i))
		hk["id"] = fmt.Sprintf("h%02d", i)
		list = append(list, hk)
	}
	wantOK(t, "setup", e.asA(t, "PATCH", "/app", map[string]any{"event_hooks": list}))
	r := e.asA(t, "POST", "/check_sqs", nil)
	wantOK(t, "check", r)
	if r.body["status"] != "ok" {
		t.Errorf("status %v (%v), want ok: the hooks were not checked concurrently", r.body["status"], r.body["error"])
	}
	if most != streamapi.CheckConcurrency {
		t.Errorf("at most %d checks at once, want %d", most, streamapi.CheckConcurrency)
	}
	results := r.body["results"].([]any)
	if len(results) != hooks {
		t.Fatalf("%d results, want %d", len(results), hooks)
	}
	for i, res := range results {
		if id := res.(map[string]any)["hook_id"]; id != fmt.Sprintf("h%02d", i) {
			t.Errorf("results[%d] is hook %v, want h%02d", i, id, i)
		}
	}
}
