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
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook/sqstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func newServer(t *testing.T, opts ...sqstest.Option) (*sqstest.Server, *sqs.Client) {
	t.Helper()
	s := sqstest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s, s.Client()
}

func entries(n int, body func(i int) string) []types.SendMessageBatchRequestEntry {
	var es []types.SendMessageBatchRequestEntry
	for i := 0; i < n; i++ {
		es = append(es, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String(body(i))})
	}
	return es
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func TestQueuesAndAttributes(t *testing.T) {
	s, c := newServer(t)
	ctx := context.Background()
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders.fifo"), Attributes: map[string]string{"ContentBasedDeduplication": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	if want := s.URL() + "/123456789012/orders.fifo"; aws.ToString(out.QueueUrl) != want {
		t.Errorf("QueueUrl = %s, want %s", aws.ToString(out.QueueUrl), want)
	}
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders.fifo")})
	if err != nil || aws.ToString(got.QueueUrl) != aws.ToString(out.QueueUrl) {
		t.Errorf("GetQueueUrl = %v, %v", got, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: out.QueueUrl, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "true", "MaximumMessageSize": "262144", "QueueArn": "arn:aws:sqs:us-east-1:123456789012:orders.fifo"} {
		if attrs.Attributes[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs.Attributes[k], want)
		}
	}
	// An AWS-shaped URL naming the queue works too.
	if _, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String("https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo")}); err != nil {
		t.Errorf("AWS-shaped URL: %v", err)
	}
	_, err = c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("missing")})
	var qdne *types.QueueDoesNotExist
	if !errors.As(err, &qdne) {
		t.Errorf("GetQueueUrl(missing) = %v, want *types.QueueDoesNotExist", err)
	}
	if c := code(err); c != "AWS.SimpleQueueService.NonExistentQueue" {
		t.Errorf("error code = %q, want the legacy code AWS.SimpleQueueService.NonExistentQueue as SQS sends it", c)
	}
}

func TestSendBatchRoundTripWithAttributes(t *testing.T) {
	s, c := newServer(t)
	ctx := context.Background()
	url := s.CreateQueue("events", nil)
	attrs := map[string]types.MessageAttributeValue{
		"event_type": {DataType: aws.String("String"), StringValue: aws.String("message.new")},
		"n":          {DataType: aws.String("Number"), StringValue: aws.String("42")},
		"bin":        {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
	}
	es := entries(10, func(i int) string { return fmt.Sprintf(`{"i":%d,"text":"héllo 👋"}`, i) })
	for i := range es {
		es[i].MessageAttributes = attrs
	}
	// The SDK verifies the body MD5s: a wrong digest fails the call.
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: es})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 10 || len(out.Failed) != 0 {
		t.Fatalf("%d successful, %d failed", len(out.Successful), len(out.Failed))
	}
	if s.Count(url) != 10 || len(s.Received(url)) != 10 {
		t.Fatalf("recorded %d, want 10", s.Count(url))
	}
	var got []types.Message
	for len(got) < 10 {
		r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, r.Messages...)
	}
	for i, m := range got {
		if want := fmt.Sprintf(`{"i":%d,"text":"héllo 👋"}`, i); aws.ToString(m.Body) != want {
			t.Errorf("message %d body = %s, want %s", i, aws.ToString(m.Body), want)
		}
		// The reference digest of these three attributes (see
		// TestAttributesMD5MatchesReference).
		if md5 := aws.ToString(m.MD5OfMessageAttributes); md5 != "ccce516a8fa42b7abeca4724082209b6" {
			t.Errorf("MD5OfMessageAttributes on receive = %s, want the reference", md5)
		}
		if b := m.MessageAttributes["bin"].BinaryValue; string(b) != "\x00\x01\x02\xff" {
			t.Errorf("binary attribute = %v", b)
		}
		if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle}); err != nil {
			t.Fatal(err)
		}
	}
	r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: aws.String(url)})
	if err != nil || len(r.Messages) != 0 {
		t.Errorf("after deleting all: %d messages, %v", len(r.Messages), err)
	}
}

func TestAttributesMD5MatchesReference(t *testing.T) {
	// Reference digests from an independent implementation of the AWS
	// algorithm (the npm package aws-md5-of-message-attributes).
	s, c := newServer(t)
	url := s.CreateQueue("md5", nil)
	tests := []struct {
		attrs map[string]types.MessageAttributeValue
		want  string
	}{
		{map[string]types.MessageAttributeValue{"test": {DataType: aws.String("String"), StringValue: aws.String("value")}}, "9c35d992dee4528f7d20c274d61e16f5"},
		{map[string]types.MessageAttributeValue{
			"event_type": {DataType: aws.String("String"), StringValue: aws.String("message.new")},
			"n":          {DataType: aws.String("Number"), StringValue: aws.String("42")},
			"bin":        {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 2, 255}},
		}, "ccce516a8fa42b7abeca4724082209b6"},
	}
	for _, tt := range tests {
		out, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x"), MessageAttributes: tt.attrs})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.MD5OfMessageAttributes); got != tt.want {
			t.Errorf("MD5OfMessageAttributes = %s, want %s", got, tt.want)
		}
	}
}

func TestBatchLimits(t *testing.T) {
	s, c := newServer(t, sqstest.WithMaxBatchBytes(1000))
	ctx := context.Background()
	url := s.CreateQueue("limits", map[string]string{"MaximumMessageSize": "400"})
	send := func(es []types.SendMessageBatchRequestEntry) (*sqs.SendMessageBatchOutput, error) {
		return c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: es})
	}
	small := func(int) string { return "x" }
	tests := []struct {
		name string
		es   []types.SendMessageBatchRequestEntry
		code string
	}{
		{"eleven entries", entries(11, small), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
		{"repeated ids", append(entries(2, small), entries(1, small)...), "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
		{"bad id", []types.SendMessageBatchRequestEntry{{Id: aws.String("a b"), MessageBody: aws.String("x")}}, "AWS.SimpleQueueService.InvalidBatchEntryId"},
		{"batch too long", entries(4, func(int) string { return strings.Repeat("y", 300) }), "AWS.SimpleQueueService.BatchRequestTooLong"},
	}
	for _, tt := range tests {
		_, err := send(tt.es)
		if code(err) != tt.code {
			t.Errorf("%s: error %v, want code %s", tt.name, err, tt.code)
		}
	}
	// Per-entry failures: too large for the queue, illegal characters.
	out, err := send([]types.SendMessageBatchRequestEntry{
		{Id: aws.String("big"), MessageBody: aws.String(strings.Repeat("z", 401))},
		{Id: aws.String("bad"), MessageBody: aws.String("a\x01b")},
		{Id: aws.String("ok"), MessageBody: aws.String("fine")},
	})
	if err != nil {
		t.Fatal(err)
	}
	failed := map[string]types.BatchResultErrorEntry{}
	for _, f := range out.Failed {
		failed[aws.ToString(f.Id)] = f
	}
	if f := failed["big"]; aws.ToString(f.Code) != "InvalidParameterValue" || !f.SenderFault {
		t.Errorf("oversized entry: %+v", f)
	}
	if f := failed["bad"]; aws.ToString(f.Code) != "InvalidMessageContents" || !f.SenderFault {
		t.Errorf("illegal entry: %+v", f)
	}
	if len(out.Successful) != 1 || s.Count(url) != 1 {
		t.Errorf("successful %d, stored %d; want 1, 1", len(out.Successful), s.Count(url))
	}
}

func TestFIFORules(t *testing.T) {
	s, c := newServer(t)
	ctx := context.Background()
	url := s.CreateQueue("chat.fifo", nil)
	send := func(group, dedup, body string) (*sqs.SendMessageBatchOutput, error) {
		e := types.SendMessageBatchRequestEntry{Id: aws.String("a"), MessageBody: aws.String(body)}
		if group != "" {
			e.MessageGroupId = aws.String(group)
		}
		if dedup != "" {
			e.MessageDeduplicationId = aws.String(dedup)
		}
		return c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: []types.SendMessageBatchRequestEntry{e}})
	}
	out, _ := send("", "d1", "x")
	if len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "MissingParameter" {
		t.Errorf("no group id: %+v", out.Failed)
	}
	out, _ = send("g", "", "x")
	if len(out.Failed) != 1 || aws.ToString(out.Failed[0].Code) != "InvalidParameterValue" {
		t.Errorf("no dedup id without content-based dedup: %+v", out.Failed)
	}
	first, err := send("g", "d1", "one")
	if err != nil || len(first.Successful) != 1 {
		t.Fatal(err, first)
	}
	again, err := send("g", "d1", "one again")
	if err != nil || len(again.Successful) != 1 || aws.ToString(again.Successful[0].MessageId) != aws.ToString(first.Successful[0].MessageId) {
		t.Fatalf("duplicate send: %v %+v", err, again)
	}
	if s.Count(url) != 1 || s.Calls().Deduplicated != 1 {
		t.Errorf("stored %d, deduplicated %d; want 1, 1", s.Count(url), s.Calls().Deduplicated)
	}
	m := s.Received(url)[0]
	if m.GroupID != "g" || m.DedupID != "d1" || m.SequenceNumber == "" {
		t.Errorf("recorded %+v", m)
	}
}

func TestFaults(t *testing.T) {
	s, c := newServer(t, sqstest.WithSeed(7))
	ctx := context.Background()
	url := s.CreateQueue("faults", nil)
	batch := func() (*sqs.SendMessageBatchOutput, error) {
		return c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries(3, func(i int) string { return fmt.Sprint("m", i) })})
	}

	remove := s.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Times: 2})
	for i := 0; i < 2; i++ {
		if _, err := batch(); code(err) != "RequestThrottled" {
			t.Errorf("throttled call %d: %v", i, err)
		}
	}
	if _, err := batch(); err != nil {
		t.Errorf("after Times ran out: %v", err)
	}
	remove()

	for _, tt := range []struct {
		code   string
		status int
	}{{"InternalError", 500}, {"ServiceUnavailable", 503}, {"AccessDenied", 403}, {"QueueDoesNotExist", 400}} {
		s.AddFault(sqstest.Fault{Code: tt.code, Times: 1})
		_, err := batch()
		var re interface{ HTTPStatusCode() int }
		if !errors.As(err, &re) || re.HTTPStatusCode() != tt.status {
			t.Errorf("%s: %v, want HTTP %d", tt.code, err, tt.status)
		}
	}

	s.AddFault(sqstest.Fault{Times: 1, FailEntries: func(i int, id string) *sqstest.EntryFailure {
		if i == 1 {
			return &sqstest.EntryFailure{Code: "InternalError", Message: "try again"}
		}
		return nil
	}})
	out, err := batch()
	if err != nil || len(out.Failed) != 1 || aws.ToString(out.Failed[0].Id) != "e1" || out.Failed[0].SenderFault {
		t.Errorf("failed entries: %v %+v", err, out)
	}

	before := s.Count(url)
	s.AddFault(sqstest.Fault{Drop: sqstest.DropBeforeProcessing, Times: 1})
	if _, err := batch(); err == nil {
		t.Errorf("drop before processing: nil error")
	}
	if s.Count(url) != before {
		t.Errorf("drop before processing stored messages")
	}
	s.AddFault(sqstest.Fault{Drop: sqstest.DropAfterProcessing, Times: 1})
	if _, err := batch(); err == nil {
		t.Errorf("drop after processing: nil error")
	}
	if s.Count(url) != before+3 {
		t.Errorf("drop after processing: stored %d, want %d", s.Count(url), before+3)
	}

	s.SetOutage(true)
	if _, err := batch(); code(err) != "ServiceUnavailable" {
		t.Errorf("outage: %v", err)
	}
	s.SetOutage(false)
	if _, err := batch(); err != nil {
		t.Errorf("after outage: %v", err)
	}

	s.AddFault(sqstest.Fault{Latency: 30 * time.Millisecond, Times: 1})
	start := time.Now()
	if _, err := batch(); err != nil || time.Since(start) < 30*time.Millisecond {
		t.Errorf("latency: %v after %v", err, time.Since(start))
	}
	// Latency gives way to the caller's deadline.
	s.AddFault(sqstest.Fault{Latency: time.Minute, Times: 1})
	short, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := c.SendMessageBatch(short, &sqs.SendMessageBatchInput{QueueUrl: aws.String(url), Entries: entries(1, func(int) string { return "x" })}); err == nil {
		t.Errorf("a call past its deadline succeeded")
	}
	if s.Calls().Faults == 0 {
		t.Errorf("no faults counted")
	}
}

func TestProbabilityIsSeeded(t *testing.T) {
	pattern := func() string {
		s := sqstest.NewServer(sqstest.WithSeed(42))
		defer s.Close()
		c := s.Client()
		url := s.CreateQueue("p", nil)
		s.AddFault(sqstest.Fault{Code: "RequestThrottled", Probability: 0.5})
		var b strings.Builder
		for i := 0; i < 40; i++ {
			_, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")})
			if err != nil {
				b.WriteByte('T')
			} else {
				b.WriteByte('.')
			}
		}
		return b.String()
	}
	a, b := pattern(), pattern()
	if a != b {
		t.Errorf("same seed, different faults:\n%s\n%s", a, b)
	}
	if !strings.Contains(a, "T") || !strings.Contains(a, ".") {
		t.Errorf("probability 0.5 gave %s", a)
	}
}

func TestLongPollReturnsWhenAMessageArrives(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("poll", nil)
	done := make(chan int, 1)
	go func() {
		r, err := c.ReceiveMessage(context.Background(), &sqs.ReceiveMessageInput{QueueUrl: aws.String(url), WaitTimeSeconds: 10})
		if err != nil {
			done <- -1
			return
		}
		done <- len(r.Messages)
	}()
	time.Sleep(20 * time.Millisecond) // let the poll start; the result holds either way
	if _, err := c.SendMessage(context.Background(), &sqs.SendMessageInput{QueueUrl: aws.String(url), MessageBody: aws.String("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-done:
		if n != 1 {
			t.Errorf("long poll got %d messages, want 1", n)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("long poll did not return after a message arrived")
	}
}
