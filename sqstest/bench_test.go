package sqstest_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook/sqstest"
)

// BenchmarkSendMessageBatch measures the server's cost per batch of ten
// 1 KiB messages, with and without recording and a simulated round trip.
func BenchmarkSendMessageBatch(b *testing.B) {
	for _, bc := range []struct {
		name string
		opts []sqstest.Option
	}{
		{"record", nil},
		{"norecord", []sqstest.Option{sqstest.WithoutRecording()}},
		{"norecord-rtt5ms", []sqstest.Option{sqstest.WithoutRecording(), sqstest.WithLatency(5 * time.Millisecond)}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := sqstest.NewServer(bc.opts...)
			defer s.Close()
			c := s.Client()
			url := s.CreateQueue("bench", nil)
			in := &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries(10, fixed(strings.Repeat("x", 1024)))}
			b.SetParallelism(16)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.SendMessageBatch(ctx, in); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if got, want := s.Count(url), b.N*10; got != want {
				b.Fatalf("stored %d, want %d", got, want)
			}
			b.ReportMetric(float64(b.N*10)/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}

// TestManyConcurrentSlowCalls runs a thousand calls at once against a
// simulated round trip: the waits must overlap, not queue. The round trip
// is long (2 s) so that waits in a queue would take calls × rtt = 2,000 s,
// while overlapping waits take one round trip plus the cost of the calls;
// the bound sits a tenth of the way between, so a machine ten times slower
// than usual (the race detector, other work on the cores) still passes and
// a server that handles calls one at a time still fails.
func TestManyConcurrentSlowCalls(t *testing.T) {
	if testing.Short() {
		t.Skip("slow")
	}
	const calls, rtt = 1000, 2 * time.Second
	s, c := newServer(t, sqstest.WithLatency(rtt), sqstest.WithoutRecording())
	url := s.CreateQueue("many", nil)
	start := time.Now()
	errs := make(chan error, calls)
	for i := 0; i < calls; i++ {
		go func() {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String(fmt.Sprint(i))})
			errs <- err
		}()
	}
	for i := 0; i < calls; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	elapsed := time.Since(start)
	st := s.Calls()
	t.Logf("%d calls with a %v round trip in %v, at most %d at once", calls, rtt, elapsed, st.MaxConcurrency)
	if s.Count(url) != calls {
		t.Errorf("stored %d, want %d", s.Count(url), calls)
	}
	if bound := calls * rtt / 10; elapsed > bound || st.MaxConcurrency < 2 {
		t.Errorf("%d calls took %v (bound %v) with at most %d at once: the waits do not overlap", calls, elapsed, bound, st.MaxConcurrency)
	}
}
