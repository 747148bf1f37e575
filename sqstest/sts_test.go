package sqstest_test

import (
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/sqshook/sqshook/sqstest"
)

const (
	aliceKey  = "AKIAALICEEXAMPLE0001"
	aliceARN  = "arn:aws:iam::111122223333:user/alice"
	bobKey    = "AKIABOBEXAMPLE000001"
	bobARN    = "arn:aws:iam::444455556666:user/bob"
	senderARN = "arn:aws:iam::123456789012:role/sender"
	extID     = "sqshook-ext-42"
)

// stsTestClock is a settable clock for WithClock.
type stsTestClock struct {
	mu  sync.Mutex
	now time.Time
}

// newSTSTestClock returns a clock set a day ahead of the real one, in whole
// seconds: credentials it issues are unexpired for the SDK too.
func newSTSTestClock() *stsTestClock {
	return &stsTestClock{now: time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)}
}

func (c *stsTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *stsTestClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newSTSServer starts a server with alice and bob as identities and the
// sender role, trusted by alice with extID.
func newSTSServer(t *testing.T, opts ...sqstest.Option) *sqstest.Server {
	t.Helper()
	s := sqstest.NewServer(opts...)
	t.Cleanup(s.Close)
	s.AddIdentity(aliceKey, aliceARN)
	s.AddIdentity(bobKey, bobARN)
	s.AddRole(sqstest.Role{ARN: senderARN, TrustedPrincipals: []string{aliceARN}, ExternalID: extID})
	return s
}

// stsClient returns an STS client of the server signing with the static
// credentials of key; retries are off unless optFns turn them on.
func stsClient(s *sqstest.Server, key string, optFns ...func(*sts.Options)) *sts.Client {
	return stsClientWith(s, credentials.NewStaticCredentialsProvider(key, "secret-of-"+key, ""), optFns...)
}

func stsClientWith(s *sqstest.Server, creds aws.CredentialsProvider, optFns ...func(*sts.Options)) *sts.Client {
	cfg := aws.Config{
		Region:           sqstest.Region,
		Credentials:      creds,
		HTTPClient:       s.HTTPClient(),
		Retryer:          func() aws.Retryer { return aws.NopRetryer{} },
		RetryMaxAttempts: 1,
	}
	return sts.NewFromConfig(cfg, append([]func(*sts.Options){func(o *sts.Options) {
		o.BaseEndpoint = aws.String(s.URL())
	}}, optFns...)...)
}

// assumeRoleCreds returns stscreds credentials for the sender role, assumed
// by key with the external id ext (nil: none), in a credentials cache.
func assumeRoleCreds(s *sqstest.Server, key string, ext *string, optFns ...func(*stscreds.AssumeRoleOptions)) *aws.CredentialsCache {
	p := stscreds.NewAssumeRoleProvider(stsClient(s, key), senderARN, append([]func(*stscreds.AssumeRoleOptions){func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = ext
		o.RoleSessionName = "sqshook"
	}}, optFns...)...)
	return aws.NewCredentialsCache(p)
}

// wantAPIError checks that err is an API error with code and HTTP status.
func wantAPIError(t *testing.T, err error, code string, status int) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error = %v, want API error %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Errorf("error code = %q (%v), want %q", ae.ErrorCode(), err, code)
	}
	var re *awshttp.ResponseError
	if !errors.As(err, &re) {
		t.Errorf("error %v carries no HTTP response", err)
	} else if re.HTTPStatusCode() != status {
		t.Errorf("HTTP status = %d, want %d", re.HTTPStatusCode(), status)
	}
	return ae
}

func TestSTSAssumeRoleWithExternalID(t *testing.T) {
	clock := newSTSTestClock()
	s := newSTSServer(t, sqstest.WithClock(clock.Now))
	q := s.CreateQueue("events", nil)

	cache := assumeRoleCreds(s, aliceKey, aws.String(extID))
	creds, err := cache.Retrieve(t.Context())
	if err != nil {
		t.Fatalf("Retrieve: %v", err)
	}
	if !strings.HasPrefix(creds.AccessKeyID, "ASIA") || len(creds.AccessKeyID) != 20 {
		t.Errorf("AccessKeyID = %q, want ASIA… of 20 characters", creds.AccessKeyID)
	}
	if len(creds.SecretAccessKey) != 40 || creds.SessionToken == "" {
		t.Errorf("secret %q (%d chars), token %q: want 40 chars and a token", creds.SecretAccessKey, len(creds.SecretAccessKey), creds.SessionToken)
	}
	if want := clock.Now().Add(stscreds.DefaultDuration); !creds.CanExpire || !creds.Expires.Equal(want) {
		t.Errorf("Expires = %v (CanExpire %v), want %v", creds.Expires, creds.CanExpire, want)
	}
	if creds.AccountID != "123456789012" {
		t.Errorf("AccountID = %q, want the role's account", creds.AccountID)
	}
	// The cache keeps the credentials: no second call.
	if again, err := cache.Retrieve(t.Context()); err != nil || again.AccessKeyID != creds.AccessKeyID {
		t.Errorf("second Retrieve = %v, %v; want the cached credentials", again.AccessKeyID, err)
	}

	// Who is who.
	const assumedARN = "arn:aws:sts::123456789012:assumed-role/sender/sqshook"
	base, err := stsClient(s, aliceKey).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity (alice): %v", err)
	}
	if aws.ToString(base.Arn) != aliceARN || aws.ToString(base.Account) != "111122223333" || !strings.HasPrefix(aws.ToString(base.UserId), "AIDA") {
		t.Errorf("alice = %v %v %v", aws.ToString(base.Arn), aws.ToString(base.Account), aws.ToString(base.UserId))
	}
	assumed, err := stsClientWith(s, cache).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity (assumed): %v", err)
	}
	uid := aws.ToString(assumed.UserId)
	if aws.ToString(assumed.Arn) != assumedARN || aws.ToString(assumed.Account) != "123456789012" || !strings.HasPrefix(uid, "AROA") || !strings.HasSuffix(uid, ":sqshook") {
		t.Errorf("assumed = %v %v %v", aws.ToString(assumed.Arn), aws.ToString(assumed.Account), uid)
	}
	// UserIds are stable: the same again from a second server.
	s2 := newSTSServer(t)
	base2, err := stsClient(s2, aliceKey).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(base2.UserId) != aws.ToString(base.UserId) {
		t.Errorf("UserId on another server = %v, %v; want %v", aws.ToString(base2.UserId), err, aws.ToString(base.UserId))
	}

	// SQS sends are counted by the key that signed them.
	sqsc := s.Client(func(o *sqs.Options) { o.Credentials = cache })
	if _, err := sqsc.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("hi")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if _, err := s.Client().SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("hi")}); err != nil {
		t.Fatalf("SendMessage: %v", err)
	}
	if _, err := sqsc.GetQueueAttributes(t.Context(), &sqs.GetQueueAttributesInput{QueueUrl: &q}); err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	keys := s.AccessKeys()
	if keys[creds.AccessKeyID] != 1 || keys["AKIASQSTESTEXAMPLE00"] != 1 || len(keys) != 2 {
		t.Errorf("AccessKeys = %v, want one send each by %s and the default key", keys, creds.AccessKeyID)
	}
	if p, ok := s.Identity(creds.AccessKeyID); !ok || p != assumedARN {
		t.Errorf("Identity(%s) = %q, %v; want %s", creds.AccessKeyID, p, ok, assumedARN)
	}
	if p, ok := s.Identity("AKIASQSTESTEXAMPLE00"); ok {
		t.Errorf("Identity of an unregistered key = %q, want none", p)
	}

	calls := s.AssumeRoleCalls()
	if len(calls) != 1 {
		t.Fatalf("AssumeRoleCalls = %+v, want 1", calls)
	}
	want := sqstest.AssumeRoleCall{
		RoleARN: senderARN, SessionName: "sqshook", ExternalID: extID, Duration: stscreds.DefaultDuration,
		CallerKey: aliceKey, Caller: aliceARN, Time: clock.Now(),
		AccessKeyID: creds.AccessKeyID, Expiration: creds.Expires,
	}
	if calls[0] != want {
		t.Errorf("call = %+v\nwant   %+v", calls[0], want)
	}
	if n := s.Calls().Calls["AssumeRole"]; n != 1 {
		t.Errorf("Calls[AssumeRole] = %d, want 1", n)
	}

	s.Reset()
	if len(s.AssumeRoleCalls()) != 0 || len(s.AccessKeys()) != 0 {
		t.Errorf("after Reset: %v calls, keys %v", len(s.AssumeRoleCalls()), s.AccessKeys())
	}
	if _, ok := s.Identity(creds.AccessKeyID); !ok {
		t.Error("Reset forgot the issued credentials")
	}
}

func TestSTSAccessDenied(t *testing.T) {
	s := newSTSServer(t)
	s.AddRole(sqstest.Role{ARN: "arn:aws:iam::123456789012:role/open", TrustedPrincipals: []string{"111122223333"}})
	for _, tc := range []struct {
		name, key, role string
		ext             *string
		wantOK          bool
	}{
		{"right external id", aliceKey, senderARN, aws.String(extID), true},
		{"wrong external id", aliceKey, senderARN, aws.String("other-id"), false},
		{"missing external id", aliceKey, senderARN, nil, false},
		{"untrusted caller", bobKey, senderARN, aws.String(extID), false},
		{"unknown role", aliceKey, "arn:aws:iam::123456789012:role/nope", aws.String(extID), false},
		{"account trusted, no condition", aliceKey, "arn:aws:iam::123456789012:role/open", nil, true},
		{"account trusted, extra external id", aliceKey, "arn:aws:iam::123456789012:role/open", aws.String("whatever"), true},
		{"other account", bobKey, "arn:aws:iam::123456789012:role/open", nil, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := len(s.AssumeRoleCalls())
			p := stscreds.NewAssumeRoleProvider(stsClient(s, tc.key), tc.role, func(o *stscreds.AssumeRoleOptions) { o.ExternalID = tc.ext })
			_, err := aws.NewCredentialsCache(p).Retrieve(t.Context())
			calls := s.AssumeRoleCalls()
			if len(calls) != before+1 {
				t.Fatalf("%d calls recorded, want 1", len(calls)-before)
			}
			last := calls[len(calls)-1]
			if tc.wantOK {
				if err != nil || last.Err != "" || last.AccessKeyID == "" {
					t.Fatalf("err = %v, record %+v; want success", err, last)
				}
				return
			}
			ae := wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
			msg := "User: " + map[string]string{aliceKey: aliceARN, bobKey: bobARN}[tc.key] + " is not authorized to perform: sts:AssumeRole on resource: " + tc.role
			if ae.ErrorMessage() != msg {
				t.Errorf("message = %q\nwant      %q", ae.ErrorMessage(), msg)
			}
			if last.Err != "AccessDenied" || last.AccessKeyID != "" || last.RoleARN != tc.role {
				t.Errorf("record = %+v", last)
			}
		})
	}
}

func TestSTSValidation(t *testing.T) {
	s := newSTSServer(t)
	client := stsClient(s, aliceKey)
	for _, tc := range []struct {
		name    string
		in      sts.AssumeRoleInput
		message string // a part of the message
	}{
		{"session name too short", sts.AssumeRoleInput{RoleSessionName: aws.String("a")}, "Value 'a' at 'roleSessionName' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{"session name with space", sts.AssumeRoleInput{RoleSessionName: aws.String("my session")}, `Member must satisfy regular expression pattern: [\w+=,.@-]*`},
		{"session name too long", sts.AssumeRoleInput{RoleSessionName: aws.String(strings.Repeat("s", 65))}, "less than or equal to 64"},
		{"session name with colon", sts.AssumeRoleInput{RoleSessionName: aws.String("a:b")}, "roleSessionName"},
		{"external id too short", sts.AssumeRoleInput{ExternalId: aws.String("x")}, "Value 'x' at 'externalId'"},
		{"external id with #", sts.AssumeRoleInput{ExternalId: aws.String("bad#id")}, `pattern: [\w+=,.@:/-]*`},
		{"external id too long", sts.AssumeRoleInput{ExternalId: aws.String(strings.Repeat("e", 1225))}, "less than or equal to 1224"},
		{"duration too short", sts.AssumeRoleInput{DurationSeconds: aws.Int32(60)}, "greater than or equal to 900"},
		{"duration over the role's maximum", sts.AssumeRoleInput{DurationSeconds: aws.Int32(7200)}, "exceeds the MaxSessionDuration set for this role"},
		{"two problems", sts.AssumeRoleInput{RoleSessionName: aws.String("a b"), ExternalId: aws.String("?")}, "3 validation errors detected: "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			in := tc.in
			if in.RoleSessionName == nil {
				in.RoleSessionName = aws.String("ok-session")
			}
			if in.ExternalId == nil {
				in.ExternalId = aws.String(extID)
			}
			in.RoleArn = aws.String(senderARN)
			_, err := client.AssumeRole(t.Context(), &in)
			ae := wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
			if !strings.Contains(ae.ErrorMessage(), tc.message) {
				t.Errorf("message = %q, want it to contain %q", ae.ErrorMessage(), tc.message)
			}
		})
	}
	// The accepted characters.
	out, err := client.AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(senderARN), RoleSessionName: aws.String("Ab_1+=,.@-"), ExternalId: aws.String(extID),
	})
	if err != nil {
		t.Fatalf("AssumeRole with a valid odd session name: %v", err)
	}
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != "arn:aws:sts::123456789012:assumed-role/sender/Ab_1+=,.@-" {
		t.Errorf("assumed role ARN = %q", got)
	}
	s.AddRole(sqstest.Role{ARN: "arn:aws:iam::123456789012:role/ext", TrustedPrincipals: []string{aliceARN}, ExternalID: "a:b/c=d,e.f@g-h+i_j"})
	if _, err := client.AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::123456789012:role/ext"), RoleSessionName: aws.String("s1"), ExternalId: aws.String("a:b/c=d,e.f@g-h+i_j"),
	}); err != nil {
		t.Errorf("AssumeRole with a valid odd external id: %v", err)
	}
}

func TestSTSUnknownCaller(t *testing.T) {
	s := newSTSServer(t)
	client := stsClient(s, "AKIAUNKNOWNEXAMPLE01")
	_, err := client.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	_, err = client.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(senderARN), RoleSessionName: aws.String("s"), ExternalId: aws.String(extID)})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
	if calls := s.AssumeRoleCalls(); len(calls) != 1 || calls[0].Err != "InvalidClientTokenId" || calls[0].Caller != "" || calls[0].CallerKey != "AKIAUNKNOWNEXAMPLE01" {
		t.Errorf("calls = %+v", calls)
	}
	_, err = stsClientWith(s, aws.AnonymousCredentials{}).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "MissingAuthenticationToken", http.StatusForbidden)
}

func TestSTSExpiration(t *testing.T) {
	clock := newSTSTestClock()
	s := newSTSServer(t, sqstest.WithClock(clock.Now))
	s.AddRole(sqstest.Role{ARN: "arn:aws:iam::123456789012:role/short", TrustedPrincipals: []string{aliceARN}, Duration: 20 * time.Minute})
	s.AddRole(sqstest.Role{ARN: "arn:aws:iam::123456789012:role/long", TrustedPrincipals: []string{aliceARN}, MaxSessionDuration: 4 * time.Hour})
	client := stsClient(s, aliceKey)
	for _, tc := range []struct {
		role     string
		asked    int32
		lifetime time.Duration
	}{
		{senderARN, 0, time.Hour}, // the default
		{senderARN, 900, 15 * time.Minute},
		{senderARN, 3600, time.Hour},
		{"arn:aws:iam::123456789012:role/short", 0, 20 * time.Minute},
		{"arn:aws:iam::123456789012:role/long", 4 * 3600, 4 * time.Hour},
	} {
		in := &sts.AssumeRoleInput{RoleArn: aws.String(tc.role), RoleSessionName: aws.String("exp"), ExternalId: aws.String(extID)}
		if tc.asked != 0 {
			in.DurationSeconds = aws.Int32(tc.asked)
		}
		out, err := client.AssumeRole(t.Context(), in)
		if err != nil {
			t.Fatalf("%s for %ds: %v", tc.role, tc.asked, err)
		}
		if got, want := aws.ToTime(out.Credentials.Expiration), clock.Now().Add(tc.lifetime); !got.Equal(want) {
			t.Errorf("%s for %ds: Expiration = %v, want %v", tc.role, tc.asked, got, want)
		}
	}

	// Credentials of 15 minutes (stscreds' default) work until they expire
	// by the server's clock.
	assumed := stsClientWith(s, assumeRoleCreds(s, aliceKey, aws.String(extID)))
	if _, err := assumed.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity with fresh credentials: %v", err)
	}
	clock.Advance(14*time.Minute + 59*time.Second)
	if _, err := assumed.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("GetCallerIdentity a second before expiry: %v", err)
	}
	clock.Advance(time.Second)
	_, err := assumed.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "ExpiredToken", http.StatusBadRequest)

	// An issued key with a wrong session token is refused.
	calls := s.AssumeRoleCalls()
	forged := credentials.NewStaticCredentialsProvider(calls[len(calls)-1].AccessKeyID, "x", "not-the-token")
	_, err = stsClientWith(s, forged).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InvalidClientTokenId", http.StatusForbidden)
}

// TestSTSExpirationDrivesRefresh checks that the SDK reads the Expiration the
// server sends: credentials about to expire (by the real clock) are fetched
// again, others are not.
func TestSTSExpirationDrivesRefresh(t *testing.T) {
	var skew time.Duration
	var mu sync.Mutex
	s := newSTSServer(t, sqstest.WithClock(func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		return time.Now().Add(skew)
	}))
	retrieve := func(cache *aws.CredentialsCache) {
		t.Helper()
		if _, err := cache.Retrieve(t.Context()); err != nil {
			t.Fatalf("Retrieve: %v", err)
		}
	}

	cache := assumeRoleCreds(s, aliceKey, aws.String(extID))
	retrieve(cache)
	retrieve(cache)
	if n := len(s.AssumeRoleCalls()); n != 1 {
		t.Fatalf("fresh credentials: %d AssumeRole calls, want 1", n)
	}

	// Issued 14 minutes "ago": 15-minute credentials expire in a minute,
	// inside the cache's 5-minute expiry window.
	mu.Lock()
	skew = -14 * time.Minute
	mu.Unlock()
	cache = aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClient(s, aliceKey), senderARN, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String(extID)
	}), func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = 5 * time.Minute })
	retrieve(cache)
	retrieve(cache)
	if n := len(s.AssumeRoleCalls()); n != 3 {
		t.Fatalf("nearly expired credentials: %d AssumeRole calls in all, want 3", n)
	}
}

func TestSTSRoleChaining(t *testing.T) {
	s := newSTSServer(t)
	const nextARN = "arn:aws:iam::123456789012:role/next"
	s.AddRole(sqstest.Role{ARN: nextARN, TrustedPrincipals: []string{senderARN}, MaxSessionDuration: 4 * time.Hour})
	first := assumeRoleCreds(s, aliceKey, aws.String(extID))
	second := aws.NewCredentialsCache(stscreds.NewAssumeRoleProvider(stsClientWith(s, first), nextARN, func(o *stscreds.AssumeRoleOptions) {
		o.RoleSessionName = "chained"
	}))
	out, err := stsClientWith(s, second).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity through a role chain: %v", err)
	}
	if got := aws.ToString(out.Arn); got != "arn:aws:sts::123456789012:assumed-role/next/chained" {
		t.Errorf("Arn = %q", got)
	}
	calls := s.AssumeRoleCalls()
	if len(calls) != 2 || calls[1].Caller != "arn:aws:sts::123456789012:assumed-role/sender/sqshook" {
		t.Errorf("calls = %+v", calls)
	}
	// Alice herself is not trusted by next, and chained sessions get at
	// most an hour.
	_, err = stsClient(s, aliceKey).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(nextARN), RoleSessionName: aws.String("direct")})
	wantAPIError(t, err, "AccessDenied", http.StatusForbidden)
	_, err = stsClientWith(s, first).AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String(nextARN), RoleSessionName: aws.String("long"), DurationSeconds: aws.Int32(7200)})
	wantAPIError(t, err, "ValidationError", http.StatusBadRequest)
}

func TestSTSFaults(t *testing.T) {
	s := newSTSServer(t)
	in := &sts.AssumeRoleInput{RoleArn: aws.String(senderARN), RoleSessionName: aws.String("faults"), ExternalId: aws.String(extID)}

	// Throttling, without retries.
	s.AddFault(sqstest.Fault{Op: "AssumeRole", Code: "Throttling", Times: 1})
	_, err := stsClient(s, aliceKey).AssumeRole(t.Context(), in)
	ae := wantAPIError(t, err, "Throttling", http.StatusBadRequest)
	if ae.ErrorMessage() != "Rate exceeded" {
		t.Errorf("message = %q", ae.ErrorMessage())
	}

	// Throttling then success, with the SDK's standard retries (no backoff).
	s.AddFault(sqstest.Fault{Op: "AssumeRole", Code: "Throttling", Times: 2})
	retrying := stsClient(s, aliceKey, func(o *sts.Options) {
		o.RetryMaxAttempts = 0 // else New caps the retryer at the config's one attempt
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.Backoff = retry.BackoffDelayerFunc(func(int, error) (time.Duration, error) { return 0, nil })
		})
	})
	p := stscreds.NewAssumeRoleProvider(retrying, senderARN, func(o *stscreds.AssumeRoleOptions) { o.ExternalID = aws.String(extID) })
	if _, err := aws.NewCredentialsCache(p).Retrieve(t.Context()); err != nil {
		t.Fatalf("Retrieve with retries: %v", err)
	}
	var errs []string
	for _, c := range s.AssumeRoleCalls() {
		errs = append(errs, c.Err)
	}
	if got := strings.Join(errs, ","); got != "Throttling,Throttling,Throttling," {
		t.Errorf("call outcomes = %q, want three throttled then a success", got)
	}

	// A 500.
	s.AddFault(sqstest.Fault{Op: "GetCallerIdentity", Code: "InternalError", Times: 1})
	_, err = stsClient(s, aliceKey).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	wantAPIError(t, err, "InternalError", http.StatusInternalServerError)

	// A rule for every operation (Op "") is for SQS; STS is not affected,
	// nor by an SQS outage.
	remove := s.AddFault(sqstest.Fault{Code: "ServiceUnavailable"})
	s.SetOutage(true)
	if _, err := stsClient(s, aliceKey).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Errorf("GetCallerIdentity with an SQS-wide fault and outage: %v", err)
	}
	remove()
	s.SetOutage(false)

	// Dropped connections.
	s.AddFault(sqstest.Fault{Op: "AssumeRole", Drop: sqstest.DropBeforeProcessing, Times: 1})
	_, err = stsClient(s, aliceKey).AssumeRole(t.Context(), in)
	var ae2 smithy.APIError
	if err == nil || errors.As(err, &ae2) {
		t.Errorf("dropped AssumeRole: err = %v, want a transport error", err)
	}
	calls := s.AssumeRoleCalls()
	if last := calls[len(calls)-1]; last.Err != "DropBeforeProcessing" || last.AccessKeyID != "" {
		t.Errorf("record of a dropped call = %+v", last)
	}

	// Dropped after processing: credentials were issued, the client never
	// got them.
	s.AddFault(sqstest.Fault{Op: "AssumeRole", Drop: sqstest.DropAfterProcessing, Times: 1})
	if _, err = stsClient(s, aliceKey).AssumeRole(t.Context(), in); err == nil || errors.As(err, &ae2) {
		t.Errorf("AssumeRole dropped after processing: err = %v, want a transport error", err)
	}
	calls = s.AssumeRoleCalls()
	if last := calls[len(calls)-1]; last.Err != "" || last.AccessKeyID == "" {
		t.Errorf("record of a call dropped after processing = %+v", last)
	} else if _, ok := s.Identity(last.AccessKeyID); !ok {
		t.Errorf("credentials issued by a call dropped after processing are unknown")
	}

	st := s.Calls()
	if st.Calls["AssumeRole"] != 6 || st.Calls["GetCallerIdentity"] != 2 || st.Injected["Throttling"] != 3 || st.Injected["InternalError"] != 1 {
		t.Errorf("Calls = %+v", st)
	}
}

// TestSTSRouting checks that only STS calls go to STS: SQS calls, form-encoded
// or not, still reach SQS, and unknown STS actions are answered as STS does.
func TestSTSRouting(t *testing.T) {
	s := newSTSServer(t)
	post := func(body string) (int, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.URL()+"/", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
		req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+aliceKey+"/20260304/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=0")
		resp, err := s.HTTPClient().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	status, body := post("Action=GetCallerIdentity&Version=2011-06-15")
	wantBody := `<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult><Arn>` + aliceARN + `</Arn><UserId>`
	if status != 200 || !strings.HasPrefix(body, wantBody) || !strings.Contains(body, "<Account>111122223333</Account>") || !strings.Contains(body, "<ResponseMetadata><RequestId>") {
		t.Errorf("GetCallerIdentity: %d %s", status, body)
	}
	status, body = post("Action=AssumeRole&Version=2011-06-15&RoleArn=" + senderARN + "&RoleSessionName=s1")
	wantErr := `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>User: ` + aliceARN + ` is not authorized to perform: sts:AssumeRole on resource: ` + senderARN + `</Message></Error><RequestId>`
	if status != 403 || !strings.HasPrefix(body, wantErr) {
		t.Errorf("AssumeRole without external id: %d %s", status, body)
	}
	status, body = post("Action=GetSessionToken&Version=2011-06-15")
	if status != 400 || !strings.Contains(body, "<Code>InvalidAction</Code>") {
		t.Errorf("GetSessionToken: %d %s", status, body)
	}
	// A query-protocol SQS call is not STS: SQS answers (and refuses it).
	status, body = post("Action=SendMessage&Version=2012-11-05&QueueUrl=x&MessageBody=y")
	if status != 400 || !strings.Contains(body, "UnknownOperationException") {
		t.Errorf("form-encoded SendMessage: %d %s", status, body)
	}
	// The SDK's unsupported STS operations get an STS error.
	_, err := stsClient(s, aliceKey).GetSessionToken(t.Context(), &sts.GetSessionTokenInput{})
	wantAPIError(t, err, "InvalidAction", http.StatusBadRequest)

	// SQS calls are counted by key, batches included.
	q := s.CreateQueue("q", nil)
	c := s.Client(func(o *sqs.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(bobKey, "s", "")
	})
	if _, err := c.SendMessageBatch(t.Context(), &sqs.SendMessageBatchInput{QueueUrl: &q, Entries: []types.SendMessageBatchRequestEntry{
		{Id: aws.String("a"), MessageBody: aws.String("x")}, {Id: aws.String("b"), MessageBody: aws.String("y")},
	}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: &q, MessageBody: aws.String("z")}); err != nil {
		t.Fatal(err)
	}
	if n := s.Count(q); n != 3 {
		t.Errorf("Count = %d, want 3", n)
	}
	if got := s.AccessKeys(); len(got) != 1 || got[bobKey] != 2 {
		t.Errorf("AccessKeys = %v, want 2 by bob", got)
	}
}
