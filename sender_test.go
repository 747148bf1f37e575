// sender_test.go tests calls and their settlement: batch splits, error
// classification through the SDK, and dead-letter reporting.

package sqshook_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/cenkalti/backoff/v4"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// The batch split on BatchRequestTooLong terminates and loses nothing
// against the real SDK client, with a server whose batch limit is a little
// above one message, and with events of uneven size.
func TestSplitTerminatesAgainstSmallServerLimit(t *testing.T) {
	s := newScenario(t, []sqstest.Option{sqstest.WithMaxBatchBytes(3000)})
	for i := 0; i < 60; i++ {
		id := fmt.Sprintf("s-%d", i)
		body := fmt.Sprintf(`{"i":%d,"pad":%q}`, i, fmt.Sprintf("%0*d", 200+(i*97)%2300, 0))
		if err := s.d.Publish(context.Background(), sqshook.Event{ID: id, Type: "message.new", Body: []byte(body)}); err != nil {
			t.Fatal(err)
		}
		s.sent[id] = body
	}
	arrived, _ := s.settle()
	if arrived != 60 {
		t.Errorf("arrived %d of 60; dead letters %v", arrived, s.dls.byReason())
	}
}

// Whole-call errors as the real SDK reports them from an SQS JSON endpoint:
// throttling (including KMS throttling) and 5xx are retried, the rest
// dead-lettered as rejected with the SQS code.
func TestClassificationThroughSDK(t *testing.T) {
	for _, tc := range []struct {
		code      string
		transient bool
	}{
		{"RequestThrottled", true},
		{"ThrottlingException", true},
		{"KmsThrottled", true},
		{"InternalError", true},
		{"ServiceUnavailable", true},
		{"QueueDoesNotExist", false},
		{"AccessDenied", false},
		{"InvalidClientTokenId", false},
		{"InvalidParameterValue", false},
	} {
		t.Run(tc.code, func(t *testing.T) {
			s := newScenario(t, nil)
			s.srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: tc.code, Times: 1})
			s.publish(1)
			arrived, _ := s.settle()
			if tc.transient && arrived != 1 {
				t.Errorf("%s: not retried (dead letters %v)", tc.code, s.dls.byReason())
			}
			if !tc.transient {
				dl := s.dls.list()
				if arrived != 0 || len(dl) != 1 || dl[0].Reason != sqshook.ReasonRejected {
					t.Errorf("%s: arrived %d, dead letters %v; want rejected", tc.code, arrived, dl)
				}
			}
		})
	}
}

// What a hook holds is bounded (WithMaxBuffered), but dead letters waiting
// for a slow sink are not: a settled call frees its in-flight slot and its
// buffer room before it reports, so while the queue rejects everything the
// hook keeps starting calls and the goroutines blocked in the sink, each
// holding its batch's events, pile up without limit.
func TestDeadLetterReportsAreBounded(t *testing.T) {
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("AccessDenied", 403)
	}
	var inSink, maxInSink atomic.Int64
	slowSink := func(sqshook.DeadLetter) {
		n := inSink.Add(1)
		for m := maxInSink.Load(); n > m && !maxInSink.CompareAndSwap(m, n); m = maxInSink.Load() {
		}
		time.Sleep(5 * time.Millisecond)
		inSink.Add(-1)
	}
	const maxInFlight, buffered = 2, 20
	d, _ := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")},
		sqshook.WithDeadLetter(slowSink), sqshook.WithLinger(0),
		sqshook.WithMaxInFlight(maxInFlight), sqshook.WithMaxBuffered(buffered, 0))
	var stop atomic.Bool
	var pubs sync.WaitGroup
	for g := 0; g < 4; g++ {
		pubs.Add(1)
		go func() {
			defer pubs.Done()
			for !stop.Load() {
				_ = d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(`{"z":3}`)})
			}
		}()
	}
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	pubs.Wait()
	// Reports run on the calls' goroutines and on Publish's: a bound of the
	// order of the in-flight limit plus the publishers is expected.
	if m := maxInSink.Load(); m > 4*(maxInFlight+4) {
		t.Errorf("%d dead-letter reports ran at once with MaxInFlight %d, MaxBuffered %d and 4 publishers: reports are not bounded", m, maxInFlight, buffered)
	}
}

// failingTransport is an HTTP client whose every request fails with err.
type failingTransport struct{ err error }

func (f failingTransport) Do(*http.Request) (*http.Response, error) { return nil, f.err }

// TestConfigurationErrorsAreDeadLetteredAtOnce: missing credentials (the
// README's example run without AWS credentials) and an endpoint DNS says
// does not exist are configuration errors: one attempt, no retry, and the
// dead letter and the warn-level log carry the cause's code and message.
func TestConfigurationErrorsAreDeadLetteredAtOnce(t *testing.T) {
	t.Setenv(sqshook.EnvEndpointSQS, "")
	t.Setenv(sqshook.EnvEndpoint, "")
	noCreds := func(context.Context) (aws.Config, error) {
		return aws.Config{Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{}, errors.New("no EC2 IMDS role found")
		})}, nil
	}
	creds := func(context.Context) (aws.Config, error) {
		return aws.Config{Credentials: credentials.NewStaticCredentialsProvider("AKIASQSTESTEXAMPLE00", "sqstest-secret", "")}, nil
	}
	nxdomain := &net.DNSError{Err: "no such host", Name: "sqs.us-east-1.amazonaws.com", IsNotFound: true}
	for _, tc := range []struct {
		name, code, cause string
		opts              sqshook.ClientOptions
	}{
		{"no credentials", sqshook.CodeCredentials, "no EC2 IMDS role found", sqshook.ClientOptions{LoadDefaultConfig: noCreds, HTTPClient: failingTransport{errors.New("must not be called")}}},
		{"no such host", sqshook.CodeEndpoint, "no such host", sqshook.ClientOptions{LoadDefaultConfig: creds, HTTPClient: failingTransport{nxdomain}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs lockedBuffer
			dls := &deadLetters{}
			d := startDispatcher(t, []sqshook.Hook{hookFor("h", "q")},
				sqshook.WithClientOptions(tc.opts), sqshook.WithDeadLetter(dls.add), sqshook.WithLinger(0),
				sqshook.WithRetryPolicy(fastRetries),
				sqshook.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
			if err := d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(`{"a":1}`)}); err != nil {
				t.Fatal(err)
			}
			flush(t, d)
			got := dls.list()
			if len(got) != 1 {
				t.Fatalf("%d dead letters, want 1", len(got))
			}
			dl := got[0]
			if dl.Reason != sqshook.ReasonRejected || dl.Code != tc.code || !strings.Contains(dl.Message, tc.cause) || dl.Attempts != 1 {
				t.Errorf("dead letter: reason %q, code %q, message %q, attempts %d; want %q, %q, a message with %q, 1 attempt",
					dl.Reason, dl.Code, dl.Message, dl.Attempts, sqshook.ReasonRejected, tc.code, tc.cause)
			}
			if hs, _ := d.Stats().Hook("h"); hs.Retries != 0 || hs.LastErrorCode != tc.code {
				t.Errorf("stats: %d retries, last code %q; want 0 and %q", hs.Retries, hs.LastErrorCode, tc.code)
			}
			if out := logs.String(); !strings.Contains(out, "level=WARN msg=\"sqshook: call failed permanently") || !strings.Contains(out, "code="+tc.code) {
				t.Errorf("log lacks the warn-level permanent failure with code %s:\n%s", tc.code, out)
			}
		})
	}
}

// TestDeadLetterCarriesLastAttempt: an event dead-lettered at shutdown
// while waiting to retry carries the code and message of its last attempt,
// and the retry was logged at debug level with its cause.
func TestDeadLetterCarriesLastAttempt(t *testing.T) {
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("InternalError", 500)
	}
	var logs lockedBuffer
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")},
		sqshook.WithBackOff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Hour) }),
		sqshook.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err := d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	waitForCond(t, func() bool { hs, _ := d.Stats().Hook("h"); return hs.Retrying == 1 })
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = d.Close(ctx)
	got := dls.list()
	if len(got) != 1 {
		t.Fatalf("%d dead letters, want 1", len(got))
	}
	dl := got[0]
	var de *sqshook.DeliveryError
	if dl.Reason != sqshook.ReasonShutdown || dl.Code != "InternalError" || !strings.Contains(dl.Message, "InternalError (test)") ||
		!errors.As(dl.Err, &de) || de.Code != "InternalError" || !strings.Contains(de.Message, "InternalError (test)") {
		t.Errorf("dead letter: reason %q, code %q, message %q, err %v; want shutdown with the last attempt's InternalError and its message",
			dl.Reason, dl.Code, dl.Message, dl.Err)
	}
	if out := logs.String(); !strings.Contains(out, "level=DEBUG msg=\"sqshook: call failed; retrying\"") || !strings.Contains(out, "code=InternalError") {
		t.Errorf("log lacks the debug-level retry with its cause:\n%s", out)
	}
}

// TestRetryLogIsRateLimited: a hook whose every call fails logs its
// retries, but not once per call.
func TestRetryLogIsRateLimited(t *testing.T) {
	fake := newFake()
	fake.respond = func(int, *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		return nil, apiError("ServiceUnavailable", 503)
	}
	var logs lockedBuffer
	const attempts = 40
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q")}, sqshook.WithLinger(0),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: time.Millisecond, MaxAttempts: attempts, MaxElapsedTime: time.Hour}),
		sqshook.WithLogger(slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))))
	if err := d.Publish(context.Background(), sqshook.Event{Type: "message.new", Body: []byte(`{"a":1}`)}); err != nil {
		t.Fatal(err)
	}
	flush(t, d)
	if fake.callCount() != attempts || len(dls.list()) != 1 {
		t.Fatalf("sanity: %d calls, %d dead letters; want %d and 1", fake.callCount(), len(dls.list()), attempts)
	}
	// One line per logEvery (10 s): a busy machine may take a few of those
	// for 40 calls, never one per call.
	if n := strings.Count(logs.String(), "call failed; retrying"); n < 1 || n > attempts/4 {
		t.Errorf("%d retry log lines for %d failed calls; want at least 1 and at most %d:\n%s", n, attempts, attempts/4, logs.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
