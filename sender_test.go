// sender_test.go tests calls and their settlement: batch splits, error
// classification through the SDK, and dead-letter reporting.

package sqshook_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"

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
