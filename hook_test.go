package sqshook_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"testing"

	"github.com/sqshook/sqshook"
)

const (
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	testKeyID  = "AKIAIOSFODNN7EXAMPLE"
	testQueue  = "https://sqs.us-east-1.amazonaws.com/123456789012/MyQueue"
)

func keysHook() sqshook.Hook {
	return sqshook.Hook{
		Enabled:     true,
		HookType:    "sqs",
		SQSQueueURL: testQueue,
		SQSRegion:   "us-east-1",
		SQSAuthType: "keys",
		SQSKey:      testKeyID,
		SQSSecret:   testSecret,
		EventTypes:  []string{},
	}
}

func problems(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ve *sqshook.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("error %v is not a *ValidationError", err)
	}
	if !errors.Is(err, sqshook.ErrInvalidHook) {
		t.Fatalf("error %v does not wrap ErrInvalidHook", err)
	}
	var out []string
	for _, p := range ve.Problems {
		out = append(out, p.String())
	}
	return out
}

func TestHookValidateRules(t *testing.T) {
	tests := []struct {
		name   string
		modify func(h *sqshook.Hook)
		want   []string // substrings, one per expected problem, in order
	}{
		{"valid keys", func(h *sqshook.Hook) {}, nil},
		{"valid resource", func(h *sqshook.Hook) { h.SQSAuthType = "resource"; h.SQSKey = ""; h.SQSSecret = "" }, nil},
		{"hook_type missing", func(h *sqshook.Hook) { h.HookType = "" }, []string{`hook.hook_type: required; must be "sqs"`}},
		{"hook_type webhook", func(h *sqshook.Hook) { h.HookType = "webhook" }, []string{`hook.hook_type: "webhook" hooks are not delivered by this library`}},
		{"hook_type sns", func(h *sqshook.Hook) { h.HookType = "sns" }, []string{`hook.hook_type: "sns" hooks are not delivered by this library`}},
		{"hook_type pending_message", func(h *sqshook.Hook) { h.HookType = "pending_message" }, []string{`"pending_message" hooks are not delivered by this library`}},
		{"hook_type unknown", func(h *sqshook.Hook) { h.HookType = "kafka" }, []string{`hook.hook_type: unknown hook type "kafka"`}},
		{"url missing", func(h *sqshook.Hook) { h.SQSQueueURL = "" }, []string{"hook.sqs_queue_url: required"}},
		{"url http", func(h *sqshook.Hook) { h.SQSQueueURL = "http://sqs.us-east-1.amazonaws.com/123456789012/MyQueue" }, []string{"hook.sqs_queue_url:"}},
		{"url http loopback without override", func(h *sqshook.Hook) { h.SQSQueueURL = "http://127.0.0.1:4566/123456789012/q" }, []string{"hook.sqs_queue_url: must use https"}},
		{"url other host", func(h *sqshook.Hook) { h.SQSQueueURL = "https://example.com/123456789012/q" }, []string{"hook.sqs_queue_url:"}},
		{"url not a url", func(h *sqshook.Hook) { h.SQSQueueURL = "MyQueue" }, []string{"hook.sqs_queue_url:"}},
		{"region missing", func(h *sqshook.Hook) { h.SQSRegion = "" }, []string{"hook.sqs_region: required"}},
		{"region malformed", func(h *sqshook.Hook) { h.SQSRegion = "US East" }, []string{`hook.sqs_region: "US East" is not an AWS region name`}},
		{"region mismatch", func(h *sqshook.Hook) { h.SQSRegion = "eu-west-1" }, []string{`hook.sqs_region: "eu-west-1" does not match the queue URL's region "us-east-1"`}},
		{"auth missing", func(h *sqshook.Hook) { h.SQSAuthType = "" }, []string{`hook.sqs_auth_type: required; must be "keys", "resource" or "role"`}},
		{"auth unknown", func(h *sqshook.Hook) { h.SQSAuthType = "iam" }, []string{`hook.sqs_auth_type: unknown auth type "iam"`}},
		{"keys without key", func(h *sqshook.Hook) { h.SQSKey = "" }, []string{`hook.sqs_key: required when sqs_auth_type is "keys"`}},
		{"keys without secret", func(h *sqshook.Hook) { h.SQSSecret = "" }, []string{`hook.sqs_secret: required when sqs_auth_type is "keys"`}},
		{"keys without both", func(h *sqshook.Hook) { h.SQSKey = ""; h.SQSSecret = "" }, []string{"hook.sqs_key: required", "hook.sqs_secret: required"}},
		{"key malformed", func(h *sqshook.Hook) { h.SQSKey = "short" }, []string{"hook.sqs_key: must be 16-128 letters and digits"}},
		{"secret with space", func(h *sqshook.Hook) { h.SQSSecret = "a b" }, []string{"hook.sqs_secret: must not contain white space"}},
		{"resource with key", func(h *sqshook.Hook) { h.SQSAuthType = "resource"; h.SQSSecret = "" }, []string{`hook.sqs_key: must be empty when sqs_auth_type is "resource"`}},
		{"resource with secret", func(h *sqshook.Hook) { h.SQSAuthType = "resource"; h.SQSKey = "" }, []string{`hook.sqs_secret: must be empty when sqs_auth_type is "resource"`}},
		{"bad event types", func(h *sqshook.Hook) { h.EventTypes = []string{"message.new", "", "mess*"} }, []string{"hook.event_types[1]: must not be empty", `hook.event_types[2]: "mess*"`}},
		{"bad id", func(h *sqshook.Hook) { h.ID = "has space" }, []string{"hook.id: must be 1-128 characters"}},
		{"everything at once", func(h *sqshook.Hook) { *h = sqshook.Hook{HookType: "sns", EventTypes: []string{""}} }, []string{
			"hook.hook_type", "hook.sqs_queue_url: required", "hook.sqs_region: required", "hook.sqs_auth_type: required", "hook.event_types[0]",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := keysHook()
			tt.modify(&h)
			got := problems(t, h.Validate())
			if len(got) != len(tt.want) {
				t.Fatalf("got %d problems %q, want %d like %q", len(got), got, len(tt.want), tt.want)
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("problem %d = %q, want it to contain %q", i, got[i], tt.want[i])
				}
				if strings.Contains(got[i], testSecret) {
					t.Errorf("problem %d shows the secret: %q", i, got[i])
				}
			}
		})
	}
}

func TestValidateHooksListRules(t *testing.T) {
	a := keysHook()
	b := keysHook()
	b.EventTypes = []string{"message.*"}
	c := keysHook()
	c.SQSQueueURL += "2"
	c.SQSSecret = ""

	got := problems(t, func() error {
		_, err := sqshook.ValidateHooks([]sqshook.Hook{a, b, c}, sqshook.ValidateOptions{})
		return err
	}())
	want := []string{`hooks[2].sqs_secret: required when sqs_auth_type is "keys"`}
	if len(got) != 1 || got[0] != want[0] {
		t.Errorf("got %q, want %q", got, want)
	}

	// Identical settings twice generate the same id: rejected as a duplicate.
	_, err := sqshook.ValidateHooks([]sqshook.Hook{a, b, a}, sqshook.ValidateOptions{})
	if got := problems(t, err); len(got) != 1 || !strings.Contains(got[0], "hooks[2].id: generated id") || !strings.Contains(got[0], "duplicates hooks[0]") {
		t.Errorf("duplicate settings: got %q", got)
	}
	// Explicit duplicate ids.
	a.ID, b.ID = "same", "same"
	_, err = sqshook.ValidateHooks([]sqshook.Hook{a, b}, sqshook.ValidateOptions{})
	if got := problems(t, err); len(got) != 1 || got[0] != `hooks[1].id: duplicate of hooks[0].id "same"` {
		t.Errorf("duplicate ids: got %q", got)
	}
}

func TestGeneratedIDsAreStable(t *testing.T) {
	base := keysHook()
	base.EventTypes = []string{"message.new", "reaction.*"}
	id := func(h sqshook.Hook) string {
		t.Helper()
		out, err := sqshook.ValidateHooks([]sqshook.Hook{h}, sqshook.ValidateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return out[0].ID
	}
	first := id(base)
	if !strings.HasPrefix(first, "sqs-") || len(first) != len("sqs-")+16 {
		t.Fatalf("generated id = %q, want sqs- and 16 hex digits", first)
	}
	same := []func(h *sqshook.Hook){
		func(h *sqshook.Hook) {},
		func(h *sqshook.Hook) { h.EventTypes = []string{"reaction.*", "message.new"} },
		func(h *sqshook.Hook) { h.EventTypes = []string{"reaction.*", "message.new", "message.new"} },
		func(h *sqshook.Hook) { h.SQSSecret = "rotated-secret" },
		func(h *sqshook.Hook) { h.Enabled = false },
	}
	for i, m := range same {
		h := base.Clone()
		m(&h)
		if got := id(h); got != first {
			t.Errorf("variant %d: id = %q, want %q (same settings)", i, got, first)
		}
	}
	different := []func(h *sqshook.Hook){
		func(h *sqshook.Hook) { h.SQSQueueURL = "https://sqs.us-east-1.amazonaws.com/123456789012/Other" },
		func(h *sqshook.Hook) { h.EventTypes = []string{"message.new"} },
		func(h *sqshook.Hook) { h.SQSKey = "AKIAIOSFODNN7EXAMPLF" },
		func(h *sqshook.Hook) { h.SQSAuthType = "resource"; h.SQSKey = ""; h.SQSSecret = "" },
	}
	for i, m := range different {
		h := base.Clone()
		m(&h)
		if got := id(h); got == first {
			t.Errorf("different variant %d: id = %q, same as the base hook", i, got)
		}
	}
	// An explicit id is kept, and the input is not modified.
	in := []sqshook.Hook{base}
	out, _ := sqshook.ValidateHooks(in, sqshook.ValidateOptions{})
	if in[0].ID != "" {
		t.Errorf("ValidateHooks modified its input: id = %q", in[0].ID)
	}
	out[0].EventTypes[0] = "changed"
	if in[0].EventTypes[0] != "message.new" {
		t.Errorf("ValidateHooks result shares event_types with its input")
	}
	base.ID = "my-hook"
	if got := id(base); got != "my-hook" {
		t.Errorf("explicit id = %q, want my-hook", got)
	}
}

func TestValidateEmulatorEndpoint(t *testing.T) {
	h := keysHook()
	h.SQSQueueURL = "http://127.0.0.1:4566/123456789012/events"
	tests := []struct {
		endpoint string
		url      string
		ok       bool
	}{
		{"http://127.0.0.1:4566", "http://127.0.0.1:4566/123456789012/events", true},
		{"http://localhost:4566", "http://localhost:4566/000000000000/events.fifo", true},
		{"http://[::1]:4566", "http://[::1]:4566/123456789012/events", true},
		{"http://127.0.0.1:4566", testQueue, true},                                    // AWS-shaped URL on an emulator
		{"http://10.1.2.3:4566", "http://10.1.2.3:4566/123456789012/events", false},   // not loopback
		{"http://127.0.0.1:4566", "http://192.0.2.1:4566/123456789012/events", false}, // URL host not loopback
		{"http://127.0.0.1:4566", "http://127.0.0.1:4566/events", false},              // no account
		{"http://127.0.0.1:4566", "http://127.0.0.1:4566/123456789012/bad name", false},
		{"", "http://127.0.0.1:4566/123456789012/events", false},
	}
	for _, tt := range tests {
		h.SQSQueueURL = tt.url
		_, err := sqshook.ValidateHooks([]sqshook.Hook{h}, sqshook.ValidateOptions{Endpoint: tt.endpoint})
		if (err == nil) != tt.ok {
			t.Errorf("endpoint %q, url %q: err = %v, want ok=%v", tt.endpoint, tt.url, err, tt.ok)
		}
	}
}

func TestParseHooksShapes(t *testing.T) {
	one := `{"enabled":true,"hook_type":"sqs","sqs_queue_url":"` + testQueue + `","sqs_region":"us-east-1","sqs_auth_type":"resource","event_types":["message.new"],"created_at":"2024-01-01T00:00:00Z"}`
	for _, doc := range []string{`{"event_hooks":[` + one + `]}`, `[` + one + `]`, " \n[" + one + "]\n"} {
		hooks, err := sqshook.ParseHooks([]byte(doc))
		if err != nil {
			t.Fatalf("ParseHooks(%s): %v", doc, err)
		}
		if len(hooks) != 1 || !hooks[0].Enabled || hooks[0].SQSAuthType != "resource" || hooks[0].EventTypes[0] != "message.new" {
			t.Errorf("ParseHooks(%s) = %+v", doc, hooks)
		}
		if err := hooks[0].Validate(); err != nil {
			t.Errorf("parsed hook does not validate: %v", err)
		}
	}
	empty, err := sqshook.ParseHooks([]byte(`{"event_hooks":[]}`))
	if err != nil || len(empty) != 0 {
		t.Errorf("empty list: %v, %v", empty, err)
	}
}

func TestParseHooksErrors(t *testing.T) {
	tests := []struct{ doc, want string }{
		{``, "want a JSON array"},
		{`"x"`, "want a JSON array"},
		{`{"hooks":[]}`, `event_hooks: required`},
		{`{"event_hooks":{}}`, "event_hooks"},
		{`[{"hook_type":"sqs"}]`, "hooks[0].enabled: required"},
		{`[{"enabled":"yes"}]`, "hooks[0]: enabled: must be a JSON boolean"},
		{`[{"enabled":true,"event_types":"message.new"}]`, "hooks[0]: event_types: must be a JSON array of strings"},
		{`[{"enabled":true},{"enabled":true,"sqs_secret":42}]`, "hooks[1]: sqs_secret: must be a JSON string"},
		{`[1]`, "hooks[0]: must be a JSON object"},
		{`[{"enabled":true}`, "sqshook: invalid hook"},
	}
	for _, tt := range tests {
		_, err := sqshook.ParseHooks([]byte(tt.doc))
		if err == nil || !errors.Is(err, sqshook.ErrInvalidHook) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("ParseHooks(%s) error = %v, want it to contain %q and wrap ErrInvalidHook", tt.doc, err, tt.want)
		}
	}
	// A secret of the wrong type is not echoed.
	_, err := sqshook.ParseHooks([]byte(`[{"enabled":true,"sqs_secret":["` + testSecret + `"]}]`))
	if err == nil || strings.Contains(err.Error(), testSecret) {
		t.Errorf("ParseHooks error shows the secret or is nil: %v", err)
	}
}

func TestHookSecretsNeverShown(t *testing.T) {
	h := keysHook()
	h.ID = "h1"
	var logText, logJSON bytes.Buffer
	slog.New(slog.NewTextHandler(&logText, nil)).Info("hook", "hook", h, "ptr", &h)
	slog.New(slog.NewTextHandler(&logText, nil)).Info("hooks", "list", []sqshook.Hook{h})
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("hook", "hook", h, "ptr", &h)
	shown := map[string]string{
		"String()":     h.String(),
		"%v":           fmt.Sprintf("%v", h),
		"%+v":          fmt.Sprintf("%+v", h),
		"%#v":          fmt.Sprintf("%#v", h),
		"%s":           fmt.Sprintf("%s", h),
		"%q":           fmt.Sprintf("%q", h),
		"%v pointer":   fmt.Sprintf("%v", &h),
		"%+v pointer":  fmt.Sprintf("%+v", &h),
		"%v slice":     fmt.Sprintf("%v", []sqshook.Hook{h}),
		"%#v slice":    fmt.Sprintf("%#v", []sqshook.Hook{h}),
		"%+v map":      fmt.Sprintf("%+v", map[string]sqshook.Hook{"a": h}),
		"slog text":    logText.String(),
		"slog json":    logJSON.String(),
		"Redacted":     fmt.Sprint(h.Redacted().SQSSecret, h.Redacted().SQSKey),
		"GoString":     h.GoString(),
		"Println":      fmt.Sprintln(h),
		"wrapped in %": fmt.Errorf("bad hook %v", h).Error(),
	}
	for how, s := range shown {
		if strings.Contains(s, testSecret) {
			t.Errorf("%s shows the secret: %s", how, s)
		}
		if strings.Contains(s, testKeyID) {
			t.Errorf("%s shows the whole access key id: %s", how, s)
		}
		if how != "Redacted" && !strings.Contains(s, "h1") {
			t.Errorf("%s does not show the hook id: %s", how, s)
		}
	}
	if !strings.Contains(shown["%#v"], "sqshook.Hook{") || !strings.Contains(shown["%#v"], `SQSSecret:"[REDACTED]"`) {
		t.Errorf("%%#v = %s, want Go syntax with the secret redacted", shown["%#v"])
	}
	if !strings.Contains(shown["String()"], "…MPLE") {
		t.Errorf("String() = %s, want the key id's last four characters", shown["String()"])
	}
	// json.Marshal shows the redacted copy; MarshalHooks is the storage
	// format and keeps the secret.
	if js, err := json.Marshal(h); err != nil || bytes.Contains(js, []byte(testSecret)) || !bytes.Contains(js, []byte(`"sqs_secret":"[REDACTED]"`)) {
		t.Errorf("json.Marshal(hook) = %s, %v; want the redacted copy", js, err)
	}
	js, err := sqshook.MarshalHooks([]sqshook.Hook{h})
	if err != nil || !bytes.Contains(js, []byte(testSecret)) {
		t.Errorf("MarshalHooks = %s, %v; want it to keep the secret", js, err)
	}
	back, err := sqshook.ParseHooks(js)
	if err != nil || back[0].SQSSecret != testSecret {
		t.Errorf("MarshalHooks/ParseHooks round trip lost the secret: %v", err)
	}
	if h.SQSSecret != testSecret {
		t.Errorf("Redacted modified the original")
	}
}

func FuzzParseHooks(f *testing.F) {
	f.Add([]byte(`{"event_hooks":[{"enabled":true,"hook_type":"sqs","sqs_queue_url":"https://sqs.us-east-1.amazonaws.com/123456789012/q","sqs_region":"us-east-1","sqs_auth_type":"keys","sqs_key":"AKIAIOSFODNN7EXAMPLE","sqs_secret":"x","event_types":["message.*"]}]}`))
	f.Add([]byte(`[{"enabled":false,"hook_type":"webhook"}]`))
	f.Add([]byte(`[{"enabled":true,"event_types":["", "*", "a.*.b"]}]`))
	f.Add([]byte(`{"event_hooks":null}`))
	f.Add([]byte(`[`))
	f.Add([]byte(`[{"id":"x","enabled":true,"sqs_queue_url":"http://127.0.0.1:1/123456789012/q"}]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		hooks, err := sqshook.ParseHooks(data)
		if err != nil {
			if !errors.Is(err, sqshook.ErrInvalidHook) {
				t.Fatalf("error %v does not wrap ErrInvalidHook", err)
			}
			return
		}
		// Validation never panics, and a marshalled list parses back equal.
		_, _ = sqshook.ValidateHooks(hooks, sqshook.ValidateOptions{Endpoint: "http://127.0.0.1:1"})
		js, err := sqshook.MarshalHooks(hooks)
		if err != nil {
			t.Fatal(err)
		}
		again, err := sqshook.ParseHooks(js)
		if err != nil {
			t.Fatalf("re-parsing %s: %v", js, err)
		}
		if len(again) != len(hooks) {
			t.Fatalf("round trip: %d hooks, want %d", len(again), len(hooks))
		}
		for i := range hooks {
			a, b := hooks[i], again[i]
			if a.ID != b.ID || a.Enabled != b.Enabled || a.SQSQueueURL != b.SQSQueueURL || a.SQSSecret != b.SQSSecret || len(a.EventTypes) != len(b.EventTypes) {
				t.Fatalf("round trip changed hook %d", i)
			}
		}
	})
}

// TestParseHooksFieldNamesAreCaseSensitive: encoding/json would take
// "SQS_SECRET", "ſqs_secret" (long s) or "sqs_\u212aey" (Kelvin sign) for
// the credential fields; Stream's names are exact, so they are refused,
// naming the field, and the value never shows in the error.
func TestParseHooksFieldNamesAreCaseSensitive(t *testing.T) {
	for _, name := range []string{"SQS_SECRET", "\u017fqs_secret", "sqs_\u212aey", "SQS_Region", "Hook_Type"} {
		doc := `[{"id":"h","enabled":true,"hook_type":"sqs","sqs_queue_url":"https://sqs.us-east-1.amazonaws.com/123456789012/q","sqs_region":"us-east-1","sqs_auth_type":"keys","sqs_key":"AKIAIOSFODNN7EXAMPLE","sqs_secret":"x","event_types":[],` +
			strconv.Quote(name) + `:"wJalrXUtnFEMI/K7MDENG+bPxRfiCYzzzSECRET"}]`
		_, err := sqshook.ParseHooks([]byte(doc))
		if err == nil {
			t.Errorf("ParseHooks with field %q: nil error, want one", name)
			continue
		}
		if !strings.Contains(err.Error(), "case-sensitive") || strings.Contains(err.Error(), "K7MDENG") {
			t.Errorf("ParseHooks with field %q: error %q, want it to name the field's spelling and not its value", name, err)
		}
	}
}
