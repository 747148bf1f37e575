package sqstest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"

	"github.com/sqshook/sqshook/sqstest"
)

// batchOf3 sends a batch of three messages to url.
func batchOf3(c *sqs.Client, url string) (*sqs.SendMessageBatchOutput, error) {
	return c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries(3, func(i int) string { return fmt.Sprint("m", i) })})
}

// TestFaultCodesThroughSDK checks how each injected code reaches a caller of
// the SDK: the typed error, ErrorCode, the HTTP status and the fault.
func TestFaultCodesThroughSDK(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("codes", nil)
	tests := []struct {
		fault    sqstest.Fault
		wantCode string
		status   int
		server   bool // smithy.FaultServer, else FaultClient
		typed    any  // a pointer to the typed error, nil for an unmodeled code
	}{
		{sqstest.Fault{Code: "QueueDoesNotExist"}, "AWS.SimpleQueueService.NonExistentQueue", 400, false, new(*types.QueueDoesNotExist)},
		{sqstest.Fault{Code: "AWS.SimpleQueueService.NonExistentQueue"}, "AWS.SimpleQueueService.NonExistentQueue", 400, false, new(*types.QueueDoesNotExist)},
		{sqstest.Fault{Code: "RequestThrottled"}, "RequestThrottled", 403, false, new(*types.RequestThrottled)},
		{sqstest.Fault{Code: "RequestThrottled", Status: 400}, "RequestThrottled", 400, false, new(*types.RequestThrottled)},
		{sqstest.Fault{Code: "KmsThrottled"}, "KMS.ThrottlingException", 400, false, new(*types.KmsThrottled)},
		{sqstest.Fault{Code: "KMS.ThrottlingException"}, "KMS.ThrottlingException", 400, false, new(*types.KmsThrottled)},
		{sqstest.Fault{Code: "KMS.AccessDeniedException"}, "KMS.AccessDeniedException", 400, false, new(*types.KmsAccessDenied)},
		{sqstest.Fault{Code: "BatchRequestTooLong"}, "AWS.SimpleQueueService.BatchRequestTooLong", 400, false, new(*types.BatchRequestTooLong)},
		{sqstest.Fault{Code: "ThrottlingException"}, "ThrottlingException", 400, false, nil},
		{sqstest.Fault{Code: "AccessDenied"}, "AccessDenied", 403, false, nil},
		{sqstest.Fault{Code: "InvalidClientTokenId"}, "InvalidClientTokenId", 403, false, nil},
		{sqstest.Fault{Code: "SignatureDoesNotMatch", Status: 403}, "SignatureDoesNotMatch", 403, false, nil},
		{sqstest.Fault{Code: "InternalError"}, "InternalError", 500, true, nil},
		{sqstest.Fault{Code: "InternalError", Status: 502}, "InternalError", 502, true, nil},
		{sqstest.Fault{Code: "ServiceUnavailable"}, "ServiceUnavailable", 503, true, nil},
		{sqstest.Fault{Status: 429}, "TooManyRequestsException", 429, false, nil},
		{sqstest.Fault{Status: 500}, "InternalError", 500, true, nil},
	}
	for _, tt := range tests {
		name := tt.fault.Code + fmt.Sprint("/", tt.fault.Status)
		remove := s.AddFault(tt.fault)
		_, err := batchOf3(c, url)
		remove()
		ae := apiError(t, err)
		if ae.ErrorCode() != tt.wantCode {
			t.Errorf("%s: ErrorCode %q, want %q", name, ae.ErrorCode(), tt.wantCode)
		}
		if httpStatus(err) != tt.status {
			t.Errorf("%s: HTTP %d, want %d", name, httpStatus(err), tt.status)
		}
		if want := map[bool]smithy.ErrorFault{false: smithy.FaultClient, true: smithy.FaultServer}[tt.server]; ae.ErrorFault() != want {
			t.Errorf("%s: fault %v, want %v", name, ae.ErrorFault(), want)
		}
		if tt.typed != nil && !errors.As(err, tt.typed) {
			t.Errorf("%s: %T is not %T", name, ae, tt.typed)
		}
		if tt.typed == nil && !errors.As(err, new(*smithy.GenericAPIError)) {
			t.Errorf("%s: %T, want *smithy.GenericAPIError", name, ae)
		}
		if ae.ErrorMessage() == "" {
			t.Errorf("%s: no message", name)
		}
	}
	if n := s.Count(url); n != 0 {
		t.Errorf("failed calls stored %d messages", n)
	}
	st := s.Calls()
	if st.Faults != len(tests) || st.Batches != 0 || st.Injected["RequestThrottled"] != 2 || st.Injected["KMS.ThrottlingException"] != 2 {
		t.Errorf("stats %+v", st)
	}
}

func TestFaultTimesAndRemove(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("times", nil)
	s.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Times: 3})
	var got []string
	for i := 0; i < 5; i++ {
		_, err := batchOf3(c, url)
		got = append(got, map[bool]string{true: "T", false: "."}[err != nil])
		if err != nil && code(err) != "RequestThrottled" {
			t.Errorf("call %d: %v", i, err)
		}
	}
	if strings.Join(got, "") != "TTT.." {
		t.Errorf("Times 3 gave %s, want TTT..", strings.Join(got, ""))
	}
	if st := s.Calls(); st.Injected["RequestThrottled"] != 3 || st.Calls["SendMessageBatch"] != 5 || st.Batches != 2 || s.Count(url) != 6 {
		t.Errorf("stats %+v, count %d", st, s.Count(url))
	}

	remove := s.AddFault(sqstest.Fault{Code: "InternalError"})
	if _, err := batchOf3(c, url); code(err) != "InternalError" {
		t.Errorf("standing fault: %v", err)
	}
	remove()
	remove()
	if _, err := batchOf3(c, url); err != nil {
		t.Errorf("after remove: %v", err)
	}
	s.AddFault(sqstest.Fault{Code: "InternalError"})
	s.ClearFaults()
	if _, err := batchOf3(c, url); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

func TestFaultMatching(t *testing.T) {
	s, c := newServer(t)
	a, b := s.CreateQueue("a", nil), s.CreateQueue("b", nil)
	s.AddFault(sqstest.Fault{Queue: "a", Code: "AccessDenied"})
	s.AddFault(sqstest.Fault{Op: "SendMessage", Code: "KmsThrottled"})
	if _, err := batchOf3(c, a); code(err) != "AccessDenied" {
		t.Errorf("batch to a: %v", err)
	}
	if _, err := batchOf3(c, b); err != nil {
		t.Errorf("batch to b: %v", err)
	}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &b, MessageBody: aws.String("x")}); code(err) != "KMS.ThrottlingException" {
		t.Errorf("SendMessage to b: %v", err)
	}
	// The first matching rule wins.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &a, MessageBody: aws.String("x")}); code(err) != "AccessDenied" {
		t.Errorf("SendMessage to a: %v", err)
	}
	// An AWS-shaped URL names the queue too; GetQueueUrl names it by name.
	if _, err := batchOf3(c, "https://sqs.us-east-1.amazonaws.com/123456789012/a"); code(err) != "AccessDenied" {
		t.Errorf("batch to a's AWS URL: %v", err)
	}
	if _, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("a")}); code(err) != "AccessDenied" {
		t.Errorf("GetQueueUrl(a): %v", err)
	}
}

func TestFaultFailEntries(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("entries", nil)
	s.AddFault(sqstest.Fault{Op: "SendMessageBatch", Times: 1, FailEntries: func(i int, id string) *sqstest.EntryFailure {
		if s.Count(url) != 0 { // the callback may use the server
			t.Errorf("messages stored before the entries were decided")
		}
		switch i {
		case 0:
			return &sqstest.EntryFailure{Code: "InternalError", Message: "try again"}
		case 2:
			return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "no " + id, SenderFault: true}
		}
		return nil
	}})
	out, err := batchOf3(c, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 1 || aws.ToString(out.Successful[0].Id) != "e1" {
		t.Errorf("successful %+v", out.Successful)
	}
	if len(out.Failed) != 2 {
		t.Fatalf("failed %+v", out.Failed)
	}
	f0, f2 := out.Failed[0], out.Failed[1]
	if aws.ToString(f0.Id) != "e0" || aws.ToString(f0.Code) != "InternalError" || f0.SenderFault || aws.ToString(f0.Message) != "try again" {
		t.Errorf("entry e0: %+v", f0)
	}
	if aws.ToString(f2.Id) != "e2" || aws.ToString(f2.Code) != "InvalidParameterValue" || !f2.SenderFault || aws.ToString(f2.Message) != "no e2" {
		t.Errorf("entry e2: %+v", f2)
	}
	if rec := s.Received(url); len(rec) != 1 || rec[0].Body != "m1" {
		t.Errorf("stored %+v", rec)
	}
	if st := s.Calls(); st.EntriesFailed != 2 || st.Injected["FailEntries"] != 1 || st.Batches != 1 {
		t.Errorf("stats %+v", st)
	}

	// In SendMessage a failure of entry 0 fails the call.
	s.AddFault(sqstest.Fault{Op: "SendMessage", Times: 1, FailEntries: func(int, string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "KmsThrottled", Message: "slow down"}
	}})
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
	if !errors.As(err, new(*types.KmsThrottled)) {
		t.Errorf("SendMessage with a failed entry: %v", err)
	}

	// And in DeleteMessageBatch.
	r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url})
	if err != nil || len(r.Messages) != 1 {
		t.Fatal(err, r)
	}
	s.AddFault(sqstest.Fault{Op: "DeleteMessageBatch", Times: 1, FailEntries: func(int, string) *sqstest.EntryFailure {
		return &sqstest.EntryFailure{Code: "InternalError", Message: "later"}
	}})
	del := []types.DeleteMessageBatchRequestEntry{{Id: aws.String("d"), ReceiptHandle: r.Messages[0].ReceiptHandle}}
	dout, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del})
	if err != nil || len(dout.Failed) != 1 || aws.ToString(dout.Failed[0].Code) != "InternalError" {
		t.Errorf("DeleteMessageBatch with a failed entry: %v %+v", err, dout)
	}
	if dout, err = c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del}); err != nil || len(dout.Successful) != 1 {
		t.Errorf("DeleteMessageBatch again: %v %+v", err, dout)
	}
}

func TestFaultDrops(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("drops", nil)

	s.AddFault(sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropBeforeProcessing, Times: 1})
	_, err := batchOf3(c, url)
	var ae smithy.APIError
	if err == nil || errors.As(err, &ae) {
		t.Errorf("drop before processing: %v, want a transport error", err)
	}
	if s.Count(url) != 0 || s.Calls().Batches != 0 {
		t.Errorf("drop before processing stored %d messages", s.Count(url))
	}

	s.AddFault(sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropAfterProcessing, Times: 1})
	_, err = batchOf3(c, url)
	if err == nil || errors.As(err, &ae) {
		t.Errorf("drop after processing: %v, want a transport error", err)
	}
	if s.Count(url) != 3 || s.Calls().Batches != 1 {
		t.Errorf("drop after processing stored %d messages, want 3", s.Count(url))
	}

	// The connection pool recovers: the next call goes through.
	if _, err := batchOf3(c, url); err != nil || s.Count(url) != 6 {
		t.Errorf("after the drops: %v, %d stored", err, s.Count(url))
	}
	if st := s.Calls(); st.Injected["DropBeforeProcessing"] != 1 || st.Injected["DropAfterProcessing"] != 1 || st.Faults != 2 {
		t.Errorf("stats %+v", st)
	}
	if got := sqstest.DropAfterProcessing.String(); got != "DropAfterProcessing" {
		t.Errorf("String() = %q", got)
	}
}

func TestFaultLatency(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("slow", nil)

	// Latency delays the answer by at least the latency.
	s.AddFault(sqstest.Fault{Latency: 50 * time.Millisecond, Times: 1})
	start := time.Now()
	if _, err := batchOf3(c, url); err != nil || time.Since(start) < 50*time.Millisecond {
		t.Errorf("latency: %v after %v", err, time.Since(start))
	}

	// Latency gives way to the caller's deadline, and the call is not
	// handled.
	s.AddFault(sqstest.Fault{Latency: time.Hour, Times: 1})
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := batchOf3Ctx(short, c, url)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a call past its deadline: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("call past its deadline took %v", d)
	}
	if s.Count(url) != 3 {
		t.Errorf("the abandoned call was handled: %d stored", s.Count(url))
	}

	// Latency and an error combine.
	s.AddFault(sqstest.Fault{Latency: 20 * time.Millisecond, Code: "ServiceUnavailable", Times: 1})
	start = time.Now()
	if _, err := batchOf3(c, url); code(err) != "ServiceUnavailable" || time.Since(start) < 20*time.Millisecond {
		t.Errorf("latency then 503: %v after %v", err, time.Since(start))
	}
	if st := s.Calls(); st.Injected["Latency"] != 3 || st.Injected["ServiceUnavailable"] != 1 {
		t.Errorf("stats %+v", st)
	}

	// The base latency of WithLatency applies to every call.
	s2, c2 := newServer(t, sqstest.WithLatency(time.Hour))
	url2 := s2.CreateQueue("far", nil)
	short2, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := batchOf3Ctx(short2, c2, url2); !errors.Is(err, context.DeadlineExceeded) || s2.Count(url2) != 0 {
		t.Errorf("base latency: %v, %d stored", err, s2.Count(url2))
	}
}

func batchOf3Ctx(ctx context.Context, c *sqs.Client, url string) (*sqs.SendMessageBatchOutput, error) {
	return c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries(3, func(i int) string { return fmt.Sprint("m", i) })})
}

func TestOutage(t *testing.T) {
	clock := newFakeClock()
	s, c := newServer(t, sqstest.WithClock(clock.Now))
	url := s.CreateQueue("down", nil)
	check := func(when string, wantDown bool) {
		t.Helper()
		_, err := batchOf3(c, url)
		down := code(err) == "ServiceUnavailable" && httpStatus(err) == 503
		if down != wantDown || !down && err != nil {
			t.Errorf("%s: %v", when, err)
		}
	}
	s.SetOutage(true)
	check("during SetOutage(true)", true)
	_, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("down")})
	if code(err) != "ServiceUnavailable" {
		t.Errorf("GetQueueUrl during the outage: %v", err)
	}
	s.SetOutage(false)
	check("after SetOutage(false)", false)

	s.Outage(time.Minute)
	check("during Outage(1m)", true)
	clock.Advance(59 * time.Second)
	check("59s into Outage(1m)", true)
	clock.Advance(time.Second)
	check("after Outage(1m)", false)

	s.Outage(time.Hour)
	s.SetOutage(false)
	check("Outage ended by SetOutage(false)", false)
	if s.Count(url) != 9 || s.Calls().Injected["Outage"] != 4 {
		t.Errorf("stored %d, stats %+v", s.Count(url), s.Calls())
	}
}

func TestFaultProbabilityIsSeeded(t *testing.T) {
	pattern := func(seed int64) string {
		s := sqstest.NewServer(sqstest.WithSeed(seed))
		defer s.Close()
		c := s.Client()
		url := s.CreateQueue("p", nil)
		s.AddFault(sqstest.Fault{Op: "SendMessage", Code: "RequestThrottled", Probability: 0.5})
		var b strings.Builder
		for i := 0; i < 64; i++ {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
			switch {
			case err == nil:
				b.WriteByte('.')
			case code(err) == "RequestThrottled":
				b.WriteByte('T')
			default:
				t.Fatal(err)
			}
		}
		return b.String()
	}
	a, b, other := pattern(42), pattern(42), pattern(43)
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if a == other {
		t.Errorf("seeds 42 and 43 gave the same faults: %s", a)
	}
	if n := strings.Count(a, "T"); n < 16 || n > 48 {
		t.Errorf("probability 0.5 threw %d of 64: %s", n, a)
	}

	// Probability and Times together: Times counts applied faults only.
	s, c := newServer(t, sqstest.WithSeed(7))
	url := s.CreateQueue("pt", nil)
	s.AddFault(sqstest.Fault{Code: "InternalError", Probability: 0.3, Times: 5})
	for i := 0; i < 200; i++ {
		c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
	}
	if st := s.Calls(); st.Injected["InternalError"] != 5 {
		t.Errorf("Probability 0.3, Times 5: %d injected", st.Injected["InternalError"])
	}

	// Reset restarts the generator.
	s.Reset()
	first := func() string {
		s.AddFault(sqstest.Fault{Op: "SendMessage", Code: "RequestThrottled", Probability: 0.5})
		var b strings.Builder
		for i := 0; i < 32; i++ {
			_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
			b.WriteString(map[bool]string{true: "T", false: "."}[err != nil])
		}
		s.Reset()
		return b.String()
	}
	if x, y := first(), first(); x != y {
		t.Errorf("after Reset, different faults:\n%s\n%s", x, y)
	}
}

// On a FIFO queue an injected failure that is not the sender's fault stops
// its group for the rest of the batch; other groups, and the group after a
// sender-fault failure, go on.
func TestFaultFailEntriesFIFOStopsTheGroup(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("entries.fifo", nil)
	s.AddFault(sqstest.Fault{Op: "SendMessageBatch", Times: 1, FailEntries: func(i int, id string) *sqstest.EntryFailure {
		switch id {
		case "a1":
			return &sqstest.EntryFailure{Code: "InternalError", Message: "try again"}
		case "b1":
			return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "bad", SenderFault: true}
		}
		return nil
	}})
	var es []types.SendMessageBatchRequestEntry
	for _, e := range []struct{ id, group string }{{"a0", "a"}, {"a1", "a"}, {"b0", "b"}, {"a2", "a"}, {"b1", "b"}, {"b2", "b"}} {
		es = append(es, types.SendMessageBatchRequestEntry{
			Id: aws.String(e.id), MessageBody: aws.String(e.id),
			MessageGroupId: aws.String(e.group), MessageDeduplicationId: aws.String(e.id),
		})
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: es})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]string{}
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = aws.ToString(f.Code)
	}
	want := map[string]string{"a1": "InternalError", "a2": "InternalError", "b1": "InvalidParameterValue"}
	if fmt.Sprint(failed) != fmt.Sprint(want) {
		t.Errorf("failed %v, want %v", failed, want)
	}
	var bodies []string
	for _, m := range s.Received(url) {
		bodies = append(bodies, m.Body)
	}
	if got := strings.Join(bodies, " "); got != "a0 b0 b2" {
		t.Errorf("stored %q, want \"a0 b0 b2\"", got)
	}
}

// A misspelt operation would never match: the test using it would pass
// without the fault it meant to inject. AddFault refuses it.
func TestAddFaultRefusesWhatCanNeverApply(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	for _, f := range []sqstest.Fault{
		{Op: "SendMessagebatch", Code: "RequestThrottled"},
		{Op: "sendMessageBatch", Code: "RequestThrottled"},
		{Op: "AmazonSQS.SendMessageBatch", Code: "RequestThrottled"},
		{Op: "SendMessageBatch", Code: "RequestThrottled", Times: -1},
		{Op: "SendMessageBatch", Latency: -time.Second},
	} {
		func() {
			defer func() {
				msg, _ := recover().(string)
				if !strings.HasPrefix(msg, "sqstest: AddFault: ") {
					t.Errorf("AddFault(%+v): panic %q, want a panic naming the problem", f, msg)
				}
			}()
			srv.AddFault(f)
		}()
	}
	// Every operation the server implements, SQS's and STS's, is accepted.
	for _, op := range []string{"", "SendMessageBatch", "GetQueueAttributes", "DeleteQueue", "AssumeRole", "GetCallerIdentity"} {
		srv.AddFault(sqstest.Fault{Op: op, Code: "InternalError"})()
	}
}

// TestFaultHang: a hanging call is never answered and nothing is stored;
// it holds its connection until the client gives up, and Held and MaxHeld
// count it meanwhile. Other queues' calls go on.
func TestFaultHang(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("blackhole", nil)
	other := s.CreateQueue("fine", nil)
	s.AddFault(sqstest.Fault{Queue: "blackhole", Hang: true})

	const calls = 3
	cctx, cancel := context.WithCancel(ctx)
	errs := make(chan error, calls)
	for range calls {
		go func() {
			_, err := batchOf3Ctx(cctx, c, url)
			errs <- err
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Held() < calls {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls held, want %d", s.Held(), calls)
		}
		time.Sleep(time.Millisecond) // polling
	}
	// Held calls answer nothing while other queues are served.
	if _, err := batchOf3(c, other); err != nil {
		t.Fatalf("another queue while calls hang: %v", err)
	}
	select {
	case err := <-errs:
		t.Fatalf("a hanging call returned %v before the client gave up", err)
	default:
	}
	cancel()
	for range calls {
		if err := <-errs; !errors.Is(err, context.Canceled) {
			t.Errorf("hanging call: %v, want context.Canceled", err)
		}
	}
	for s.Held() != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls still held after the client gave up", s.Held())
		}
		time.Sleep(time.Millisecond) // polling
	}
	if s.Count(url) != 0 {
		t.Errorf("a hanging call stored %d messages", s.Count(url))
	}
	if st := s.Calls(); st.MaxHeld != calls || st.Injected["Hang"] != calls {
		t.Errorf("MaxHeld %d, Injected[Hang] %d; want %d each", st.MaxHeld, st.Injected["Hang"], calls)
	}
	// A hang takes precedence over the rest of its rule: nothing answers.
	s.ClearFaults()
	s.AddFault(sqstest.Fault{Queue: "blackhole", Hang: true, Code: "ServiceUnavailable", Times: 1})
	short, cancel2 := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel2()
	if _, err := batchOf3Ctx(short, c, url); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Hang with a Code: %v, want the caller's deadline", err)
	}
}

// TestFaultRelease: calls held by a Release rule are answered, and their
// messages stored, only once the channel closes; a client that gives up
// first gets no answer and stores nothing.
func TestFaultRelease(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("late", nil)
	release := make(chan struct{})
	s.AddFault(sqstest.Fault{Queue: "late", Release: release})

	// A client that gives up before the release: nothing stored.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := batchOf3Ctx(short, c, url); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("held call past the caller's deadline: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for s.Held() != 0 { // the server notices that the client went away
		if time.Now().After(deadline) {
			t.Fatalf("%d calls held after the client gave up", s.Held())
		}
		time.Sleep(time.Millisecond) // polling
	}
	done := make(chan error, 1)
	go func() {
		_, err := batchOf3(c, url)
		done <- err
	}()
	for s.Held() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d calls held, want 1", s.Held())
		}
		time.Sleep(time.Millisecond) // polling
	}
	if s.Count(url) != 0 {
		t.Fatalf("%d messages stored before the release", s.Count(url))
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("released call: %v", err)
	}
	if s.Count(url) != 3 || s.Held() != 0 {
		t.Errorf("after the release: %d stored, %d held; want 3, 0", s.Count(url), s.Held())
	}
	// A released rule passes later calls at once; with a Code they fail.
	if _, err := batchOf3(c, url); err != nil {
		t.Errorf("after the release: %v", err)
	}
	s.ClearFaults()
	s.AddFault(sqstest.Fault{Queue: "late", Release: release, Code: "InternalError", Times: 1})
	if _, err := batchOf3(c, url); code(err) != "InternalError" {
		t.Errorf("Release with a Code: %v, want InternalError", err)
	}
	if st := s.Calls(); st.Injected["Release"] != 4 || st.MaxHeld != 1 {
		t.Errorf("Injected[Release] %d, MaxHeld %d; want 4, 1", st.Injected["Release"], st.MaxHeld)
	}
}
