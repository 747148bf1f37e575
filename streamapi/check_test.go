package streamapi_test

import (
	"context"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/sqshook/sqshook"
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
