package sqshook_test

// Security tests: a hook's secret access key, and its whole access key id,
// never show in anything sqshook produces for people or logs — validation
// errors, the fmt verbs and slog output of hooks, the dispatcher's own log,
// dead letters and their errors, Stats, and check results.
//
// JSON marshalling of a Hook keeps the secret on purpose (it is the storage
// format, see Hook's documentation); it is used below as the positive
// control that proves the detector finds the secret when it is there.
//
// Hook has no session token field, so there is no session token to follow.
//
// Messages that come back from SQS are echoed by the fake server with the
// credentials in them (a proxy, a misbehaving endpoint or a future AWS
// message may do the same): sqshook knows the hook's secret and key id, and
// must scrub them from what it reports, as CheckHook already does.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// leakKeyID and leakSecret are drawn from the alphabets of real credentials:
// an access key id of "AKIA" and 16 of A-Z and 2-7, and a 40-character
// secret of A-Z a-z 0-9 '/' '+' that holds at least one '/' and one '+'
// (characters that end a URL's authority or mean something in a form).
var leakKeyID, leakSecret = leakCredentials(rand.New(rand.NewPCG(0x5ec7e7, 0x9f8e7d6c)))

// leakEcho is an error message that repeats the credentials of the call.
var leakEcho = "The security token included in the request is invalid: " + leakKeyID + " (secret " + leakSecret + ")"

// leakURL is a valid AWS queue URL for hooks that never send.
const leakURL = "https://sqs.us-east-1.amazonaws.com/123456789012/leak-queue"

// leakCredentials draws an access key id and a secret from rng.
func leakCredentials(rng *rand.Rand) (keyID, secret string) {
	const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	const secretAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+"
	k := []byte("AKIA")
	for len(k) < 20 {
		k = append(k, keyAlphabet[rng.IntN(len(keyAlphabet))])
	}
	s := make([]byte, 40)
	for i := range s {
		s[i] = secretAlphabet[rng.IntN(len(secretAlphabet))]
	}
	// At least one of each in the middle, where a cut would leave a part of
	// the secret on either side.
	s[9], s[23] = '/', '+'
	return string(k), string(s)
}

// leakSecretForms are the secret as it is, then as messages may echo it:
// URL-encoded in upper and lower case, JSON-escaped, and mixed.
var leakSecretForms = []string{
	leakSecret,
	url.QueryEscape(leakSecret),
	strings.NewReplacer("%2F", "%2f", "%2B", "%2b").Replace(url.QueryEscape(leakSecret)),
	url.PathEscape(leakSecret),
	strings.ReplaceAll(leakSecret, "/", `\/`),
	strings.NewReplacer("/", `\/`, "+", `\u002b`).Replace(leakSecret),
	strings.NewReplacer("/", "%2f", "+", `\u002B`).Replace(leakSecret),
}

// leakMaskedKey is the shortened key id that may show: its last four
// characters.
var leakMaskedKey = leakKeyID[len(leakKeyID)-4:]

// leakHook is a valid "keys" hook with the test credentials.
func leakHook(id, queueURL string) sqshook.Hook {
	return sqshook.Hook{
		ID:          id,
		Enabled:     true,
		HookType:    sqshook.HookTypeSQS,
		SQSQueueURL: queueURL,
		SQSRegion:   "us-east-1",
		SQSAuthType: sqshook.AuthKeys,
		SQSKey:      leakKeyID,
		SQSSecret:   leakSecret,
		EventTypes:  []string{"message.*"},
	}
}

// leakFinds reports what of the credentials s shows.
func leakFinds(s string) []string {
	var found []string
	if strings.Contains(s, leakSecret) {
		found = append(found, "the secret")
	}
	for _, form := range leakSecretForms[1:] {
		if strings.Contains(s, form) {
			found = append(found, "the secret in the form "+form)
		}
	}
	if strings.Contains(s, leakKeyID) {
		found = append(found, "the whole access key id")
	}
	return found
}

// leakAssertClean fails the test when text shows a credential.
func leakAssertClean(t *testing.T, where, text string) {
	t.Helper()
	if found := leakFinds(text); len(found) > 0 {
		t.Errorf("LEAK: %s shows %s:\n%s", where, strings.Join(found, " and "), text)
	}
}

// leakAssertShows fails the test when text lacks one of want: a capture that
// is empty, or that is not what the test thinks it is, must not pass.
func leakAssertShows(t *testing.T, where, text string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("sanity: %s lacks %q, so the capture is not what the test expects:\n%s", where, w, text)
		}
	}
}

// leakFormats renders v with every fmt verb a person might log it with.
func leakFormats(v any) map[string]string {
	return map[string]string{
		"%v":      fmt.Sprintf("%v", v),
		"%+v":     fmt.Sprintf("%+v", v),
		"%#v":     fmt.Sprintf("%#v", v),
		"%s":      fmt.Sprintf("%s", v),
		"%q":      fmt.Sprintf("%q", v),
		"Sprint":  fmt.Sprint(v),
		"Println": fmt.Sprintln(v),
	}
}

// leakAssertFormatsClean renders v with every verb and checks each; the
// verbs that leak are reported together, with one of the texts.
func leakAssertFormatsClean(t *testing.T, where string, v any, want ...string) {
	t.Helper()
	var leaky []string
	sample := ""
	for _, verb := range leakVerbs {
		s := leakFormats(v)[verb]
		if len(leakFinds(s)) > 0 {
			leaky = append(leaky, verb)
			sample = s
		}
		if verb != "%#v" { // Go syntax prints error values as pointers
			leakAssertShows(t, where+" "+verb, s, want...)
		}
	}
	if len(leaky) > 0 {
		t.Errorf("LEAK: %s shows %s with %s:\n%s", where, strings.Join(leakFinds(sample), " and "), strings.Join(leaky, " "), sample)
	}
}

// leakVerbs are the keys of leakFormats, in a stable order.
var leakVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "Sprint", "Println"}

// leakAssertErrorClean checks an error, its renderings, and every error it
// wraps.
func leakAssertErrorClean(t *testing.T, where string, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Errorf("sanity: %s: got no error, want one", where)
		return
	}
	leakAssertShows(t, where+" Error()", err.Error(), want...)
	leakAssertFormatsClean(t, where+" (error)", err)
	var leaky []string
	var walk func(string, error)
	walk = func(path string, e error) {
		if len(leakFinds(e.Error())) > 0 {
			leaky = append(leaky, fmt.Sprintf("%s (%T)", path, e))
		}
		switch u := e.(type) {
		case interface{ Unwrap() error }:
			if inner := u.Unwrap(); inner != nil {
				walk(path+".Unwrap()", inner)
			}
		case interface{ Unwrap() []error }:
			for i, inner := range u.Unwrap() {
				walk(fmt.Sprintf("%s.Unwrap()[%d]", path, i), inner)
			}
		}
	}
	walk("err", err)
	if len(leaky) > 0 {
		t.Errorf("LEAK: %s: Error() of %s shows a credential:\n%s", where, strings.Join(leaky, ", "), err.Error())
	}
}

// leakJSON marshals v; a value that cannot be marshalled (an error chain
// holding an *http.Response) gives "".
func leakJSON(t *testing.T, where string, v any) string {
	t.Helper()
	js, err := json.Marshal(v)
	if err != nil {
		t.Logf("%s: json.Marshal: %v (not checked)", where, err)
		return ""
	}
	return string(js)
}

// TestSecretDetectorFindsTheSecret is the positive control: MarshalHooks
// keeps the secret by design (it is the storage format), and the detector
// must see it there.
func TestSecretDetectorFindsTheSecret(t *testing.T) {
	h := leakHook("leak-control", leakURL)
	js, err := sqshook.MarshalHooks([]sqshook.Hook{h})
	if err != nil {
		t.Fatal(err)
	}
	if found := leakFinds(string(js)); len(found) != 2 {
		t.Fatalf("MarshalHooks = %s; the detector found %v, want the secret and the key id (the storage format keeps them)", js, found)
	}
	back, err := sqshook.ParseHooks(js)
	if err != nil || back[0].SQSSecret != leakSecret || back[0].SQSKey != leakKeyID {
		t.Fatalf("JSON round trip lost the credentials: %v", err)
	}
	// The redacted copy is what is safe to marshal.
	rjs := leakJSON(t, "json.Marshal(hook.Redacted())", h.Redacted())
	leakAssertClean(t, "json.Marshal(hook.Redacted())", rjs)
	leakAssertShows(t, "json.Marshal(hook.Redacted())", rjs, "leak-control", "[REDACTED]", leakMaskedKey)
}

// TestSecretNotInHookRenderings: every way of showing a Hook other than JSON.
func TestSecretNotInHookRenderings(t *testing.T) {
	h := leakHook("leak-render", leakURL)
	leakAssertFormatsClean(t, "hook", h, "leak-render")
	leakAssertFormatsClean(t, "*hook", &h, "leak-render")
	leakAssertFormatsClean(t, "[]hook", []sqshook.Hook{h, h}, "leak-render")
	leakAssertFormatsClean(t, "[]*hook", []*sqshook.Hook{&h}, "leak-render")
	leakAssertFormatsClean(t, "map of hooks", map[string]sqshook.Hook{"k": h}, "leak-render")
	leakAssertFormatsClean(t, "struct with a Hook field", struct{ Hook sqshook.Hook }{h}, "leak-render")
	for where, s := range map[string]string{
		"String()":     h.String(),
		"GoString()":   h.GoString(),
		"Errorf %v":    fmt.Errorf("bad hook %v", h).Error(),
		"Errorf %+v":   fmt.Errorf("bad hook %+v", h).Error(),
		"Redacted %+v": fmt.Sprintf("%+v", h.Redacted()),
	} {
		leakAssertClean(t, where, s)
		leakAssertShows(t, where, s, "leak-render")
	}
	d, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) {
		return nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	leakAssertFormatsClean(t, "Dispatcher.Hooks()", d.Hooks(), "leak-render")
}

// TestSecretNotInValidationErrors: hooks whose other fields are broken while
// the key and secret are set, through ValidateHooks, Hook.Validate, New,
// SetHooks and ParseHooks; the errors and the hooks themselves.
func TestSecretNotInValidationErrors(t *testing.T) {
	mod := func(f func(*sqshook.Hook)) sqshook.Hook {
		h := leakHook("", leakURL)
		f(&h)
		return h
	}
	bad := map[string]sqshook.Hook{
		"webhook type":       mod(func(h *sqshook.Hook) { h.HookType = "webhook" }),
		"unknown type":       mod(func(h *sqshook.Hook) { h.HookType = "carrier-pigeon" }),
		"no type":            mod(func(h *sqshook.Hook) { h.HookType = "" }),
		"bad region":         mod(func(h *sqshook.Hook) { h.SQSRegion = "Mars-1" }),
		"region mismatch":    mod(func(h *sqshook.Hook) { h.SQSRegion = "eu-west-1" }),
		"no region":          mod(func(h *sqshook.Hook) { h.SQSRegion = "" }),
		"no url":             mod(func(h *sqshook.Hook) { h.SQSQueueURL = "" }),
		"not sqs url":        mod(func(h *sqshook.Hook) { h.SQSQueueURL = "https://example.com/123456789012/q" }),
		"http url":           mod(func(h *sqshook.Hook) { h.SQSQueueURL = "http://sqs.us-east-1.amazonaws.com/123456789012/q" }),
		"bad escape url":     mod(func(h *sqshook.Hook) { h.SQSQueueURL = "https://sqs.us-east-1.amazonaws.com/%zz" }),
		"bad id":             mod(func(h *sqshook.Hook) { h.ID = "no spaces allowed" }),
		"bad event type":     mod(func(h *sqshook.Hook) { h.EventTypes = []string{"", "a.*.b", "message.**"} }),
		"unknown auth":       mod(func(h *sqshook.Hook) { h.SQSAuthType = "magic" }),
		"resource with keys": mod(func(h *sqshook.Hook) { h.SQSAuthType = sqshook.AuthResource }),
		"bad key id":         mod(func(h *sqshook.Hook) { h.SQSKey = leakKeyID + "-not/a:key" }),
		"secret with space":  mod(func(h *sqshook.Hook) { h.SQSSecret = leakSecret + " trailing" }),
		"everything wrong": mod(func(h *sqshook.Hook) {
			h.ID, h.HookType, h.SQSRegion, h.SQSQueueURL, h.EventTypes = "bad id", "sns", "x", "ftp://x", []string{"*.x"}
			h.SQSSecret = leakSecret + "\n"
		}),
	}
	for name, h := range bad {
		t.Run(name, func(t *testing.T) {
			_, err := sqshook.ValidateHooks([]sqshook.Hook{h}, sqshook.ValidateOptions{})
			leakAssertErrorClean(t, "ValidateHooks", err, "hooks[0].")
			if !errors.Is(err, sqshook.ErrInvalidHook) {
				t.Errorf("sanity: ValidateHooks error %v does not wrap ErrInvalidHook", err)
			}
			leakAssertErrorClean(t, "Hook.Validate", h.Validate(), "hook.")
			_, err = sqshook.New([]sqshook.Hook{leakHook("good", leakURL), h})
			leakAssertErrorClean(t, "New", err, "hooks[1].")
			var ve *sqshook.ValidationError
			if errors.As(err, &ve) {
				leakAssertFormatsClean(t, "ValidationError.Problems", ve.Problems)
				for i, p := range ve.Problems {
					leakAssertClean(t, fmt.Sprintf("Problems[%d].String()", i), p.String())
				}
			}
			leakAssertFormatsClean(t, "the invalid hook", h)
			var logs bytes.Buffer
			logger := slog.New(slog.NewTextHandler(&logs, nil))
			logger.Error("invalid hook", slog.Any("hook", h), slog.Any("err", err))
			slog.New(slog.NewJSONHandler(&logs, nil)).Error("invalid hook", slog.Any("hook", h), slog.Any("err", err))
			leakAssertClean(t, "slog of the invalid hook and its error", logs.String())
			leakAssertShows(t, "slog of the invalid hook and its error", logs.String(), "invalid hook", "hooks[1].", "[REDACTED]")
		})
	}

	t.Run("SetHooks", func(t *testing.T) {
		d, err := sqshook.New(nil, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) {
			return nil, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close(context.Background())
		hooks := []sqshook.Hook{bad["everything wrong"], bad["bad key id"], leakHook("dup", leakURL), leakHook("dup", leakURL), leakHook("", leakURL), leakHook("", leakURL)}
		leakAssertErrorClean(t, "SetHooks", d.SetHooks(hooks), "hooks[0].", "hooks[3].id", "hooks[5].id")
	})

	t.Run("ParseHooks", func(t *testing.T) {
		docs := map[string]string{
			"missing enabled":       `[{"hook_type":"sqs","sqs_key":"` + leakKeyID + `","sqs_secret":"` + leakSecret + `"}]`,
			"secret of wrong type":  `[{"enabled":true,"sqs_key":"` + leakKeyID + `","sqs_secret":["` + leakSecret + `"]}]`,
			"key of wrong type":     `[{"enabled":true,"sqs_key":{"id":"` + leakKeyID + `"},"sqs_secret":"` + leakSecret + `"}]`,
			"enabled as the secret": `[{"enabled":"` + leakSecret + `","sqs_key":"` + leakKeyID + `"}]`,
			"event_types as secret": `[{"enabled":true,"event_types":"` + leakSecret + `","sqs_key":"` + leakKeyID + `"}]`,
			"hook as the secret":    `["` + leakKeyID + `:` + leakSecret + `"]`,
			"syntax error":          `[{"enabled":true,"sqs_key":"` + leakKeyID + `" "sqs_secret":"` + leakSecret + `"}]`,
			"truncated":             `[{"enabled":true,"sqs_key":"` + leakKeyID + `","sqs_secret":"` + leakSecret,
			"event_hooks as secret": `{"event_hooks":"` + leakKeyID + `:` + leakSecret + `"}`,
			"event_hooks bad item":  `{"event_hooks":[{"enabled":true,"sqs_secret":` + leakSecret + `}]}`,
			"bare string":           `"` + leakSecret + `"`,
		}
		for name, doc := range docs {
			_, err := sqshook.ParseHooks([]byte(doc))
			leakAssertErrorClean(t, "ParseHooks("+name+")", err, "invalid hook")
		}
		// A document that parses, with problems only ValidateHooks finds.
		hooks, err := sqshook.ParseHooks([]byte(`{"event_hooks":[{"enabled":true,"hook_type":"webhook","sqs_queue_url":"` + leakURL +
			`","sqs_region":"us-west-2","sqs_auth_type":"keys","sqs_key":"` + leakKeyID + `","sqs_secret":"` + leakSecret + `"}]}`))
		if err != nil {
			t.Fatal(err)
		}
		leakAssertFormatsClean(t, "parsed hooks", hooks, "webhook")
		_, err = sqshook.ValidateHooks(hooks, sqshook.ValidateOptions{})
		leakAssertErrorClean(t, "ValidateHooks(parsed)", err, "hooks[0].hook_type", "hooks[0].sqs_region")
	})
}

// TestSecretNotInValidationOfCredentialsInURL: the customer pasted the
// credentials into the queue URL as user information (the secret is then
// in sqs_queue_url as well as in sqs_secret). Validation errors must not
// repeat them.
func TestSecretNotInValidationOfCredentialsInURL(t *testing.T) {
	const endpoint = "http://127.0.0.1:9"
	urls := map[string]sqshook.ValidateOptions{
		"https://" + leakKeyID + ":" + leakSecret + "@sqs.us-east-1.amazonaws.com/123456789012/q": {},
		"http://" + leakKeyID + ":" + leakSecret + "@sqs.us-east-1.amazonaws.com/123456789012/q":  {},
		"https://" + leakKeyID + ":" + leakSecret + "@sqs.us-east-1.amazonaws.com/%zz":            {},
		"http://" + leakKeyID + ":" + leakSecret + "@127.0.0.1:9/123456789012/q":                  {Endpoint: endpoint},
		"http://" + leakKeyID + ":" + leakSecret + "@example.com/123456789012/q":                  {Endpoint: endpoint},
	}
	i := 0
	for u, opts := range urls {
		i++
		h := leakHook(fmt.Sprintf("url-%d", i), u)
		_, err := sqshook.ValidateHooks([]sqshook.Hook{h}, opts)
		leakAssertErrorClean(t, fmt.Sprintf("ValidateHooks(url-%d)", i), err, "hooks[0].sqs_queue_url")
		res := sqshook.CheckHook(context.Background(), h, sqshook.CheckOptions{Endpoint: opts.Endpoint, Timeout: time.Second})
		leakAssertFormatsClean(t, fmt.Sprintf("CheckHook(url-%d)", i), res, "sqs_queue_url")
		leakAssertClean(t, fmt.Sprintf("CheckHook(url-%d) JSON", i), leakJSON(t, "CheckResult", res))
	}
}

// TestSecretNotInHookWithCredentialsInURL: Hook.Redacted hides sqs_secret
// and sqs_key, but a queue URL that carries the same credentials as user
// information is shown as is by every rendering of the hook.
func TestSecretNotInHookWithCredentialsInURL(t *testing.T) {
	h := leakHook("url-creds", "https://"+leakKeyID+":"+leakSecret+"@sqs.us-east-1.amazonaws.com/123456789012/q")
	leakAssertFormatsClean(t, "hook with credentials in its URL", h, "url-creds")
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("hook", slog.Any("hook", h))
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("hook", slog.Any("hook", h))
	leakAssertClean(t, "slog of a hook with credentials in its URL", logs.String())
	leakAssertShows(t, "slog of a hook with credentials in its URL", logs.String(), "url-creds")
}

// leakBuffer is a bytes.Buffer safe for concurrent writers.
type leakBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *leakBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *leakBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// leakFault is a failure of the calls to one queue.
type leakFault struct {
	name     string
	fault    sqstest.Fault
	code     string         // the dead letters' Code
	reason   sqshook.Reason // their Reason
	echoesIt bool           // the server's message repeats the credentials
}

// leakFaults are the failures the delivery tests inject. The server's own
// messages come first: sqshook's text must never hold the credentials.
// Then the same failures with messages that repeat them: sqshook knows
// the hook's credentials and must scrub them.
func leakFaults() []leakFault {
	echo := func(i int, id string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "bad entry signed by " + leakKeyID + " with " + leakSecret, SenderFault: true}
	}
	encoded := func(i int, id string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "bad entry: " + leakSecretForms[1] + " " + leakSecretForms[4], SenderFault: true}
	}
	plain := func(i int, id string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "Value for parameter is invalid.", SenderFault: true}
	}
	return []leakFault{
		{name: "InvalidClientTokenId", fault: sqstest.Fault{Code: "InvalidClientTokenId"}, code: "InvalidClientTokenId", reason: sqshook.ReasonRejected},
		{name: "AccessDenied", fault: sqstest.Fault{Code: "AccessDenied"}, code: "AccessDenied", reason: sqshook.ReasonRejected},
		{name: "RequestThrottled", fault: sqstest.Fault{Code: "RequestThrottled"}, code: "RequestThrottled", reason: sqshook.ReasonRetriesExhausted},
		{name: "DroppedConnection", fault: sqstest.Fault{Drop: sqstest.DropBeforeProcessing}, code: "", reason: sqshook.ReasonRetriesExhausted},
		{name: "FailedEntry", fault: sqstest.Fault{FailEntries: plain}, code: "InvalidParameterValue", reason: sqshook.ReasonRejected},

		{name: "InvalidClientTokenIdEchoed", fault: sqstest.Fault{Code: "InvalidClientTokenId", Message: leakEcho}, code: "InvalidClientTokenId", reason: sqshook.ReasonRejected, echoesIt: true},
		{name: "SignatureDoesNotMatchEchoed", fault: sqstest.Fault{Code: "SignatureDoesNotMatch", Message: "Credential=" + leakKeyID + "/20240101/us-east-1/sqs/aws4_request; secret " + leakSecret}, code: "SignatureDoesNotMatch", reason: sqshook.ReasonRejected, echoesIt: true},
		{name: "AccessDeniedEchoed", fault: sqstest.Fault{Code: "AccessDenied", Message: "Access to the resource is denied for " + leakKeyID + ":" + leakSecret}, code: "AccessDenied", reason: sqshook.ReasonRejected, echoesIt: true},
		{name: "RequestThrottledEchoed", fault: sqstest.Fault{Code: "RequestThrottled", Message: "Rate exceeded for " + leakKeyID + " / " + leakSecret}, code: "RequestThrottled", reason: sqshook.ReasonRetriesExhausted, echoesIt: true},
		{name: "FailedEntryEchoed", fault: sqstest.Fault{FailEntries: echo}, code: "InvalidParameterValue", reason: sqshook.ReasonRejected, echoesIt: true},
		{name: "AccessDeniedURLEncoded", fault: sqstest.Fault{Code: "AccessDenied", Message: "denied: " + leakSecretForms[1] + " and " + leakSecretForms[2] + " and " + leakSecretForms[3]}, code: "AccessDenied", reason: sqshook.ReasonRejected, echoesIt: true},
		{name: "ThrottledJSONEscaped", fault: sqstest.Fault{Code: "RequestThrottled", Message: `{"secret":"` + leakSecretForms[4] + `","mixed":["` + leakSecretForms[5] + `","` + leakSecretForms[6] + `"]}`}, code: "RequestThrottled", reason: sqshook.ReasonRetriesExhausted, echoesIt: true},
		{name: "FailedEntryEncoded", fault: sqstest.Fault{FailEntries: encoded}, code: "InvalidParameterValue", reason: sqshook.ReasonRejected, echoesIt: true},
	}
}

// leakOptions retry quickly and give up after three attempts.
func leakOptions(srv *sqstest.Server) []sqshook.Option {
	return []sqshook.Option{
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithLinger(0),
		sqshook.WithCallTimeout(10 * time.Second),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 2 * time.Millisecond, MaxAttempts: 3, MaxElapsedTime: 20 * time.Second}),
	}
}

// leakDeliver publishes n events to every hook, flushes, and returns what
// the caller sees: the errors of Publish, Flush and Close, and the stats
// before and after Close.
func leakDeliver(t *testing.T, d *sqshook.Dispatcher, n int) (errs map[string]error, stats []sqshook.Stats) {
	t.Helper()
	errs = map[string]error{}
	for i := 0; i < n; i++ {
		ev, err := sqshook.NewEvent("message.new", map[string]any{"type": "message.new", "text": fmt.Sprintf("hello %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Publish(context.Background(), ev); err != nil {
			errs[fmt.Sprintf("Publish #%d", i)] = err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	stats = append(stats, d.Stats())
	if err := d.Close(ctx); err != nil {
		errs["Close"] = err
	}
	stats = append(stats, d.Stats())
	if err := d.Flush(ctx); err != nil {
		errs["Flush after Close"] = err
	}
	return errs, stats
}

// TestSecretNotInDeadLettersOrStats drives the dispatcher and the real SDK
// against sqstest with each fault and checks every dead letter (each fmt
// verb, JSON, Err.Error() and what it wraps), the errors the caller gets,
// and Stats (each verb and JSON).
func TestSecretNotInDeadLettersOrStats(t *testing.T) {
	for _, f := range leakFaults() {
		t.Run(f.name, func(t *testing.T) {
			srv := sqstest.NewServer()
			defer srv.Close()
			url := srv.CreateQueue("leak-events", nil)
			fault := f.fault
			fault.Op = "SendMessageBatch"
			srv.AddFault(fault)
			hookID := "leak-" + strings.ToLower(f.name)
			var dls deadLetters
			var logs leakBuffer
			opts := append(leakOptions(srv), sqshook.WithDeadLetter(dls.add),
				sqshook.WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
			d, err := sqshook.New([]sqshook.Hook{leakHook(hookID, url)}, opts...)
			if err != nil {
				t.Fatal(err)
			}
			const n = 3
			errs, stats := leakDeliver(t, d, n)

			got := dls.list()
			if len(got) != n {
				t.Fatalf("sanity: %d dead letters, want %d (the fault did not apply?)", len(got), n)
			}
			for i, dl := range got {
				where := fmt.Sprintf("dead letter %d", i)
				if dl.HookID != hookID || dl.Reason != f.reason || dl.Code != f.code {
					t.Errorf("sanity: %s is hook %q, reason %q, code %q; want %q, %q, %q", where, dl.HookID, dl.Reason, dl.Code, hookID, f.reason, f.code)
				}
				leakAssertClean(t, where+" .Message", dl.Message)
				if i > 0 { // the others are rendered like the first
					continue
				}
				leakAssertFormatsClean(t, where, dl, hookID)
				leakAssertErrorClean(t, where+" .Err", dl.Err, hookID, string(f.reason))
				var de *sqshook.DeliveryError
				if !errors.As(dl.Err, &de) {
					t.Errorf("sanity: %s .Err is %T, want a *DeliveryError", where, dl.Err)
				} else {
					leakAssertClean(t, where+" DeliveryError.Message", de.Message)
					leakAssertFormatsClean(t, where+" *DeliveryError", de, hookID)
					if js := leakJSON(t, where+" *DeliveryError", de); js != "" {
						leakAssertClean(t, where+" json.Marshal(*DeliveryError)", js)
					}
				}
				if js := leakJSON(t, where, dl); js != "" {
					leakAssertClean(t, where+" json.Marshal", js)
				}
				var lb bytes.Buffer
				slog.New(slog.NewTextHandler(&lb, nil)).Warn("dead letter", slog.Any("dl", dl), slog.Any("err", dl.Err))
				leakAssertClean(t, where+" in slog text", lb.String())
				leakAssertShows(t, where+" in slog text", lb.String(), hookID)
			}
			for where, err := range errs {
				leakAssertErrorClean(t, where, err)
			}
			for i, s := range stats {
				where := [...]string{"Stats() before Close", "Stats() after Close"}[i]
				hs, ok := s.Hook(hookID)
				if !ok || hs.DeadLettered != n || hs.LastErrorCode != f.code {
					t.Errorf("sanity: %s of %s: %+v; want %d dead letters, last code %q", where, hookID, hs, n, f.code)
				}
				leakAssertClean(t, where+" LastErrorMessage", hs.LastErrorMessage)
				leakAssertFormatsClean(t, where, s, hookID)
				js := leakJSON(t, where, s)
				leakAssertClean(t, where+" json.Marshal", js)
				leakAssertShows(t, where+" json.Marshal", js, hookID, "LastErrorMessage")
			}
			leakAssertClean(t, "the dispatcher's log", logs.String())
		})
	}
}

// TestSecretNotInSlogOutput: a text and a JSON slog handler over buffers,
// passed with WithLogger. The test logs the hooks as a program would, and
// the dispatcher logs every dead letter itself (no WithDeadLetter).
func TestSecretNotInSlogOutput(t *testing.T) {
	handlers := map[string]func(*leakBuffer) slog.Handler{
		"text": func(b *leakBuffer) slog.Handler { return slog.NewTextHandler(b, nil) },
		"json": func(b *leakBuffer) slog.Handler { return slog.NewJSONHandler(b, nil) },
	}
	for _, echoed := range []bool{false, true} {
		for name, newHandler := range handlers {
			sub := name + "/server messages"
			if echoed {
				sub = name + "/messages echoing the credentials"
			}
			t.Run(sub, func(t *testing.T) {
				var buf leakBuffer
				logger := slog.New(newHandler(&buf))
				srv := sqstest.NewServer()
				defer srv.Close()
				var hooks []sqshook.Hook
				var ids []string
				for _, f := range leakFaults() {
					if f.echoesIt != echoed {
						continue
					}
					id := "slog-" + strings.ToLower(f.name)
					queue := "q-" + strings.ToLower(f.name)
					fault := f.fault
					fault.Op, fault.Queue = "SendMessageBatch", queue
					srv.AddFault(fault)
					hooks = append(hooks, leakHook(id, srv.CreateQueue(queue, nil)))
					ids = append(ids, id)
				}
				d, err := sqshook.New(hooks, append(leakOptions(srv), sqshook.WithLogger(logger))...)
				if err != nil {
					t.Fatal(err)
				}
				for _, h := range d.Hooks() {
					logger.Info("hook configured", slog.Any("hook", h), slog.Any("hook_ptr", &h))
					logger.Info("hook configured", "hook", h)
					logger.With(slog.Any("hook", h)).Info("hook in logger attrs")
					logger.WithGroup("cfg").Info("hook in a group", slog.Any("hook", h))
				}
				logger.Info("all hooks", slog.Any("hooks", d.Hooks()))
				logger.Info("hooks in a struct", slog.Any("cfg", struct {
					Hooks []sqshook.Hook
					First sqshook.Hook
				}{d.Hooks(), d.Hooks()[0]}))
				_, verr := sqshook.ValidateHooks([]sqshook.Hook{leakHook("bad id!", "ftp://x")}, sqshook.ValidateOptions{})
				logger.Error("validation", slog.Any("err", verr))
				errs, stats := leakDeliver(t, d, 2)
				for where, err := range errs {
					logger.Error(where, slog.Any("err", err))
				}
				logger.Info("stats", slog.Any("stats", stats[len(stats)-1]))

				out := buf.String()
				leakAssertShows(t, name+" log", out, append(ids, "hook configured", "sqshook: event not delivered", "[REDACTED]", leakMaskedKey, "hooks[0].id")...)
				var leaky []string
				for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
					if len(leakFinds(line)) > 0 {
						leaky = append(leaky, line)
					}
				}
				if len(leaky) > 0 {
					t.Errorf("LEAK: %d of the %s log lines show a credential:\n%s", len(leaky), name, strings.Join(leaky, "\n"))
				}
			})
		}
	}
}

// leakCheckCase is one check scenario.
type leakCheckCase struct {
	name   string
	fault  *sqstest.Fault // nil: no fault
	send   bool           // SendTestMessage
	status sqshook.CheckStatus
	want   string // in CheckResult.Error
	// scrubbed: Error repeats the server's message (an error code
	// without a category; the others show none), which held the
	// credentials, so "[REDACTED]" must show where they were (proof that
	// the echoed message reached the result and was scrubbed).
	scrubbed bool
}

// TestSecretNotInCheckResults: CheckHook and Dispatcher.Check against
// sqstest, with and without faults; each CheckResult with every verb and as
// JSON, and Dispatcher.Check's own errors.
func TestSecretNotInCheckResults(t *testing.T) {
	cases := []leakCheckCase{
		{name: "ok", status: sqshook.CheckOK},
		{name: "ok with test message", send: true, status: sqshook.CheckOK},
		{name: "InvalidClientTokenId", fault: &sqstest.Fault{Code: "InvalidClientTokenId"}, status: sqshook.CheckError, want: "bad access key or secret"},
		{name: "InvalidClientTokenId echoed", fault: &sqstest.Fault{Code: "InvalidClientTokenId", Message: leakEcho}, status: sqshook.CheckError, want: "bad access key or secret"},
		{name: "SignatureDoesNotMatch echoed", fault: &sqstest.Fault{Code: "SignatureDoesNotMatch", Message: leakEcho}, status: sqshook.CheckError, want: "bad access key or secret"},
		{name: "AccessDenied echoed", fault: &sqstest.Fault{Code: "AccessDenied", Message: leakEcho}, status: sqshook.CheckError, want: "access denied"},
		{name: "AccessDenied echoed with test message", fault: &sqstest.Fault{Code: "AccessDenied", Message: leakEcho}, send: true, status: sqshook.CheckError, want: "access denied"},
		{name: "RequestThrottled echoed", fault: &sqstest.Fault{Code: "RequestThrottled", Message: leakEcho}, status: sqshook.CheckError, want: "throttling"},
		{name: "ExpiredToken echoed", fault: &sqstest.Fault{Code: "ExpiredToken", Message: leakEcho}, status: sqshook.CheckError, want: "expired credentials"},
		{name: "KMS echoed", fault: &sqstest.Fault{Code: "KmsAccessDenied", Message: leakEcho}, status: sqshook.CheckError, want: "KMS"},
		{name: "unknown code echoed", fault: &sqstest.Fault{Code: "WeirdFailure", Message: leakEcho}, status: sqshook.CheckError, want: "WeirdFailure", scrubbed: true},
		{name: "QueueDoesNotExist", fault: &sqstest.Fault{Code: "QueueDoesNotExist"}, status: sqshook.CheckError, want: "no such queue"},
		{name: "dropped connection", fault: &sqstest.Fault{Drop: sqstest.DropBeforeProcessing}, status: sqshook.CheckError, want: "network"},
		{name: "test message refused echoed", fault: &sqstest.Fault{Op: "SendMessage", Code: "InvalidParameterValue", Message: leakEcho}, send: true, status: sqshook.CheckError, want: "InvalidParameterValue", scrubbed: true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			srv := sqstest.NewServer()
			defer srv.Close()
			url := srv.CreateQueue("checked", nil)
			h := leakHook("check-hook", url)
			d, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithEndpoint(srv.URL()))
			if err != nil {
				t.Fatal(err)
			}
			defer d.Close(context.Background())
			if c.fault != nil {
				srv.AddFault(*c.fault)
			}
			opts := sqshook.CheckOptions{Endpoint: srv.URL(), SendTestMessage: c.send, Timeout: 10 * time.Second}
			results := map[string]sqshook.CheckResult{"CheckHook": sqshook.CheckHook(context.Background(), h, opts)}
			res, err := d.Check(context.Background(), "check-hook", opts)
			if err != nil {
				t.Fatalf("Dispatcher.Check: %v", err)
			}
			results["Dispatcher.Check"] = res
			for where, res := range results {
				if res.Status != c.status || !strings.Contains(res.Error, c.want) {
					t.Errorf("sanity: %s: status %q, error %q; want %q and an error containing %q", where, res.Status, res.Error, c.status, c.want)
				}
				leakAssertClean(t, where+" .Error", res.Error)
				if c.scrubbed && !strings.Contains(res.Error, "[REDACTED]") {
					t.Errorf("sanity: %s: error %q does not show the scrubbed server message", where, res.Error)
				}
				leakAssertFormatsClean(t, where, res, string(c.status))
				js := leakJSON(t, where, res)
				leakAssertClean(t, where+" json.Marshal", js)
				leakAssertShows(t, where+" json.Marshal", js, `"status":"`+string(c.status)+`"`)
				var lb bytes.Buffer
				slog.New(slog.NewJSONHandler(&lb, nil)).Info("check", slog.Any("result", res))
				slog.New(slog.NewTextHandler(&lb, nil)).Info("check", slog.Any("result", res))
				leakAssertClean(t, where+" in slog", lb.String())
			}
		})
	}

	t.Run("invalid hook", func(t *testing.T) {
		h := leakHook("bad id!", "https://example.com/q")
		h.SQSRegion = "nowhere"
		res := sqshook.CheckHook(context.Background(), h, sqshook.CheckOptions{})
		if res.Status != sqshook.CheckError || !strings.Contains(res.Error, "invalid hook") {
			t.Errorf("sanity: status %q, error %q; want an invalid hook error", res.Status, res.Error)
		}
		leakAssertFormatsClean(t, "CheckHook(invalid)", res, "invalid hook")
		leakAssertClean(t, "CheckHook(invalid) JSON", leakJSON(t, "CheckResult", res))
	})

	t.Run("Dispatcher.Check errors", func(t *testing.T) {
		d, err := sqshook.New([]sqshook.Hook{leakHook("check-hook", leakURL)}, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) {
			return nil, nil
		}))
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Check(context.Background(), leakKeyID+"-no-such-hook", sqshook.CheckOptions{})
		if !errors.Is(err, sqshook.ErrUnknownHook) {
			t.Errorf("sanity: Check of an unknown id: %v, want ErrUnknownHook", err)
		}
		// The id is the caller's own input; only what sqshook adds matters.
		leakAssertShows(t, "Check(unknown id)", err.Error(), "unknown hook")
		d.Close(context.Background())
		_, err = d.Check(context.Background(), "check-hook", sqshook.CheckOptions{})
		leakAssertErrorClean(t, "Check after Close", err, "closed")
	})
}

// TestSecretNotInDispatcherValue: a program that logs the dispatcher itself
// (log.Printf("%+v", d), slog.Any("dispatcher", d)). fmt prints the
// dispatcher's unexported fields, the hook list among them, without calling
// Hook's Format (fmt cannot call methods on unexported fields).
func TestSecretNotInDispatcherValue(t *testing.T) {
	d, err := sqshook.New([]sqshook.Hook{leakHook("value-hook", leakURL)}, sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) {
		return nil, nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close(context.Background())
	// No event was published: no goroutine touches the dispatcher while fmt
	// reads it.
	for verb, s := range map[string]string{"%v": fmt.Sprintf("%v", d), "%+v": fmt.Sprintf("%+v", d)} {
		leakAssertClean(t, "dispatcher "+verb, s)
	}
	var lb bytes.Buffer
	slog.New(slog.NewTextHandler(&lb, nil)).Info("started", slog.Any("dispatcher", d))
	slog.New(slog.NewJSONHandler(&lb, nil)).Info("started", slog.Any("dispatcher", d))
	leakAssertClean(t, "dispatcher in slog", lb.String())
	leakAssertShows(t, "dispatcher in slog", lb.String(), "started")
}

// leakTypedCase is a hook whose customer typed the credentials into a field
// other than sqs_key and sqs_secret.
type leakTypedCase struct {
	name     string
	hook     sqshook.Hook
	endpoint string // the endpoint override the hook is validated and checked with
	// parseURL: the queue URL carries the credentials as user information,
	// which ParseQueueURL, QueueARN and ResourcePolicy must hide too (they do
	// not know the hook, so only user information can be hidden there).
	parseURL bool
}

// leakTypedCases puts the credentials in every field a customer types:
// the queue URL (user information, path, query, fragment), the region, the
// event types and the id, on AWS URLs and on a loopback endpoint override.
func leakTypedCases(endpoint, localURL string) []leakTypedCase {
	const host = "sqs.us-east-1.amazonaws.com"
	with := func(u string, f func(*sqshook.Hook)) sqshook.Hook {
		h := leakHook("typed", u)
		if f != nil {
			f(&h)
		}
		return h
	}
	return []leakTypedCase{
		{name: "userinfo key:secret", hook: with("https://"+leakKeyID+":"+leakSecret+"@"+host+"/123456789012/q", nil), parseURL: true},
		{name: "userinfo secret only", hook: with("https://"+leakSecret+"@"+host+"/123456789012/q", nil), parseURL: true},
		{name: "userinfo escaped", hook: with("https://"+leakKeyID+":"+strings.NewReplacer("/", "%2F", "+", "%2B").Replace(leakSecret)+"@"+host+"/123456789012/q", nil), parseURL: true},
		{name: "userinfo http", hook: with("http://"+leakKeyID+":"+leakSecret+"@"+host+"/123456789012/q", nil), parseURL: true},
		{name: "userinfo on loopback", hook: with(strings.Replace(localURL, "://", "://"+leakKeyID+":"+leakSecret+"@", 1), nil), endpoint: endpoint},
		{name: "path", hook: with("https://"+host+"/123456789012/"+leakSecret, nil)},
		{name: "path key", hook: with("https://"+host+"/"+leakKeyID+"/q", nil)},
		{name: "query", hook: with(leakURL+"?X-Amz-Credential="+leakKeyID+"&secret="+leakSecret, nil)},
		{name: "fragment", hook: with(leakURL+"#"+leakSecret, nil)},
		{name: "path on loopback", hook: with(localURL+"/"+leakSecret, nil), endpoint: endpoint},
		{name: "host on loopback", hook: with("http://"+leakKeyID+"/123456789012/q", nil), endpoint: endpoint},
		{name: "region", hook: with(leakURL, func(h *sqshook.Hook) { h.SQSRegion = leakSecret })},
		{name: "region key", hook: with(leakURL, func(h *sqshook.Hook) { h.SQSRegion = leakKeyID })},
		{name: "event types", hook: with(localURL, func(h *sqshook.Hook) { h.EventTypes = []string{leakSecret, "message." + leakKeyID} }), endpoint: endpoint},
		{name: "bad event types", hook: with(leakURL, func(h *sqshook.Hook) { h.EventTypes = []string{"*." + leakSecret, leakKeyID + " x"} })},
		{name: "id", hook: with(leakURL, func(h *sqshook.Hook) { h.ID = leakSecret })},
		{name: "role arn", hook: with(leakURL, func(h *sqshook.Hook) { h.SQSRoleARN = "arn:aws:iam::123456789012:role/" + leakSecret })},
	}
}

// TestSecretNotInTypedFields: the credentials, drawn from the real
// alphabet, typed into every field a customer can type into. No rendering,
// log, validation or parse error, or check result may show them.
func TestSecretNotInTypedFields(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	localURL := srv.CreateQueue("typed", nil)
	for _, c := range leakTypedCases(srv.URL(), localURL) {
		t.Run(c.name, func(t *testing.T) {
			h := c.hook
			leakAssertFormatsClean(t, "hook", h)
			leakAssertFormatsClean(t, "*hook", &h)
			leakAssertClean(t, "String()", h.String())
			leakAssertClean(t, "Redacted %+v", fmt.Sprintf("%+v", h.Redacted()))
			leakAssertClean(t, "json.Marshal(Redacted())", leakJSON(t, "Redacted", h.Redacted()))
			var logs bytes.Buffer
			slog.New(slog.NewTextHandler(&logs, nil)).Info("hook", slog.Any("hook", h))
			slog.New(slog.NewJSONHandler(&logs, nil)).Info("hook", slog.Any("hook", h))
			leakAssertClean(t, "slog of the hook", logs.String())
			leakAssertShows(t, "slog of the hook", logs.String(), "sqs_queue_url", "[REDACTED]")

			vopts := sqshook.ValidateOptions{Endpoint: c.endpoint}
			_, verr := sqshook.ValidateHooks([]sqshook.Hook{h}, vopts)
			if verr != nil {
				leakAssertErrorClean(t, "ValidateHooks", verr, "hooks[0].")
				leakAssertErrorClean(t, "Hook.Validate", h.Validate(), "hook.")
				_, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithEndpoint(c.endpoint))
				leakAssertErrorClean(t, "New", err, "hooks[0].")
				if c.name == "userinfo key:secret" && strings.Contains(verr.Error(), "port") {
					t.Errorf("ValidateHooks: %v; the URL has user information, not a port", verr)
				}
			}
			if c.parseURL {
				_, err := sqshook.ParseQueueURL(h.SQSQueueURL)
				leakAssertErrorClean(t, "ParseQueueURL", err, "REDACTED")
				if strings.HasPrefix(h.SQSQueueURL, "https:") && err != nil && !strings.Contains(err.Error(), "user information") {
					t.Errorf("ParseQueueURL: %v; want it to name the user information", err)
				}
				_, err = sqshook.QueueARN(h.SQSQueueURL)
				leakAssertErrorClean(t, "QueueARN", err, "REDACTED")
				_, err = sqshook.ResourcePolicy(h.SQSQueueURL, "arn:aws:iam::111122223333:role/sender", sqshook.ResourcePolicyOptions{})
				leakAssertErrorClean(t, "ResourcePolicy", err, "REDACTED")
			}
			res := sqshook.CheckHook(context.Background(), h, sqshook.CheckOptions{Endpoint: c.endpoint, Timeout: 10 * time.Second})
			if verr != nil && res.Status != sqshook.CheckError {
				t.Errorf("sanity: CheckHook of an invalid hook: status %q, want %q", res.Status, sqshook.CheckError)
			}
			leakAssertClean(t, "CheckResult.Error", res.Error)
			leakAssertFormatsClean(t, "CheckResult", res)
			leakAssertClean(t, "CheckResult JSON", leakJSON(t, "CheckResult", res))
		})
	}
}

// TestSecretNotInClientPool: a pool that built clients for "keys" hooks,
// shown with every verb and through slog, shows neither the credentials
// nor a digest of the secret; the pool still tells credentials apart.
func TestSecretNotInClientPool(t *testing.T) {
	pool := sqshook.NewClientPool(sqshook.ClientOptions{Endpoint: "http://127.0.0.1:9"})
	h := leakHook("pool", leakURL)
	other := h
	other.SQSSecret = leakSecret[1:] + "x"
	for _, hk := range []sqshook.Hook{h, h, other} {
		if _, err := pool.Client(context.Background(), hk); err != nil {
			t.Fatal(err)
		}
	}
	if pool.Len() != 2 {
		t.Errorf("pool.Len() = %d, want 2 (one client per credentials)", pool.Len())
	}
	digest := sha256.Sum256([]byte(leakSecret))
	digestForms := []string{hex.EncodeToString(digest[:]), strings.Trim(fmt.Sprint(digest), "[]"), fmt.Sprintf("%x", digest[:8])}
	check := func(where, s string) {
		t.Helper()
		leakAssertClean(t, where, s)
		for _, d := range digestForms {
			if strings.Contains(s, d) {
				t.Errorf("LEAK: %s shows the SHA-256 of the secret:\n%s", where, s)
			}
		}
	}
	for verb, s := range leakFormats(pool) {
		check("*ClientPool "+verb, s)
		leakAssertShows(t, "*ClientPool "+verb, s, "127.0.0.1:9")
	}
	check("struct holding a *ClientPool %+v", fmt.Sprintf("%+v", struct{ P *sqshook.ClientPool }{pool}))
	var lb bytes.Buffer
	slog.New(slog.NewTextHandler(&lb, nil)).Info("pool", slog.Any("pool", pool))
	slog.New(slog.NewJSONHandler(&lb, nil)).Info("pool", slog.Any("pool", pool))
	check("*ClientPool in slog", lb.String())
	leakAssertShows(t, "*ClientPool in slog", lb.String(), "127.0.0.1:9")
}

// TestSecretNotInJSONOfHooks: encoding/json of a hook, alone, in a slice,
// a map or a struct, and slog's JSON handler of those, show the redacted
// copy; MarshalHooks is the storage form and round-trips through
// ParseHooks; a redacted copy stored by mistake fails validation by name.
func TestSecretNotInJSONOfHooks(t *testing.T) {
	h := leakHook("json-hook", leakURL)
	values := map[string]any{
		"hook":   h,
		"*hook":  &h,
		"[]hook": []sqshook.Hook{h, h},
		"map":    map[string]sqshook.Hook{"k": h},
		"struct": struct {
			H  sqshook.Hook
			Hs []sqshook.Hook
		}{h, []sqshook.Hook{h}},
	}
	for name, v := range values {
		js := leakJSON(t, name, v)
		leakAssertClean(t, "json.Marshal("+name+")", js)
		leakAssertShows(t, "json.Marshal("+name+")", js, "json-hook", `"sqs_secret":"[REDACTED]"`)
		var lb bytes.Buffer
		slog.New(slog.NewJSONHandler(&lb, nil)).Info("hooks", slog.Any("v", v))
		slog.New(slog.NewTextHandler(&lb, nil)).Info("hooks", slog.Any("v", v))
		leakAssertClean(t, "slog of "+name, lb.String())
		leakAssertShows(t, "slog of "+name, lb.String(), "json-hook")
	}

	stored, err := sqshook.MarshalHooks([]sqshook.Hook{h})
	if err != nil {
		t.Fatal(err)
	}
	back, err := sqshook.ParseHooks(stored)
	if err != nil || len(back) != 1 || back[0].SQSSecret != leakSecret || back[0].SQSKey != leakKeyID || back[0].ID != "json-hook" {
		t.Fatalf("MarshalHooks/ParseHooks round trip: %v, %v", back, err)
	}

	// json.Marshal output is not a storage form: it fails validation,
	// naming the field, instead of sending with "[REDACTED]" as a secret.
	redacted, err := json.Marshal([]sqshook.Hook{h})
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := sqshook.ParseHooks(redacted)
	if err != nil {
		t.Fatal(err)
	}
	_, err = sqshook.ValidateHooks(parsed, sqshook.ValidateOptions{})
	if err == nil || !strings.Contains(err.Error(), "hooks[0].sqs_secret") || !strings.Contains(err.Error(), "MarshalHooks") {
		t.Errorf("ValidateHooks of a redacted copy: %v; want a problem on hooks[0].sqs_secret that names MarshalHooks", err)
	}
}
