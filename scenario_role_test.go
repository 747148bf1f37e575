package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// The server's own identity and the customers' roles on the fake AWS.
const (
	serverKey       = "AKIASERVERIDENTITY01"
	serverPrincipal = "arn:aws:iam::185583345998:role/chat-server"
	tenantRole      = "arn:aws:iam::" + sqstest.AccountID + ":role/sqshook-sender"
	tenantID        = "tenant-a-7f3c9e"
)

// roleEnv is a sqstest server with STS: the server identity, and a role in
// the queue's account that trusts it with tenantID as ExternalId.
type roleEnv struct {
	srv *sqstest.Server
	dls *deadLetters
}

func newRoleEnv(t *testing.T, srvOpts ...sqstest.Option) *roleEnv {
	t.Helper()
	srv := sqstest.NewServer(srvOpts...)
	t.Cleanup(srv.Close)
	srv.AddIdentity(serverKey, serverPrincipal)
	srv.AddRole(sqstest.Role{ARN: tenantRole, TrustedPrincipals: []string{serverPrincipal}, ExternalID: tenantID})
	return &roleEnv{srv: srv, dls: &deadLetters{}}
}

func (e *roleEnv) clientOptions() sqshook.ClientOptions {
	return sqshook.ClientOptions{
		STSEndpoint: e.srv.URL(),
		LoadDefaultConfig: func(context.Context) (aws.Config, error) {
			return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(serverKey, "server-secret", "")}, nil
		},
	}
}

func (e *roleEnv) roleHook(id, queue string) sqshook.Hook {
	return sqshook.Hook{
		ID: id, Enabled: true, HookType: "sqs", SQSQueueURL: e.srv.CreateQueue(queue, nil),
		SQSRegion: "us-east-1", SQSAuthType: sqshook.AuthRole, SQSRoleARN: tenantRole,
	}
}

func (e *roleEnv) dispatcher(t *testing.T, hooks []sqshook.Hook, opts ...sqshook.Option) *sqshook.Dispatcher {
	t.Helper()
	base := []sqshook.Option{
		sqshook.WithEndpoint(e.srv.URL()),
		sqshook.WithClientOptions(e.clientOptions()),
		sqshook.WithDeadLetter(e.dls.add),
		sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithLinger(time.Millisecond),
	}
	return startDispatcher(t, hooks, append(base, opts...)...)
}

func publishN(t *testing.T, d *sqshook.Dispatcher, n int) {
	t.Helper()
	ctx := context.Background()
	for i := 0; i < n; i++ {
		if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(fmt.Sprintf(`{"n":%d}`, i))}); err != nil {
			t.Fatalf("Publish: %v", err)
		}
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func TestRoleAuthSendsWithTheRolesCredentials(t *testing.T) {
	e := newRoleEnv(t)
	a, b := e.roleHook("a", "tenant-a-1"), e.roleHook("b", "tenant-a-2")
	d := e.dispatcher(t, []sqshook.Hook{a, b}, sqshook.WithExternalID(tenantID))
	publishN(t, d, 60)
	if dls := e.dls.list(); len(dls) > 0 {
		t.Fatalf("dead letter: %s %s %s", dls[0].Reason, dls[0].Code, dls[0].Message)
	}
	for _, h := range []sqshook.Hook{a, b} {
		if n := e.srv.Count(h.SQSQueueURL); n != 60 {
			t.Errorf("%s: %d messages, want 60", h.ID, n)
		}
	}
	calls := e.srv.AssumeRoleCalls()
	if len(calls) != 1 {
		t.Fatalf("%d AssumeRole calls, want 1 shared by both hooks: %+v", len(calls), calls)
	}
	c := calls[0]
	if c.RoleARN != tenantRole || c.ExternalID != tenantID || c.Caller != serverPrincipal || c.Err != "" {
		t.Errorf("AssumeRole call %+v", c)
	}
	if want := sqshook.RoleSessionName(tenantID); c.SessionName != want || !strings.HasPrefix(want, "sqshook-"+tenantID+"-") {
		t.Errorf("session name %q, want %q", c.SessionName, want)
	}
	// Every send was signed with the role's credentials, none with the
	// server's own.
	for key, n := range e.srv.AccessKeys() {
		principal, _ := e.srv.Identity(key)
		if key != c.AccessKeyID || !strings.Contains(principal, ":assumed-role/sqshook-sender/") {
			t.Errorf("%d sends signed by %q (%s), want only the assumed role's key %s", n, key, principal, c.AccessKeyID)
		}
	}
	if len(e.srv.AccessKeys()) == 0 {
		t.Errorf("no signed sends recorded")
	}
}

func TestRoleAuthWrongExternalIDIsRejected(t *testing.T) {
	e := newRoleEnv(t)
	h := e.roleHook("a", "tenant-b-queue")
	d := e.dispatcher(t, []sqshook.Hook{h}, sqshook.WithExternalID("tenant-b-0000"))
	publishN(t, d, 3)
	dls := e.dls.list()
	if len(dls) != 3 {
		t.Fatalf("%d dead letters, want 3", len(dls))
	}
	for _, dl := range dls {
		if dl.Reason != sqshook.ReasonRejected || dl.Code != "AccessDenied" {
			t.Errorf("dead letter %s %s, want rejected AccessDenied", dl.Reason, dl.Code)
		}
		for _, want := range []string{"assuming role " + tenantRole, "trust policy", `sts:ExternalId "tenant-b-0000"`} {
			if !strings.Contains(dl.Message, want) {
				t.Errorf("dead letter message %q does not mention %q", dl.Message, want)
			}
		}
	}
	if n := e.srv.Count(h.SQSQueueURL); n != 0 {
		t.Errorf("%d messages reached the queue", n)
	}
	if st, _ := d.Stats().Hook("a"); st.Retries != 0 {
		t.Errorf("%d retries of a permanent refusal", st.Retries)
	}
}

func TestRoleAuthSTSThrottlingIsRetried(t *testing.T) {
	e := newRoleEnv(t)
	e.srv.AddFault(sqstest.Fault{Op: "AssumeRole", Code: "Throttling", Times: 2})
	h := e.roleHook("a", "q")
	d := e.dispatcher(t, []sqshook.Hook{h}, sqshook.WithExternalID(tenantID))
	publishN(t, d, 5)
	if dls := e.dls.list(); len(dls) > 0 {
		t.Fatalf("dead letter: %s %s %s", dls[0].Reason, dls[0].Code, dls[0].Message)
	}
	if n := e.srv.Count(h.SQSQueueURL); n != 5 {
		t.Errorf("%d messages, want 5", n)
	}
	if calls := e.srv.AssumeRoleCalls(); len(calls) != 3 || calls[0].Err != "Throttling" || calls[2].Err != "" {
		t.Errorf("AssumeRole calls %+v, want two throttled then one success", calls)
	}
}

// Credentials that expire during a run are renewed before they expire: no
// call is refused. The server's clock runs 15 minutes minus 3 seconds
// behind, so the role's 15-minute credentials expire 3 real seconds after
// they are issued, and the fake SQS refuses them from then on.
func TestRoleAuthRenewsExpiringCredentials(t *testing.T) {
	skew := -15*time.Minute + 3*time.Second
	e := newRoleEnv(t, sqstest.WithClock(func() time.Time { return time.Now().Add(skew) }))
	h := e.roleHook("a", "q")
	co := e.clientOptions()
	co.RoleExpiryWindow = time.Second
	d := e.dispatcher(t, []sqshook.Hook{h}, sqshook.WithExternalID(tenantID), sqshook.WithClientOptions(co))
	ctx := context.Background()
	deadline := time.Now().Add(5 * time.Second)
	n := 0
	for time.Now().Before(deadline) {
		if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		n++
		time.Sleep(20 * time.Millisecond)
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if dls := e.dls.list(); len(dls) > 0 {
		t.Fatalf("dead letter: %s %s %s", dls[0].Reason, dls[0].Code, dls[0].Message)
	}
	st, _ := d.Stats().Hook("a")
	if st.Retries != 0 || st.LastErrorCode != "" {
		t.Errorf("%d retries, last error %s %s: a call went out with expired credentials", st.Retries, st.LastErrorCode, st.LastErrorMessage)
	}
	if got := e.srv.Count(h.SQSQueueURL); got != n {
		t.Errorf("%d messages, want %d", got, n)
	}
	// About one renewal every 2 s; one per call would mean no caching.
	if calls := e.srv.AssumeRoleCalls(); len(calls) < 2 || len(calls) > 10 {
		t.Errorf("%d AssumeRole calls in 5 s with 3-second credentials renewed 1 s early, want 2 to 10", len(calls))
	}
}

func TestRoleAuthValidation(t *testing.T) {
	base := sqshook.Hook{
		ID: "h", Enabled: true, HookType: "sqs",
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/events", SQSRegion: "us-east-1",
		SQSAuthType: "role", SQSRoleARN: "arn:aws:iam::123456789012:role/path/sqshook-sender",
	}
	ext := func(id string) func(sqshook.Hook) string { return func(sqshook.Hook) string { return id } }
	cases := []struct {
		name string
		edit func(*sqshook.Hook)
		opts sqshook.ValidateOptions
		want string // "" : valid
	}{
		{"valid", nil, sqshook.ValidateOptions{ExternalID: ext(tenantID)}, ""},
		{"no ExternalId configured", nil, sqshook.ValidateOptions{}, `hooks[0].sqs_auth_type: "role" needs the ExternalId the server assigns`},
		{"empty ExternalId", nil, sqshook.ValidateOptions{ExternalID: ext("")}, `hooks[0].sqs_auth_type: "role" needs the ExternalId`},
		{"bad ExternalId", nil, sqshook.ValidateOptions{ExternalID: ext("has space")}, "hooks[0].external_id: the server's ExternalId"},
		{"missing role", func(h *sqshook.Hook) { h.SQSRoleARN = "" }, sqshook.ValidateOptions{ExternalID: ext(tenantID)}, `hooks[0].sqs_role_arn: required when sqs_auth_type is "role"`},
		{"user, not role", func(h *sqshook.Hook) { h.SQSRoleARN = "arn:aws:iam::123456789012:user/bob" }, sqshook.ValidateOptions{ExternalID: ext(tenantID)}, "hooks[0].sqs_role_arn: must be an IAM role ARN"},
		{"short account", func(h *sqshook.Hook) { h.SQSRoleARN = "arn:aws:iam::1234:role/x" }, sqshook.ValidateOptions{ExternalID: ext(tenantID)}, "hooks[0].sqs_role_arn: must be an IAM role ARN"},
		{"other partition", func(h *sqshook.Hook) { h.SQSRoleARN = "arn:aws-cn:iam::123456789012:role/x" }, sqshook.ValidateOptions{ExternalID: ext(tenantID)}, `hooks[0].sqs_role_arn: is in partition "aws-cn" but the queue is in partition "aws"`},
		{"keys with role", func(h *sqshook.Hook) { h.SQSKey, h.SQSSecret = "AKIAIOSFODNN7EXAMPLE", "s3cr3t" }, sqshook.ValidateOptions{ExternalID: ext(tenantID)}, `hooks[0].sqs_key: must be empty when sqs_auth_type is "role"`},
		{"role ARN on a resource hook", func(h *sqshook.Hook) { h.SQSAuthType = "resource" }, sqshook.ValidateOptions{}, `hooks[0].sqs_role_arn: must be empty unless sqs_auth_type is "role"`},
		{"resource refused in role-only mode", func(h *sqshook.Hook) { h.SQSAuthType, h.SQSRoleARN = "resource", "" }, sqshook.ValidateOptions{RoleAuthOnly: true}, `hooks[0].sqs_auth_type: "resource" is not allowed here`},
		{"resource allowed otherwise", func(h *sqshook.Hook) { h.SQSAuthType, h.SQSRoleARN = "resource", "" }, sqshook.ValidateOptions{}, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := base
			if c.edit != nil {
				c.edit(&h)
			}
			_, err := sqshook.ValidateHooks([]sqshook.Hook{h}, c.opts)
			switch {
			case c.want == "" && err != nil:
				t.Errorf("unexpected error: %v", err)
			case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
				t.Errorf("error %v, want one containing %q", err, c.want)
			case c.want != "" && !errors.Is(err, sqshook.ErrInvalidHook):
				t.Errorf("error %v does not wrap ErrInvalidHook", err)
			}
		})
	}
	// New applies the dispatcher's options.
	if _, err := sqshook.New([]sqshook.Hook{base}); err == nil || !strings.Contains(err.Error(), "WithExternalID") {
		t.Errorf("New without WithExternalID: %v", err)
	}
	res := base
	res.SQSAuthType, res.SQSRoleARN = "resource", ""
	if _, err := sqshook.New([]sqshook.Hook{res}, sqshook.WithRoleAuthOnly()); err == nil {
		t.Errorf("New with WithRoleAuthOnly accepted a resource hook")
	}
}

func TestParseHooksRefusesExternalID(t *testing.T) {
	for _, field := range []string{"sqs_external_id", "external_id"} {
		doc := `[{"enabled":true,"hook_type":"sqs","sqs_queue_url":"https://sqs.us-east-1.amazonaws.com/123456789012/q",
			"sqs_region":"us-east-1","sqs_auth_type":"role","sqs_role_arn":"arn:aws:iam::123456789012:role/r","` + field + `":"other-tenant"}]`
		_, err := sqshook.ParseHooks([]byte(doc))
		if err == nil || !strings.Contains(err.Error(), "hooks[0]."+field+": not accepted") {
			t.Errorf("%s: error %v, want it refused", field, err)
		}
	}
	hooks, err := sqshook.ParseHooks([]byte(`[{"enabled":true,"hook_type":"sqs","sqs_queue_url":"https://sqs.us-east-1.amazonaws.com/123456789012/q",
		"sqs_region":"us-east-1","sqs_auth_type":"role","sqs_role_arn":"arn:aws:iam::123456789012:role/r"}]`))
	if err != nil || hooks[0].SQSRoleARN != "arn:aws:iam::123456789012:role/r" {
		t.Errorf("ParseHooks: %v, %+v", err, hooks)
	}
}

func TestCheckRoleHook(t *testing.T) {
	e := newRoleEnv(t)
	h := e.roleHook("a", "checked")
	ctx := context.Background()
	opts := sqshook.CheckOptions{SendTestMessage: true, Timeout: 10 * time.Second}

	good := e.dispatcher(t, []sqshook.Hook{h}, sqshook.WithExternalID(tenantID))
	res, err := good.Check(ctx, "a", opts)
	if err != nil || res.Status != sqshook.CheckOK || res.Step != "" || res.TestMessageID == "" {
		t.Errorf("check with the right ExternalId: %v %+v", err, res)
	}

	bad := e.dispatcher(t, []sqshook.Hook{h}, sqshook.WithExternalID("tenant-b-0000"))
	res, err = bad.Check(ctx, "a", opts)
	if err != nil || res.Status != sqshook.CheckError || res.Step != sqshook.StepAssumeRole || res.Code != "AccessDenied" {
		t.Fatalf("check with a wrong ExternalId: %v %+v", err, res)
	}
	for _, want := range []string{"cannot assume role " + tenantRole, "trust policy", `sts:ExternalId "tenant-b-0000"`} {
		if !strings.Contains(res.Error, want) {
			t.Errorf("error %q does not mention %q", res.Error, want)
		}
	}

	// A "resource" hook in a multi-tenant dispatcher gets the cross-tenant
	// warning; in a single-tenant one it does not.
	rh := sqshook.Hook{ID: "r", Enabled: true, HookType: "sqs", SQSQueueURL: e.srv.CreateQueue("res", nil), SQSRegion: "us-east-1", SQSAuthType: "resource"}
	for _, multi := range []bool{true, false} {
		var extra []sqshook.Option
		if multi {
			extra = append(extra, sqshook.WithMultiTenant())
		}
		d := e.dispatcher(t, []sqshook.Hook{rh}, extra...)
		res, err := d.Check(ctx, "r", sqshook.CheckOptions{Timeout: 10 * time.Second})
		if err != nil {
			t.Fatal(err)
		}
		warned := strings.Contains(strings.Join(res.Warnings, "\n"), "multi-tenant")
		if warned != multi {
			t.Errorf("multi-tenant %v: warnings %q", multi, res.Warnings)
		}
	}
}
