// helpers_test.go holds the helpers the external tests share: the
// programmable fake SQS client, the dead-letter collector, hooks, events and
// a dispatcher that closes itself when the test ends.

package sqshook_test

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/cenkalti/backoff/v4"

	"github.com/sqshook/sqshook"
)

type (
	sqsInput  = sqs.SendMessageBatchInput
	sqsOutput = sqs.SendMessageBatchOutput
)

// fakeSQS is an SQSAPI whose SendMessageBatch answers are programmed by the
// test. It records every entry it acknowledged, per queue.
type fakeSQS struct {
	mu       sync.Mutex
	calls    int
	entries  int
	acked    map[string][]types.SendMessageBatchRequestEntry // queue URL → acknowledged entries
	respond  func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error)
	inFlight atomic.Int64
	maxSeen  atomic.Int64
	block    chan struct{} // when set, calls wait for it (or ctx)
}

func newFake() *fakeSQS {
	return &fakeSQS{acked: map[string][]types.SendMessageBatchRequestEntry{}}
}

func (f *fakeSQS) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for {
		m := f.maxSeen.Load()
		if n <= m || f.maxSeen.CompareAndSwap(m, n) {
			break
		}
	}
	f.mu.Lock()
	block := f.block
	f.mu.Unlock()
	if block != nil {
		select {
		case <-block:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if len(in.Entries) == 0 || len(in.Entries) > 10 {
		return nil, apiError("TooManyEntriesInBatchRequest", 400)
	}
	ids := map[string]bool{}
	for _, e := range in.Entries {
		if ids[aws.ToString(e.Id)] {
			return nil, apiError("BatchEntryIdsNotDistinct", 400)
		}
		ids[aws.ToString(e.Id)] = true
	}
	f.mu.Lock()
	f.calls++
	f.entries += len(in.Entries)
	call := f.calls
	respond := f.respond
	f.mu.Unlock()
	out := &sqs.SendMessageBatchOutput{}
	var err error
	if respond != nil {
		out, err = respond(call, in)
	} else {
		for _, e := range in.Entries {
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m-" + aws.ToString(e.Id))})
		}
	}
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range out.Successful {
		for _, e := range in.Entries {
			if aws.ToString(e.Id) == aws.ToString(s.Id) {
				f.acked[aws.ToString(in.QueueUrl)] = append(f.acked[aws.ToString(in.QueueUrl)], e)
			}
		}
	}
	return out, nil
}

func (f *fakeSQS) SendMessage(context.Context, *sqs.SendMessageInput, ...func(*sqs.Options)) (*sqs.SendMessageOutput, error) {
	return nil, errors.New("not used")
}

func (f *fakeSQS) GetQueueAttributes(context.Context, *sqs.GetQueueAttributesInput, ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error) {
	return &sqs.GetQueueAttributesOutput{}, nil
}

func (f *fakeSQS) ackedIDs(queueURL string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, e := range f.acked[queueURL] {
		ids = append(ids, aws.ToString(e.MessageAttributes[sqshook.AttrEventID].StringValue))
	}
	return ids
}

func (f *fakeSQS) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls
}

// apiError builds the error the SDK returns for an SQS error response.
func apiError(code string, status int) error {
	fault := smithy.FaultClient
	if status >= 500 {
		fault = smithy.FaultServer
	}
	return &smithy.OperationError{
		ServiceID: "SQS", OperationName: "SendMessageBatch",
		Err: &awshttp.ResponseError{
			ResponseError: &smithyhttp.ResponseError{
				Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
				Err:      &smithy.GenericAPIError{Code: code, Message: code + " (test)", Fault: fault},
			},
			RequestID: "test",
		},
	}
}

// deadLetters collects dead letters.
type deadLetters struct {
	mu  sync.Mutex
	all []sqshook.DeadLetter
}

func (c *deadLetters) add(dl sqshook.DeadLetter) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.all = append(c.all, dl)
}

func (c *deadLetters) list() []sqshook.DeadLetter {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.all)
}

func (c *deadLetters) byReason() map[sqshook.Reason]int {
	m := map[sqshook.Reason]int{}
	for _, dl := range c.list() {
		m[dl.Reason]++
	}
	return m
}

func hookFor(id, queue string, types ...string) sqshook.Hook {
	return sqshook.Hook{
		ID: id, Enabled: true, HookType: "sqs",
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/" + queue,
		SQSRegion:   "us-east-1", SQSAuthType: "resource", EventTypes: types,
	}
}

// newTestDispatcher starts a dispatcher on fake with fast retries and a
// dead-letter collector. It is closed when the test ends.
func newTestDispatcher(t *testing.T, fake sqshook.SQSAPI, hooks []sqshook.Hook, opts ...sqshook.Option) (*sqshook.Dispatcher, *deadLetters) {
	t.Helper()
	dls := &deadLetters{}
	base := []sqshook.Option{
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }),
		sqshook.WithBackOff(func() backoff.BackOff { return &backoff.ZeroBackOff{} }),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithLinger(time.Millisecond),
	}
	return startDispatcher(t, hooks, append(base, opts...)...), dls
}

// startDispatcher makes a dispatcher that is closed when the test ends.
func startDispatcher(t *testing.T, hooks []sqshook.Hook, opts ...sqshook.Option) *sqshook.Dispatcher {
	t.Helper()
	d, err := sqshook.New(hooks, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d
}

// checkAccounting asserts matched = delivered + dead-lettered + pending for
// every hook, and optionally that nothing is pending.
func checkAccounting(t *testing.T, d *sqshook.Dispatcher, wantIdle bool) sqshook.Stats {
	t.Helper()
	s := d.Stats()
	for _, h := range s.Hooks {
		if h.Matched != h.Delivered+h.DeadLettered+h.Pending {
			t.Errorf("hook %s: matched %d != delivered %d + dead-lettered %d + pending %d", h.HookID, h.Matched, h.Delivered, h.DeadLettered, h.Pending)
		}
		if h.Pending != uint64(h.Queued+h.InFlight+h.Retrying) {
			t.Errorf("hook %s: pending %d != queued %d + in flight %d + retrying %d", h.HookID, h.Pending, h.Queued, h.InFlight, h.Retrying)
		}
		if wantIdle && (h.Pending != 0 || h.BufferedBytes != 0) {
			t.Errorf("hook %s: pending %d, buffered %d bytes; want 0 after Flush/Close", h.HookID, h.Pending, h.BufferedBytes)
		}
	}
	return s
}

func event(t testing.TB, typ string, i int) sqshook.Event {
	return sqshook.Event{Type: typ, Body: chatEventJSON(t, typ, "message "+strconv.Itoa(i))}
}

func flush(t *testing.T, d *sqshook.Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
}

func okAll(in *sqs.SendMessageBatchInput) *sqs.SendMessageBatchOutput {
	out := &sqs.SendMessageBatchOutput{}
	for _, e := range in.Entries {
		out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: aws.String("m")})
	}
	return out
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *strings.Builder
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// fakeQueuePrefix is the queue URL of hookFor's queues without the name.
const fakeQueuePrefix = "https://sqs.us-east-1.amazonaws.com/123456789012/"

// ackedOrder returns the event ids a queue acknowledged, in the order the
// fake acknowledged them.
func ackedOrder(f *fakeSQS, queue string) []string {
	return f.ackedIDs(fakeQueuePrefix + queue)
}

func waitForCond(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5s")
		}
		time.Sleep(time.Millisecond)
	}
}

func strPtr(s string) *string { return &s }

// waitLong is waitForCond with a bound for slow, many-step conditions.
func waitLong(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 60s")
		}
		time.Sleep(time.Millisecond)
	}
}
