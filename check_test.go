package sqshook_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/faultnet"
	"github.com/sqshook/sqshook/sqstest"
)

// checkSecret is distinctive so that a leak is found wherever it lands.
const (
	checkSecret    = "chkSECRET/9f3b1c+Zq7wLeak-Me-Not"
	checkKeyID     = "AKIACHECKEXAMPLE0001"
	checkQueueAcct = sqstest.AccountID
	// checkServerRole is the server's role in another account than the
	// queues of sqstest.
	checkServerRole = "arn:aws:iam::111122223333:role/ChatServer"
)

// newCheckServer starts an sqstest server that is closed when the test ends.
func newCheckServer(t *testing.T) *sqstest.Server {
	t.Helper()
	srv := sqstest.NewServer()
	t.Cleanup(srv.Close)
	return srv
}

func checkKeysHook(queueURL string) sqshook.Hook {
	return sqshook.Hook{
		ID: "chk", Enabled: true, HookType: "sqs",
		SQSQueueURL: queueURL, SQSRegion: sqstest.Region,
		SQSAuthType: "keys", SQSKey: checkKeyID, SQSSecret: checkSecret,
	}
}

func checkResourceHook(queueURL string) sqshook.Hook {
	return sqshook.Hook{
		ID: "chk", Enabled: true, HookType: "sqs",
		SQSQueueURL: queueURL, SQSRegion: sqstest.Region, SQSAuthType: "resource",
	}
}

// runCheck checks h against srv (the endpoint is srv's unless opts names
// one) and fails the test if the secret shows anywhere in the result.
func runCheck(t *testing.T, srv *sqstest.Server, h sqshook.Hook, opts sqshook.CheckOptions) sqshook.CheckResult {
	t.Helper()
	if opts.Endpoint == "" {
		opts.Endpoint = srv.URL()
	}
	res := sqshook.CheckHook(context.Background(), h, opts)
	assertNoSecret(t, res)
	return res
}

func assertNoSecret(t *testing.T, res sqshook.CheckResult) {
	t.Helper()
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatalf("json.Marshal(result): %v", err)
	}
	if strings.Contains(string(data), checkSecret) {
		t.Errorf("result JSON holds the secret: %s", data)
	}
	if s := fmt.Sprintf("%+v", res); strings.Contains(s, checkSecret) {
		t.Errorf("result %%+v holds the secret: %s", s)
	}
}

// warningWith returns the first warning containing every part, or "".
func warningWith(res sqshook.CheckResult, parts ...string) string {
next:
	for _, w := range res.Warnings {
		for _, p := range parts {
			if !strings.Contains(w, p) {
				continue next
			}
		}
		return w
	}
	return ""
}

const checkRedrive = `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:events-dlq","maxReceiveCount":"5"}`

func TestCheckHookOK(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", map[string]string{
		"MaximumMessageSize": "262144",
		"RedrivePolicy":      checkRedrive,
	})
	res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{})

	if res.Status != sqshook.CheckOK {
		t.Fatalf("status: got %q (error %q), want %q", res.Status, res.Error, sqshook.CheckOK)
	}
	if res.Error != "" || res.Code != "" {
		t.Errorf("error, code: got %q, %q, want empty", res.Error, res.Code)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: got %q, want none", res.Warnings)
	}
	want := sqshook.QueueInfo{
		ARN:                 "arn:aws:sqs:us-east-1:123456789012:events",
		MaximumMessageSize:  262144,
		RedrivePolicy:       checkRedrive,
		DeadLetterTargetARN: "arn:aws:sqs:us-east-1:123456789012:events-dlq",
	}
	if res.Queue != want {
		t.Errorf("queue: got %+v, want %+v", res.Queue, want)
	}
	if res.Duration <= 0 {
		t.Errorf("duration: got %v, want > 0", res.Duration)
	}
	if res.TestMessageID != "" || srv.Count(url) != 0 {
		t.Errorf("test message: got id %q and %d messages, want none without SendTestMessage", res.TestMessageID, srv.Count(url))
	}
	if n := srv.Calls().Calls["GetQueueAttributes"]; n != 1 {
		t.Errorf("GetQueueAttributes calls: got %d, want 1", n)
	}
}

func TestCheckHookQueueInfo(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events.fifo", map[string]string{
		"MaximumMessageSize":        "1048576",
		"ContentBasedDeduplication": "true",
		"KmsMasterKeyId":            "alias/chat-events",
		"SqsManagedSseEnabled":      "true",
		"RedrivePolicy":             checkRedrive,
	})
	res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{CustomGroupIDs: true})
	want := sqshook.QueueInfo{
		ARN:                       "arn:aws:sqs:us-east-1:123456789012:events.fifo",
		FIFO:                      true,
		ContentBasedDeduplication: true,
		MaximumMessageSize:        1048576,
		RedrivePolicy:             checkRedrive,
		DeadLetterTargetARN:       "arn:aws:sqs:us-east-1:123456789012:events-dlq",
		KMSMasterKeyID:            "alias/chat-events",
		SQSManagedSSE:             true,
	}
	if res.Status != sqshook.CheckOK || res.Queue != want {
		t.Errorf("got status %q, queue %+v; want ok, %+v", res.Status, res.Queue, want)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: got %q, want none", res.Warnings)
	}
}

// checkPolicy returns the queue policy JSON of statements for the sqstest
// queue name.
func checkPolicy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func checkAllowStatement(principal, queue string) string {
	return fmt.Sprintf(`{"Effect":"Allow","Principal":{"AWS":%q},"Action":"SQS:SendMessage","Resource":"arn:aws:sqs:us-east-1:123456789012:%s"}`, principal, queue)
}

func TestCheckHookWarnings(t *testing.T) {
	// ResourcePolicy's own output for the server's role, with and without a
	// condition.
	awsURL := "https://sqs.us-east-1.amazonaws.com/123456789012/events"
	allow, err := sqshook.ResourcePolicy(awsURL, checkServerRole, sqshook.ResourcePolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	conditional, err := sqshook.ResourcePolicy(awsURL, checkServerRole, sqshook.ResourcePolicyOptions{PrincipalOrgID: "o-abcdefghij"})
	if err != nil {
		t.Fatal(err)
	}
	marshal := func(p sqshook.PolicyDocument) string {
		b, err := json.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	deny := checkPolicy(
		checkAllowStatement(checkServerRole, "events"),
		`{"Effect":"Deny","Principal":"*","Action":"sqs:*","Resource":"arn:aws:sqs:us-east-1:123456789012:events"}`)
	otherRole := checkPolicy(checkAllowStatement("arn:aws:iam::111122223333:role/SomeoneElse", "events"))
	sso := "arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/ChatServer"

	tests := []struct {
		name     string
		queue    string
		attrs    map[string]string
		resource bool // "resource" auth with Principal checkServerRole
		opts     sqshook.CheckOptions
		want     [][]string // each: parts of one expected warning
		notWant  []string   // no warning may contain these
	}{
		{
			name:  "queue size limit below the hook's",
			attrs: map[string]string{"MaximumMessageSize": "1024"},
			want:  [][]string{{"MaximumMessageSize", "1024", "262144"}},
		},
		{
			name:    "queue size limit equal to a custom hook limit",
			attrs:   map[string]string{"MaximumMessageSize": "1024"},
			opts:    sqshook.CheckOptions{MaxMessageBytes: 1024},
			notWant: []string{"MaximumMessageSize"},
		},
		{
			name:  "queue size limit below a custom hook limit",
			attrs: map[string]string{"MaximumMessageSize": "262144"},
			opts:  sqshook.CheckOptions{MaxMessageBytes: 1048576},
			want:  [][]string{{"MaximumMessageSize", "262144", "1048576"}},
		},
		{
			name:  "no dead-letter queue",
			attrs: map[string]string{"RedrivePolicy": ""},
			want:  [][]string{{"no dead-letter queue", "RedrivePolicy"}},
		},
		{
			name:  "redrive policy without a target",
			attrs: map[string]string{"RedrivePolicy": `{"maxReceiveCount":5}`},
			want:  [][]string{{"deadLetterTargetArn"}},
		},
		{
			name:  "FIFO queue without group ids or strategy",
			queue: "events.fifo",
			opts:  sqshook.CheckOptions{NoGroupStrategy: true},
			want:  [][]string{{"FIFO queue", "Event.GroupID", "dead-lettered"}},
		},
		{
			name:    "FIFO queue with the default group strategy",
			queue:   "events.fifo",
			notWant: []string{"FIFO"},
		},
		{
			name:    "FIFO queue with group ids",
			queue:   "events.fifo",
			opts:    sqshook.CheckOptions{CustomGroupIDs: true, NoGroupStrategy: true},
			notWant: []string{"FIFO"},
		},
		{
			name:     "resource policy allows the server",
			attrs:    map[string]string{"Policy": marshal(allow)},
			resource: true,
			notWant:  []string{"policy"},
		},
		{
			name:     "resource policy denies explicitly",
			attrs:    map[string]string{"Policy": deny},
			resource: true,
			want:     [][]string{{"explicitly denies", checkServerRole, "sqs:SendMessage"}},
		},
		{
			name:     "resource policy allows someone else",
			attrs:    map[string]string{"Policy": otherRole},
			resource: true,
			want:     [][]string{{"does not allow", checkServerRole, "implicit deny", "AccessDenied"}},
		},
		{
			name:     "resource policy with a condition",
			attrs:    map[string]string{"Policy": marshal(conditional)},
			resource: true,
			want:     [][]string{{"cannot decide", checkServerRole, "conditions"}},
		},
		{
			name:     "no resource policy",
			resource: true,
			want:     [][]string{{"no policy", "own account", checkServerRole}},
		},
		{
			name:     "role with a path in the policy is the same role",
			attrs:    map[string]string{"Policy": checkPolicy(checkAllowStatement(sso, "events"))},
			resource: true,
			notWant:  []string{"policy"},
		},
		{
			name:     "AWS managed key and another account",
			attrs:    map[string]string{"Policy": marshal(allow), "KmsMasterKeyId": "alias/aws/sqs"},
			resource: true,
			want:     [][]string{{"aws/sqs", checkServerRole}},
		},
		{
			name:     "customer managed key and another account",
			attrs:    map[string]string{"Policy": marshal(allow), "KmsMasterKeyId": "alias/chat"},
			resource: true,
			want:     [][]string{{"alias/chat", "kms:GenerateDataKey", checkServerRole}},
		},
		{
			name:    "keys auth ignores the policy",
			attrs:   map[string]string{"Policy": deny},
			notWant: []string{"policy"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCheckServer(t)
			queue := tt.queue
			if queue == "" {
				queue = "events"
			}
			attrs := map[string]string{"RedrivePolicy": checkRedrive}
			for k, v := range tt.attrs {
				attrs[k] = v
			}
			url := srv.CreateQueue(queue, attrs)
			h := checkKeysHook(url)
			opts := tt.opts
			if tt.resource {
				h = checkResourceHook(url)
				opts.Client = srv.Client()
				opts.Principal = checkServerRole
				if strings.Contains(tt.name, "path") {
					opts.Principal = "" // discovered from a session of the role
					opts.STS = fakeSTS{arn: "arn:aws:sts::111122223333:assumed-role/ChatServer/i-0abc"}
				}
			}
			res := runCheck(t, srv, h, opts)
			if res.Status != sqshook.CheckOK {
				t.Fatalf("status: got %q (error %q), want ok", res.Status, res.Error)
			}
			for _, parts := range tt.want {
				if warningWith(res, parts...) == "" {
					t.Errorf("warnings: got %q, want one containing %q", res.Warnings, parts)
				}
			}
			for _, s := range tt.notWant {
				if w := warningWith(res, s); w != "" {
					t.Errorf("warnings: got %q, want none containing %q", w, s)
				}
			}
			if len(tt.want) == 0 && len(res.Warnings) != 0 {
				t.Errorf("warnings: got %q, want none", res.Warnings)
			}
			if tt.resource && res.Principal == "" {
				t.Errorf("principal: got %q, want the server's", res.Principal)
			}
		})
	}
}

// checkAPIError is an SQS error as the SDK reports it.
func checkAPIError(code, msg string) error {
	return &smithy.GenericAPIError{Code: code, Message: msg, Fault: smithy.FaultClient}
}

func TestCheckHookErrors(t *testing.T) {
	tests := []struct {
		name      string
		fault     *sqstest.Fault
		deleted   bool // the queue is deleted before the check
		send      bool
		wantError []string
		wantCodes []string // one of these
	}{
		{
			name:      "no such queue",
			deleted:   true,
			wantError: []string{"no such queue", "us-east-1"},
			wantCodes: []string{"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"},
		},
		{
			name:      "access denied for GetQueueAttributes",
			fault:     &sqstest.Fault{Op: "GetQueueAttributes", Code: "AccessDenied"},
			wantError: []string{"access denied for sqs:GetQueueAttributes"},
			wantCodes: []string{"AccessDenied"},
		},
		{
			name:      "access denied for the test message",
			fault:     &sqstest.Fault{Op: "SendMessage", Code: "AccessDenied"},
			send:      true,
			wantError: []string{"access denied for sqs:SendMessage"},
			wantCodes: []string{"AccessDenied"},
		},
		{
			name:      "invalid access key",
			fault:     &sqstest.Fault{Code: "InvalidClientTokenId"},
			wantError: []string{"bad access key or secret", "…0001"},
			wantCodes: []string{"InvalidClientTokenId"},
		},
		{
			name:      "wrong secret",
			fault:     &sqstest.Fault{Code: "SignatureDoesNotMatch", Status: 403},
			wantError: []string{"bad access key or secret"},
			wantCodes: []string{"SignatureDoesNotMatch"},
		},
		{
			name:      "throttled",
			fault:     &sqstest.Fault{Code: "RequestThrottled"},
			wantError: []string{"throttling", "try again"},
			wantCodes: []string{"RequestThrottled"},
		},
		{
			name:      "KMS throttled",
			fault:     &sqstest.Fault{Op: "SendMessage", Code: "KmsThrottled"},
			send:      true,
			wantError: []string{"throttling", "sqs:SendMessage"},
			wantCodes: []string{"KMS.ThrottlingException", "KmsThrottled"},
		},
		{
			name:      "KMS key refuses",
			fault:     &sqstest.Fault{Op: "SendMessage", Code: "KMS.AccessDeniedException"},
			send:      true,
			wantError: []string{"KMS key refused sqs:SendMessage", "kms:GenerateDataKey"},
			wantCodes: []string{"KMS.AccessDeniedException"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCheckServer(t)
			url := srv.CreateQueue("events", map[string]string{"RedrivePolicy": checkRedrive})
			if tt.deleted {
				srv.DeleteQueue(url)
			}
			if tt.fault != nil {
				srv.AddFault(*tt.fault)
			}
			res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{SendTestMessage: tt.send})
			if res.Status != sqshook.CheckError {
				t.Fatalf("status: got %q, want %q", res.Status, sqshook.CheckError)
			}
			for _, s := range tt.wantError {
				if !strings.Contains(res.Error, s) {
					t.Errorf("error: got %q, want it to contain %q", res.Error, s)
				}
			}
			found := false
			for _, c := range tt.wantCodes {
				found = found || res.Code == c
			}
			if !found {
				t.Errorf("code: got %q, want one of %q", res.Code, tt.wantCodes)
			}
			if res.TestMessageID != "" || srv.Count(url) != 0 {
				t.Errorf("test message: got id %q and %d messages, want none", res.TestMessageID, srv.Count(url))
			}
		})
	}
}

func TestCheckHookInvalid(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", nil)
	awsURL := "https://sqs.us-east-1.amazonaws.com/123456789012/events"
	tests := []struct {
		name string
		edit func(h *sqshook.Hook)
		opts sqshook.CheckOptions
		want []string
	}{
		{
			name: "region mismatch",
			edit: func(h *sqshook.Hook) { h.SQSQueueURL, h.SQSRegion = awsURL, "eu-west-1" },
			want: []string{"hook.sqs_region", `"eu-west-1" does not match the queue URL's region "us-east-1"`},
		},
		{
			name: "missing secret",
			edit: func(h *sqshook.Hook) { h.SQSSecret = "" },
			want: []string{"hook.sqs_secret", "required"},
		},
		{
			name: "secret with white space",
			edit: func(h *sqshook.Hook) { h.SQSSecret = checkSecret + " x" },
			want: []string{"hook.sqs_secret", "white space"},
		},
		{
			name: "webhook",
			edit: func(h *sqshook.Hook) { h.HookType = "webhook" },
			want: []string{"hook.hook_type", "webhook"},
		},
		{
			name: "http URL on a real AWS endpoint",
			edit: func(h *sqshook.Hook) {},
			opts: sqshook.CheckOptions{Endpoint: "https://sqs.us-east-1.amazonaws.com"},
			want: []string{"hook.sqs_queue_url"},
		},
		{
			name: "message size limit above SQS's",
			edit: func(h *sqshook.Hook) {},
			opts: sqshook.CheckOptions{MaxMessageBytes: 2 << 20},
			want: []string{"options.max_message_bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := checkKeysHook(url)
			tt.edit(&h)
			before := srv.Calls().Calls["GetQueueAttributes"]
			res := runCheck(t, srv, h, tt.opts)
			if res.Status != sqshook.CheckError {
				t.Fatalf("status: got %q, want %q", res.Status, sqshook.CheckError)
			}
			if !strings.HasPrefix(res.Error, "invalid hook: ") {
				t.Errorf("error: got %q, want it to start with %q", res.Error, "invalid hook: ")
			}
			for _, s := range tt.want {
				if !strings.Contains(res.Error, s) {
					t.Errorf("error: got %q, want it to contain %q", res.Error, s)
				}
			}
			if after := srv.Calls().Calls["GetQueueAttributes"]; after != before {
				t.Errorf("GetQueueAttributes calls: got %d, want none for an invalid hook", after-before)
			}
		})
	}
}

func TestCheckHookSendsTestMessage(t *testing.T) {
	for _, queue := range []string{"events", "events.fifo"} {
		t.Run(queue, func(t *testing.T) {
			srv := newCheckServer(t)
			url := srv.CreateQueue(queue, map[string]string{"RedrivePolicy": checkRedrive})
			res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{SendTestMessage: true, CustomGroupIDs: true})
			if res.Status != sqshook.CheckOK {
				t.Fatalf("status: got %q (error %q), want ok", res.Status, res.Error)
			}
			got := srv.Received(url)
			if len(got) != 1 {
				t.Fatalf("messages received: got %d, want 1", len(got))
			}
			m := got[0]
			if res.TestMessageID == "" || m.MessageID != res.TestMessageID {
				t.Errorf("test message id: got %q, want the queue's %q", res.TestMessageID, m.MessageID)
			}
			var body struct {
				Type string `json:"type"`
				ID   string `json:"id"`
			}
			if err := json.Unmarshal([]byte(m.Body), &body); err != nil {
				t.Fatalf("body %q: %v", m.Body, err)
			}
			if body.Type != sqshook.TestEventType {
				t.Errorf("body type: got %q, want %q", body.Type, sqshook.TestEventType)
			}
			if a := m.Attributes[sqshook.AttrEventType]; a.StringValue != sqshook.TestEventType {
				t.Errorf("attribute %s: got %q, want %q", sqshook.AttrEventType, a.StringValue, sqshook.TestEventType)
			}
			if a := m.Attributes[sqshook.AttrEventID]; a.StringValue == "" || a.StringValue != body.ID {
				t.Errorf("attribute %s: got %q, want the body's id %q", sqshook.AttrEventID, a.StringValue, body.ID)
			}
			if strings.HasSuffix(queue, ".fifo") && (m.GroupID == "" || m.DedupID == "") {
				t.Errorf("FIFO fields: got group %q, dedup %q, want both set", m.GroupID, m.DedupID)
			}
		})
	}
}

func TestCheckHookResourceAuthWithSendOnlyPolicy(t *testing.T) {
	// A queue policy that grants only sqs:SendMessage to another account
	// denies GetQueueAttributes: the test message decides.
	tests := []struct {
		name       string
		send       bool
		sendDenied bool
		wantStatus sqshook.CheckStatus
		want       []string // in Error (status error) or in a warning (ok)
	}{
		{name: "test message accepted", send: true, wantStatus: sqshook.CheckOK,
			want: []string{"cannot read the queue's attributes"}},
		{name: "test message refused", send: true, sendDenied: true, wantStatus: sqshook.CheckError,
			want: []string{"access denied for sqs:SendMessage", "must allow " + checkServerRole}},
		{name: "no test message", wantStatus: sqshook.CheckError,
			want: []string{"access denied for sqs:GetQueueAttributes", "must allow " + checkServerRole, "test message"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := newCheckServer(t)
			url := srv.CreateQueue("events", nil)
			srv.AddFault(sqstest.Fault{Op: "GetQueueAttributes", Code: "AccessDenied"})
			if tt.sendDenied {
				srv.AddFault(sqstest.Fault{Op: "SendMessage", Code: "AccessDenied"})
			}
			res := runCheck(t, srv, checkResourceHook(url), sqshook.CheckOptions{
				Client:          srv.Client(),
				SendTestMessage: tt.send,
				STS:             fakeSTS{arn: "arn:aws:sts::111122223333:assumed-role/ChatServer/i-0abc"},
			})
			if res.Status != tt.wantStatus {
				t.Fatalf("status: got %q (error %q), want %q", res.Status, res.Error, tt.wantStatus)
			}
			for _, s := range tt.want {
				if tt.wantStatus == sqshook.CheckOK && warningWith(res, s) == "" {
					t.Errorf("warnings: got %q, want one containing %q", res.Warnings, s)
				}
				if tt.wantStatus == sqshook.CheckError && !strings.Contains(res.Error, s) {
					t.Errorf("error: got %q, want it to contain %q", res.Error, s)
				}
			}
			wantMessages := 0
			if tt.wantStatus == sqshook.CheckOK {
				wantMessages = 1
			}
			if n := srv.Count(url); n != wantMessages || (wantMessages == 1) != (res.TestMessageID != "") {
				t.Errorf("test message: got %d messages, id %q; want %d", n, res.TestMessageID, wantMessages)
			}
			if res.Principal != checkServerRole {
				t.Errorf("principal: got %q, want %q", res.Principal, checkServerRole)
			}
		})
	}
}

// fakeSTS answers GetCallerIdentity with arn, or with err.
type fakeSTS struct {
	arn   string
	err   error
	calls *int
}

func (f fakeSTS) GetCallerIdentity(ctx context.Context, _ *sts.GetCallerIdentityInput, _ ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	if f.calls != nil {
		*f.calls++
	}
	if f.err != nil {
		return nil, f.err
	}
	out := &sts.GetCallerIdentityOutput{Account: aws.String("111122223333")}
	if f.arn != "" {
		out.Arn = aws.String(f.arn)
	}
	return out, nil
}

func TestCheckHookDiscoversPrincipal(t *testing.T) {
	srv := newCheckServer(t)
	policy := checkPolicy(checkAllowStatement(checkServerRole, "events"))
	url := srv.CreateQueue("events", map[string]string{"RedrivePolicy": checkRedrive, "Policy": policy})

	tests := []struct {
		name          string
		sts           fakeSTS
		principal     string
		wantPrincipal string
		wantWarning   []string
		wantCalls     int
	}{
		{name: "assumed role", sts: fakeSTS{arn: "arn:aws:sts::111122223333:assumed-role/ChatServer/pod-7"},
			wantPrincipal: checkServerRole, wantCalls: 1},
		{name: "another role", sts: fakeSTS{arn: "arn:aws:sts::111122223333:assumed-role/Batch/pod-7"},
			wantPrincipal: "arn:aws:iam::111122223333:role/Batch", wantWarning: []string{"implicit deny"}, wantCalls: 1},
		{name: "discovery fails", sts: fakeSTS{err: errors.New("no EC2 IMDS role found")},
			wantWarning: []string{"cannot discover", "the server's own AWS credentials are not available", "CheckOptions.Principal"}, wantCalls: 1},
		{name: "federated user", sts: fakeSTS{arn: "arn:aws:sts::111122223333:federated-user/bob"},
			wantPrincipal: "arn:aws:sts::111122223333:federated-user/bob", wantWarning: []string{"federated user", "test message"}, wantCalls: 1},
		{name: "principal given", sts: fakeSTS{arn: "arn:aws:sts::111122223333:assumed-role/Batch/pod-7"},
			principal: checkServerRole, wantPrincipal: checkServerRole, wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			tt.sts.calls = &calls
			res := runCheck(t, srv, checkResourceHook(url), sqshook.CheckOptions{
				Client: srv.Client(), STS: tt.sts, Principal: tt.principal,
			})
			if res.Status != sqshook.CheckOK {
				t.Fatalf("status: got %q (error %q), want ok", res.Status, res.Error)
			}
			if res.Principal != tt.wantPrincipal {
				t.Errorf("principal: got %q, want %q", res.Principal, tt.wantPrincipal)
			}
			if calls != tt.wantCalls {
				t.Errorf("GetCallerIdentity calls: got %d, want %d", calls, tt.wantCalls)
			}
			if len(tt.wantWarning) == 0 && len(res.Warnings) != 0 {
				t.Errorf("warnings: got %q, want none", res.Warnings)
			}
			if len(tt.wantWarning) > 0 && warningWith(res, tt.wantWarning...) == "" {
				t.Errorf("warnings: got %q, want one containing %q", res.Warnings, tt.wantWarning)
			}
		})
	}
}

// leakySQS fails every call with an error whose text holds the secret, as
// a careless proxy or a future SDK might.
type leakySQS struct{ err error }

func (l leakySQS) SendMessageBatch(context.Context, *sqs.SendMessageBatchInput, ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	return nil, l.err
}

func (l leakySQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, l.err
}

func (l leakySQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return nil, l.err
}

func TestCheckHookNeverShowsTheSecret(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", map[string]string{"MaximumMessageSize": "1024"})
	tests := []struct {
		name string
		err  error
		want string // in Error
		// shown: Error repeats the message (a code without a category, or
		// an error of no known kind), so the secret shows as [REDACTED];
		// else the message is not shown at all.
		shown bool
	}{
		{"API error message", checkAPIError("AccessDenied", "credential "+checkSecret+" refused"), "access denied", false},
		{"unknown API error", checkAPIError("Weird", "secret="+checkSecret), "Weird", true},
		{"other error", fmt.Errorf("signing with %s: broken", checkSecret), "broken", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{Client: leakySQS{tt.err}})
			if res.Status != sqshook.CheckError || !strings.Contains(res.Error, tt.want) {
				t.Errorf("got status %q, error %q; want error containing %q", res.Status, res.Error, tt.want)
			}
			if shown := strings.Contains(res.Error, "[REDACTED]"); shown != tt.shown {
				t.Errorf("error: got %q; want the message shown with the secret replaced by [REDACTED]: %v", res.Error, tt.shown)
			}
		})
	}
	t.Run("every check of a real queue", func(t *testing.T) {
		for _, send := range []bool{false, true} {
			res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{SendTestMessage: send})
			if res.Status != sqshook.CheckOK {
				t.Errorf("status: got %q (error %q), want ok", res.Status, res.Error)
			}
		}
	})
}

func TestCheckHookNetworkError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	endpoint := "http://" + addr
	h := checkKeysHook(endpoint + "/123456789012/events")
	res := sqshook.CheckHook(context.Background(), h, sqshook.CheckOptions{Endpoint: endpoint, Timeout: 5 * time.Second})
	assertNoSecret(t, res)
	if res.Status != sqshook.CheckError {
		t.Fatalf("status: got %q, want %q", res.Status, sqshook.CheckError)
	}
	// The category, not the address the server dialled.
	if !strings.HasPrefix(res.Error, "network: connection refused") || strings.Contains(res.Error, addr) {
		t.Errorf("error: got %q, want %q without %s", res.Error, "network: connection refused …", addr)
	}
	if res.Code != "" {
		t.Errorf("code: got %q, want none for a network error", res.Code)
	}
}

func TestCheckHookTimeout(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", nil)
	srv.AddFault(sqstest.Fault{Op: "GetQueueAttributes", Latency: time.Minute})
	start := time.Now()
	res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{Timeout: 50 * time.Millisecond})
	if res.Status != sqshook.CheckError || !strings.HasPrefix(res.Error, "timed out") {
		t.Errorf("got status %q, error %q; want error %q", res.Status, res.Error, "timed out…")
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("check took %v, want it bounded by its timeout", d)
	}
}

func TestDispatcherCheck(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", map[string]string{"MaximumMessageSize": "1024", "RedrivePolicy": checkRedrive})
	enabled := checkKeysHook(url)
	enabled.ID = "on"
	disabled := checkKeysHook(url)
	disabled.ID, disabled.Enabled = "off", false
	d, err := sqshook.New([]sqshook.Hook{enabled, disabled},
		sqshook.WithEndpoint(srv.URL()), sqshook.WithMaxMessageBytes(2048))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	ctx := context.Background()

	tests := []struct {
		id   string
		want [][]string
	}{
		// The dispatcher's own limit (2048), not the default, is compared.
		{"on", [][]string{{"1024", "2048"}}},
		{"off", [][]string{{"1024", "2048"}, {"disabled"}}},
	}
	for _, tt := range tests {
		res, err := d.Check(ctx, tt.id, sqshook.CheckOptions{SendTestMessage: true})
		if err != nil {
			t.Fatalf("Check(%q): %v", tt.id, err)
		}
		assertNoSecret(t, res)
		if res.Status != sqshook.CheckOK || res.TestMessageID == "" {
			t.Errorf("Check(%q): got status %q (error %q), test message %q; want ok with a test message", tt.id, res.Status, res.Error, res.TestMessageID)
		}
		for _, parts := range tt.want {
			if warningWith(res, parts...) == "" {
				t.Errorf("Check(%q) warnings: got %q, want one containing %q", tt.id, res.Warnings, parts)
			}
		}
		if len(res.Warnings) != len(tt.want) {
			t.Errorf("Check(%q) warnings: got %q, want %d", tt.id, res.Warnings, len(tt.want))
		}
	}
	if n := srv.Count(url); n != 2 {
		t.Errorf("messages received: got %d, want 2 test messages", n)
	}

	res, err := d.Check(ctx, "nope", sqshook.CheckOptions{})
	if !errors.Is(err, sqshook.ErrUnknownHook) || !strings.Contains(fmt.Sprint(err), `"nope"`) {
		t.Errorf("Check(unknown): got %v, want an error wrapping ErrUnknownHook naming the id", err)
	}
	if res.Status != "" {
		t.Errorf("Check(unknown): got status %q, want an empty result", res.Status)
	}
}

// countingClient counts the GetQueueAttributes calls made through it.
type countingClient struct {
	sqshook.SQSAPI
	attrs *int
}

func (c countingClient) GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, opts ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	*c.attrs++
	return c.SQSAPI.GetQueueAttributes(ctx, in, opts...)
}

func TestDispatcherCheckUsesItsClient(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", map[string]string{"RedrivePolicy": checkRedrive})
	enabled := checkKeysHook(url)
	enabled.ID = "on"
	disabled := checkKeysHook(url)
	disabled.ID, disabled.Enabled = "off", false
	built, attrs := 0, 0
	client := countingClient{SQSAPI: srv.Client(), attrs: &attrs}
	d, err := sqshook.New([]sqshook.Hook{enabled, disabled},
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithClientFunc(func(_ context.Context, h sqshook.Hook) (sqshook.SQSAPI, error) {
			built++
			if h.ID == "off" {
				return nil, errors.New("no client for disabled hooks")
			}
			return client, nil
		}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer d.Close(context.Background())

	res, err := d.Check(context.Background(), "on", sqshook.CheckOptions{})
	if err != nil || res.Status != sqshook.CheckOK {
		t.Fatalf("Check(on): got %q (error %q), %v; want ok", res.Status, res.Error, err)
	}
	if built != 1 || attrs != 1 {
		t.Errorf("Check(on): got %d clients built and %d GetQueueAttributes calls through the dispatcher's client, want 1 and 1", built, attrs)
	}
	res, err = d.Check(context.Background(), "off", sqshook.CheckOptions{})
	if err != nil || res.Status != sqshook.CheckError || !strings.Contains(res.Error, "cannot build the SQS client: no client for disabled hooks") {
		t.Errorf("Check(off): got %q (error %q), %v; want an error naming the client failure", res.Status, res.Error, err)
	}
}

// TestDispatcherCheckDiscoversPrincipal runs the real STS client of a
// dispatcher's pool against a local GetCallerIdentity endpoint.
func TestDispatcherCheckDiscoversPrincipal(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", map[string]string{
		"RedrivePolicy": checkRedrive,
		"Policy":        checkPolicy(checkAllowStatement(checkServerRole, "events")),
	})
	var stsCalls atomic.Int32
	stsSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		stsCalls.Add(1)
		if err := r.ParseForm(); err != nil || r.Form.Get("Action") != "GetCallerIdentity" {
			http.Error(w, "want Action=GetCallerIdentity", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/xml")
		fmt.Fprint(w, `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>`+
			`<Arn>arn:aws:sts::111122223333:assumed-role/ChatServer/pod-7</Arn><UserId>AROAEXAMPLE:pod-7</UserId><Account>111122223333</Account>`+
			`</GetCallerIdentityResult><ResponseMetadata><RequestId>1</RequestId></ResponseMetadata></GetCallerIdentityResponse>`)
	}))
	defer stsSrv.Close()
	serverConfig := func(context.Context) (aws.Config, error) {
		return aws.Config{
			BaseEndpoint: aws.String(stsSrv.URL), // SQS calls go to WithEndpoint's
			Credentials:  credentials.NewStaticCredentialsProvider("AKIASERVEREXAMPLE001", "server-secret", ""),
		}, nil
	}
	d, err := sqshook.New([]sqshook.Hook{checkResourceHook(url)},
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithClientOptions(sqshook.ClientOptions{LoadDefaultConfig: serverConfig}))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer d.Close(context.Background())

	res, err := d.Check(context.Background(), "chk", sqshook.CheckOptions{})
	if err != nil || res.Status != sqshook.CheckOK {
		t.Fatalf("Check: got %q (error %q), %v; want ok", res.Status, res.Error, err)
	}
	if res.Principal != checkServerRole || stsCalls.Load() != 1 {
		t.Errorf("principal: got %q after %d STS calls, want %q after 1", res.Principal, stsCalls.Load(), checkServerRole)
	}
	if len(res.Warnings) != 0 {
		t.Errorf("warnings: got %q, want none (the policy allows the discovered role)", res.Warnings)
	}
}

func TestDispatcherCheckAfterClose(t *testing.T) {
	srv := newCheckServer(t)
	url := srv.CreateQueue("events", nil)
	d, err := sqshook.New([]sqshook.Hook{checkKeysHook(url)}, sqshook.WithEndpoint(srv.URL()))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := d.Check(context.Background(), "chk", sqshook.CheckOptions{}); !errors.Is(err, sqshook.ErrClosed) {
		t.Errorf("Check after Close: got %v, want ErrClosed", err)
	}
}

func TestPrincipalFromARN(t *testing.T) {
	tests := []struct {
		in, want string
		wantErr  string // part of the error; "" for success
	}{
		{in: "arn:aws:sts::123456789012:assumed-role/ChatServer/i-0abc", want: "arn:aws:iam::123456789012:role/ChatServer"},
		{in: "arn:aws-cn:sts::123456789012:assumed-role/ChatServer/s", want: "arn:aws-cn:iam::123456789012:role/ChatServer"},
		{in: "arn:aws-us-gov:sts::123456789012:assumed-role/R+=,.@_-/botocore-session-1", want: "arn:aws-us-gov:iam::123456789012:role/R+=,.@_-"},
		{in: "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123/alice@example.com", want: "arn:aws:iam::123456789012:role/AWSReservedSSO_Admin_0123"},
		{in: "arn:aws:iam::123456789012:user/alice", want: "arn:aws:iam::123456789012:user/alice"},
		{in: "arn:aws:iam::123456789012:user/division/alice", want: "arn:aws:iam::123456789012:user/division/alice"},
		{in: "arn:aws:iam::123456789012:root", want: "arn:aws:iam::123456789012:root"},
		{in: "arn:aws:iam::123456789012:role/service/Chat", want: "arn:aws:iam::123456789012:role/service/Chat"},
		{in: "arn:aws:sts::123456789012:federated-user/bob", want: "arn:aws:sts::123456789012:federated-user/bob"},
		{in: "", wantErr: "not an ARN"},
		{in: "123456789012", wantErr: "not an ARN"},
		{in: "arn:aws:sts::123456789012:assumed-role/ChatServer", wantErr: "assumed-role/<role>/<session>"},
		{in: "arn:aws:sts::123456789012:assumed-role/ChatServer/", wantErr: "assumed-role/<role>/<session>"},
		{in: "arn:aws:sts::123456789012:assumed-role//s", wantErr: "role name"},
		{in: "arn:aws:sts::123456789012:federated-user/", wantErr: "federated-user/<name>"},
		{in: "arn:aws:sts::12345:assumed-role/R/s", wantErr: "account ID"},
		{in: "arn:moon:sts::123456789012:assumed-role/R/s", wantErr: "partition"},
		{in: "arn:aws:sts:us-east-1:123456789012:assumed-role/R/s", wantErr: "no region"},
		{in: "arn:aws:s3::123456789012:bucket", wantErr: "neither iam nor sts"},
		{in: "arn:aws:iam::123456789012:group/admins", wantErr: "not root, user"},
		{in: "arn:aws:sts::123456789012:user/alice", wantErr: "neither assumed-role"},
	}
	for _, tt := range tests {
		got, err := sqshook.PrincipalFromARN(tt.in)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("PrincipalFromARN(%q): got error %v, want %q", tt.in, err, tt.want)
		case tt.wantErr == "" && got != tt.want:
			t.Errorf("PrincipalFromARN(%q): got %q, want %q", tt.in, got, tt.want)
		case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, sqshook.ErrInvalidPolicy)):
			t.Errorf("PrincipalFromARN(%q): got %q, %v; want an ErrInvalidPolicy error containing %q", tt.in, got, err, tt.wantErr)
		}
	}
}

func TestDiscoverPrincipal(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name    string
		sts     fakeSTS
		want    string
		wantErr error  // errors.Is target
		wantMsg string // part of the error
	}{
		{name: "assumed role", sts: fakeSTS{arn: "arn:aws:sts::111122223333:assumed-role/ChatServer/pod-7"}, want: checkServerRole},
		{name: "user", sts: fakeSTS{arn: "arn:aws:iam::111122223333:user/chat"}, want: "arn:aws:iam::111122223333:user/chat"},
		{name: "STS fails", sts: fakeSTS{err: boom}, wantErr: boom, wantMsg: "sts:GetCallerIdentity"},
		{name: "no ARN", sts: fakeSTS{}, wantMsg: "no ARN"},
		{name: "odd ARN", sts: fakeSTS{arn: "arn:aws:s3:::bucket"}, wantErr: sqshook.ErrInvalidPolicy, wantMsg: "bucket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sqshook.DiscoverPrincipal(context.Background(), tt.sts)
			if tt.wantMsg == "" {
				if err != nil || got != tt.want {
					t.Errorf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantMsg) || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Errorf("got %q, %v; want an error containing %q (and wrapping %v)", got, err, tt.wantMsg, tt.wantErr)
			}
		})
	}
}

// checkLog is a check's log as text, written by any goroutine.
type checkLog struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *checkLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *checkLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func (l *checkLog) logger() *slog.Logger { return slog.New(slog.NewTextHandler(l, nil)) }

// unresolvedClient is an SQS client for an endpoint whose name does not
// resolve (a DNS server of the test's own answers NXDOMAIN); with proxy
// set it sends through that HTTP proxy instead.
func unresolvedClient(t *testing.T, proxy string) *sqs.Client {
	return sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String("https://nosuchhost.invalid"), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(checkKeyID, checkSecret, ""),
		HTTPClient:  faultnet.HTTPClient(t, proxy),
	})
}

// TestCheckHookHidesAWSDetail: what AWS or the network says about a failed
// check (the caller's IAM identity and the queue's ARN with their account
// ids, the server's proxy and resolver, its credential setup) is logged,
// not shown: the result names the category and the SQS code, and what the
// customer must fix.
func TestCheckHookHidesAWSDetail(t *testing.T) {
	const awsQueue = "https://sqs.us-east-1.amazonaws.com/123456789012/events"
	// forbidden never shows in a result; the queue's own ARN and the
	// principal the policy must allow are shown on purpose.
	forbidden := []string{"111122223333", "444455556666", "185583345998", "assumed-role", "chat-server", "i-0abc", "customer-queue",
		"nosuchhost", "lookup", "proxyconnect", "dial tcp", "no such host", ":53", "IMDS", "EC2", "get identity",
		"cached credentials", "AWS_", "profile", "sqshook-missing-profile"}
	resultShows := func(t *testing.T, res sqshook.CheckResult, more ...string) {
		t.Helper()
		res.Duration = 0 // a number: "duration":536261 would show ":53"
		js, err := json.Marshal(res)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range append(forbidden, more...) {
			if strings.Contains(string(js), f) {
				t.Errorf("the result shows %q: %s", f, js)
			}
		}
	}
	logShows := func(t *testing.T, log *checkLog, want ...string) {
		t.Helper()
		for _, w := range want {
			if !strings.Contains(log.String(), w) {
				t.Errorf("the log does not show %q:\n%s", w, log)
			}
		}
		if strings.Contains(log.String(), checkSecret) {
			t.Errorf("the log shows the hook's secret:\n%s", log)
		}
	}

	t.Run("access denied", func(t *testing.T) {
		srv := newCheckServer(t)
		url := srv.CreateQueue("events", nil)
		srv.AddFault(sqstest.Fault{Op: "GetQueueAttributes", Code: "AccessDenied", Message: strings.ReplaceAll(deniedMessage, "sendmessage", "getqueueattributes")})
		srv.AddFault(sqstest.Fault{Op: "SendMessage", Code: "AccessDenied", Message: deniedMessage})
		for _, send := range []bool{false, true} {
			var log checkLog
			res := runCheck(t, srv, checkKeysHook(url), sqshook.CheckOptions{SendTestMessage: send, Logger: log.logger()})
			action := "sqs:GetQueueAttributes"
			if send {
				action = "sqs:SendMessage" // the attributes are not needed when the message is accepted
			}
			want := "access denied for " + action + " on " + url + " (AccessDenied): the IAM policy of access key …0001 and the queue policy must allow it"
			if res.Status != sqshook.CheckError || res.Code != "AccessDenied" || res.Error != want {
				t.Errorf("send %v: status %q, code %q, error %q; want error, AccessDenied, %q", send, res.Status, res.Code, res.Error, want)
			}
			resultShows(t, res, "arn:")
			logShows(t, &log, "arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc", "arn:aws:sqs:us-east-1:444455556666:customer-queue")
		}

		// "resource" auth: the server's principal is what the queue policy
		// must name, so it is shown; the identity in AWS's message is not.
		var log checkLog
		const principal = "arn:aws:iam::999988887777:role/ChatServer"
		res := runCheck(t, srv, checkResourceHook(url), sqshook.CheckOptions{Client: srv.Client(), Principal: principal, Logger: log.logger()})
		if res.Code != "AccessDenied" || !strings.Contains(res.Error, "the queue policy must allow "+principal) {
			t.Errorf("resource auth: code %q, error %q; want AccessDenied naming the principal the policy must allow", res.Code, res.Error)
		}
		resultShows(t, res)
		logShows(t, &log, "arn:aws:sts::111122223333:assumed-role/chat-server/i-0abc")
	})

	t.Run("proxy refuses", func(t *testing.T) {
		proxy := faultnet.RefusedAddr(t)
		var log checkLog
		res := sqshook.CheckHook(context.Background(), checkKeysHook(awsQueue), sqshook.CheckOptions{
			Endpoint: "https://nosuchhost.invalid", Client: unresolvedClient(t, proxy), Logger: log.logger(), Timeout: 10 * time.Second,
		})
		if want := "network: connection refused (calling sqs:GetQueueAttributes)"; res.Error != want || res.Code != "" {
			t.Errorf("error %q, code %q; want %q", res.Error, res.Code, want)
		}
		resultShows(t, res, proxy, "127.0.0.1")
		logShows(t, &log, "proxyconnect", proxy)
	})

	t.Run("name not resolved", func(t *testing.T) {
		var log checkLog
		res := sqshook.CheckHook(context.Background(), checkKeysHook(awsQueue), sqshook.CheckOptions{
			Endpoint: "https://nosuchhost.invalid", Client: unresolvedClient(t, ""), Logger: log.logger(), Timeout: 10 * time.Second,
		})
		if want := "network: name not resolved (calling sqs:GetQueueAttributes)"; res.Error != want || res.Code != "" {
			t.Errorf("error %q, code %q; want %q", res.Error, res.Code, want)
		}
		resultShows(t, res)
		logShows(t, &log, "lookup nosuchhost.invalid", "no such host")
	})

	// The server's own credentials, for "resource" hooks: what the SDK's
	// chain says about the server's setup is logged only.
	serverEnv := func(t *testing.T) {
		dir := t.TempDir()
		for k, v := range map[string]string{
			"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_SESSION_TOKEN": "", "AWS_PROFILE": "", "AWS_DEFAULT_PROFILE": "",
			"AWS_CONFIG_FILE": filepath.Join(dir, "config"), "AWS_SHARED_CREDENTIALS_FILE": filepath.Join(dir, "credentials"),
			"AWS_WEB_IDENTITY_TOKEN_FILE": "", "AWS_ROLE_ARN": "", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "",
			"AWS_CONTAINER_CREDENTIALS_FULL_URI": "", "AWS_EC2_METADATA_DISABLED": "true", "AWS_REGION": "us-east-1",
		} {
			t.Setenv(k, v)
		}
	}
	t.Run("no credentials for the server", func(t *testing.T) {
		serverEnv(t)
		srv := newCheckServer(t)
		var log checkLog
		res := runCheck(t, srv, checkResourceHook(srv.CreateQueue("events", nil)), sqshook.CheckOptions{Principal: checkServerRole, Logger: log.logger()})
		if want := "the server's own AWS credentials are not available (calling sqs:GetQueueAttributes)"; res.Error != want {
			t.Errorf("error %q; want %q", res.Error, want)
		}
		resultShows(t, res)
		logShows(t, &log, "EC2 IMDS")
	})
	t.Run("the server's profile does not exist", func(t *testing.T) {
		serverEnv(t)
		t.Setenv("AWS_PROFILE", "sqshook-missing-profile")
		srv := newCheckServer(t)
		var log checkLog
		res := runCheck(t, srv, checkResourceHook(srv.CreateQueue("events", nil)), sqshook.CheckOptions{Principal: checkServerRole, Logger: log.logger()})
		if want := "cannot build the SQS client: the server's own AWS credentials are not available"; res.Error != want {
			t.Errorf("error %q; want %q", res.Error, want)
		}
		resultShows(t, res)
		logShows(t, &log, "sqshook-missing-profile")
	})
}

// TestDispatcherCheckHidesSTSDetail: a refused AssumeRole names the
// server's identity in STS's message; the result says what the role's
// trust policy must allow, and the dispatcher's log gets the message.
func TestDispatcherCheckHidesSTSDetail(t *testing.T) {
	e := newRoleEnv(t)
	var log checkLog
	d := e.dispatcher(t, []sqshook.Hook{e.roleHook("a", "checked")}, sqshook.WithExternalID("tenant-b-0000"), sqshook.WithLogger(log.logger()))
	res, err := d.Check(context.Background(), "a", sqshook.CheckOptions{Timeout: 10 * time.Second})
	if err != nil || res.Code != "AccessDenied" || res.Step != sqshook.StepAssumeRole || !strings.Contains(res.Error, "trust policy must allow") {
		t.Fatalf("check with a wrong ExternalId: %v %+v", err, res)
	}
	for _, f := range []string{"185583345998", "chat-server", "is not authorized"} {
		if strings.Contains(res.Error, f) {
			t.Errorf("error shows %q: %s", f, res.Error)
		}
	}
	if !strings.Contains(log.String(), serverPrincipal) || !strings.Contains(log.String(), "hook check failed") {
		t.Errorf("the dispatcher's log does not show STS's message:\n%s", log.String())
	}
}
