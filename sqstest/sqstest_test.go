package sqstest_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"go.uber.org/goleak"

	"github.com/sqshook/sqshook/sqstest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

var ctx = context.Background()

func newServer(t *testing.T, opts ...sqstest.Option) (*sqstest.Server, *sqs.Client) {
	t.Helper()
	s := sqstest.NewServer(opts...)
	t.Cleanup(s.Close)
	return s, s.Client()
}

// fakeClock is a clock for WithClock that moves only when told.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func entries(n int, body func(i int) string) []types.SendMessageBatchRequestEntry {
	es := make([]types.SendMessageBatchRequestEntry, n)
	for i := range es {
		es[i] = types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("e", i)), MessageBody: aws.String(body(i))}
	}
	return es
}

func fixed(s string) func(int) string { return func(int) string { return s } }

// apiError returns the SDK's API error in err, failing the test if there is
// none.
func apiError(t *testing.T, err error) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v (%T) is not a smithy.APIError", err, err)
	}
	return ae
}

func code(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func TestQueuesAndAttributes(t *testing.T) {
	s, c := newServer(t)
	out, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders.fifo"), Attributes: map[string]string{
		"FifoQueue": "true", "ContentBasedDeduplication": "true", "MaximumMessageSize": "1048576",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq.fifo","maxReceiveCount":"5"}`,
	}})
	if err != nil {
		t.Fatal(err)
	}
	url := aws.ToString(out.QueueUrl)
	if want := s.URL() + "/123456789012/orders.fifo"; url != want || s.QueueURL("orders.fifo") != want {
		t.Errorf("QueueUrl = %s, QueueURL = %s, want %s", url, s.QueueURL("orders.fifo"), want)
	}
	got, err := c.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String("orders.fifo")})
	if err != nil || aws.ToString(got.QueueUrl) != url {
		t.Errorf("GetQueueUrl = %v, %v", got, err)
	}
	attrs, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll}})
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]string{
		"FifoQueue": "true", "ContentBasedDeduplication": "true", "MaximumMessageSize": "1048576",
		"QueueArn": "arn:aws:sqs:us-east-1:123456789012:orders.fifo", "ApproximateNumberOfMessages": "0",
		"VisibilityTimeout": "30", "DelaySeconds": "0",
		"RedrivePolicy": `{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:dlq.fifo","maxReceiveCount":"5"}`,
	} {
		if attrs.Attributes[k] != want {
			t.Errorf("attribute %s = %q, want %q", k, attrs.Attributes[k], want)
		}
	}
	if _, ok := attrs.Attributes["Policy"]; ok {
		t.Errorf("Policy reported though never set")
	}

	// A standard queue: no FIFO attributes; Policy once set; the default
	// size limit.
	std := s.CreateQueue("events", map[string]string{"Policy": `{"Version":"2012-10-17","Statement":[]}`})
	attrs, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &std, AttributeNames: []types.QueueAttributeName{"All"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := attrs.Attributes["FifoQueue"]; ok {
		t.Errorf("standard queue reports FifoQueue")
	}
	if attrs.Attributes["Policy"] == "" || attrs.Attributes["MaximumMessageSize"] != "262144" {
		t.Errorf("standard queue attributes %v", attrs.Attributes)
	}
	// Only the attributes asked for.
	attrs, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &std, AttributeNames: []types.QueueAttributeName{"QueueArn"}})
	if err != nil || len(attrs.Attributes) != 1 || attrs.Attributes["QueueArn"] != "arn:aws:sqs:us-east-1:123456789012:events" {
		t.Errorf("QueueArn only: %v, %v", attrs.Attributes, err)
	}
	_, err = c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &std, AttributeNames: []types.QueueAttributeName{"Colour"}})
	if !errors.As(err, new(*types.InvalidAttributeName)) {
		t.Errorf("unknown attribute name: %v", err)
	}

	// An AWS-shaped URL naming the queue works too.
	if _, err := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: aws.String("https://sqs.us-east-1.amazonaws.com/123456789012/orders.fifo")}); err != nil {
		t.Errorf("AWS-shaped URL: %v", err)
	}

	// SetQueueAttributes changes what is enforced.
	if _, err := c.SetQueueAttributes(ctx, &sqs.SetQueueAttributesInput{QueueUrl: &std, Attributes: map[string]string{"MaximumMessageSize": "1024"}}); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String(strings.Repeat("x", 1025))})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("1025 bytes after MaximumMessageSize=1024: %v", err)
	}

	list, err := c.ListQueues(ctx, &sqs.ListQueuesInput{QueueNamePrefix: aws.String("ord")})
	if err != nil || len(list.QueueUrls) != 1 || list.QueueUrls[0] != url {
		t.Errorf("ListQueues(ord) = %v, %v", list, err)
	}

	if _, err := c.DeleteQueue(ctx, &sqs.DeleteQueueInput{QueueUrl: &std}); err != nil {
		t.Fatal(err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("x")})
	var qdne *types.QueueDoesNotExist
	if !errors.As(err, &qdne) {
		t.Errorf("send to deleted queue: %v, want *types.QueueDoesNotExist", err)
	}
}

func TestCreateQueueValidation(t *testing.T) {
	_, c := newServer(t)
	tests := []struct {
		name  string
		attrs map[string]string
		code  string
	}{
		{"bad name!", nil, "InvalidParameterValue"},
		{strings.Repeat("n", 81), nil, "InvalidParameterValue"},
		{"plain", map[string]string{"FifoQueue": "true"}, "InvalidParameterValue"},
		{"plain", map[string]string{"ContentBasedDeduplication": "true"}, "InvalidAttributeName"},
		{"plain", map[string]string{"Colour": "blue"}, "InvalidAttributeName"},
		{"plain", map[string]string{"MaximumMessageSize": "1048577"}, "InvalidAttributeValue"},
		{"plain", map[string]string{"MaximumMessageSize": "1023"}, "InvalidAttributeValue"},
		{"plain", map[string]string{"VisibilityTimeout": "soon"}, "InvalidAttributeValue"},
		{"plain", map[string]string{"RedrivePolicy": "{"}, "InvalidAttributeValue"},
	}
	for _, tt := range tests {
		_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(tt.name), Attributes: tt.attrs})
		if code(err) != tt.code {
			t.Errorf("CreateQueue(%.20s, %v) = %v, want code %s", tt.name, tt.attrs, err, tt.code)
		}
	}
	// The same queue again is fine; with other attributes it is not.
	for i := 0; i < 2; i++ {
		if _, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q"), Attributes: map[string]string{"VisibilityTimeout": "60"}}); err != nil {
			t.Fatalf("CreateQueue #%d: %v", i, err)
		}
	}
	_, err := c.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("q"), Attributes: map[string]string{"VisibilityTimeout": "61"}})
	if !errors.As(err, new(*types.QueueNameExists)) || code(err) != "QueueAlreadyExists" {
		t.Errorf("CreateQueue with other attributes: %v (code %q), want *types.QueueNameExists with code QueueAlreadyExists", err, code(err))
	}
}

// TestErrorWireFormat checks the bytes of an error response: what the SDK
// decodes in the other tests.
func TestErrorWireFormat(t *testing.T) {
	s, _ := newServer(t)
	req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(`{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/123456789012/missing","MessageBody":"x"}`))
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("X-Amz-Target", "AmazonSQS.SendMessage")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	http.DefaultClient.CloseIdleConnections()
	if resp.StatusCode != 400 {
		t.Errorf("status %d, want 400", resp.StatusCode)
	}
	if got := resp.Header.Get("X-Amzn-Query-Error"); got != "AWS.SimpleQueueService.NonExistentQueue;Sender" {
		t.Errorf("X-Amzn-Query-Error = %q", got)
	}
	if got := resp.Header.Get("Content-Type"); got != "application/x-amz-json-1.0" {
		t.Errorf("Content-Type = %q", got)
	}
	var e map[string]string
	if err := json.Unmarshal(body, &e); err != nil || e["__type"] != "com.amazonaws.sqs#QueueDoesNotExist" || e["message"] == "" {
		t.Errorf("body %s", body)
	}

	// Requests that are not SQS JSON calls.
	for _, tt := range []struct{ target, body, code string }{
		{"", `{}`, "UnknownOperationException"},
		{"AmazonSQS.TagQueue", `{}`, "UnknownOperationException"},
		{"AmazonSQS.SendMessage", `{"QueueUrl":`, "SerializationException"},
	} {
		req, _ := http.NewRequest(http.MethodPost, s.URL()+"/", strings.NewReader(tt.body))
		req.Header.Set("X-Amz-Target", tt.target)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var e map[string]string
		json.NewDecoder(resp.Body).Decode(&e)
		resp.Body.Close()
		if e["__type"] != "com.amazonaws.sqs#"+tt.code || resp.StatusCode != 400 {
			t.Errorf("target %q body %q: %d %v, want 400 %s", tt.target, tt.body, resp.StatusCode, e, tt.code)
		}
	}
	http.DefaultClient.CloseIdleConnections()
}

func TestSendBatchReceiveDeleteRoundTrip(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("events", nil)
	allBytes := make([]byte, 256)
	for i := range allBytes {
		allBytes[i] = byte(i)
	}
	attrs := map[string]types.MessageAttributeValue{
		"event_type":  {DataType: aws.String("String"), StringValue: aws.String("message.new")},
		"n":           {DataType: aws.String("Number"), StringValue: aws.String("-42.5e3")},
		"raw":         {DataType: aws.String("Binary"), BinaryValue: allBytes},
		"custom.kind": {DataType: aws.String("String.json"), StringValue: aws.String(`{"a":"ü"}`)},
		"blob.kind":   {DataType: aws.String("Binary.gzip"), BinaryValue: []byte{0x1f, 0x8b, 0}},
	}
	// Bodies with every kind of legal character, including the ends of the
	// legal ranges and JSON's special characters.
	body := func(i int) string {
		return fmt.Sprintf("{\"i\":%d}\t\r\n é 👋 <&>'\"\\ \u0020\uD7FF\uE000\uFFFD\U00010000\U0010FFFF", i)
	}
	es := entries(10, body)
	for i := range es {
		es[i].MessageAttributes = attrs
	}
	// The SDK checks MD5OfMessageBody of each entry: a wrong digest fails
	// the call.
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: es})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Successful) != 10 || len(out.Failed) != 0 {
		t.Fatalf("%d successful, %d failed", len(out.Successful), len(out.Failed))
	}
	wantAttrMD5 := refMD5(attrs)
	for _, r := range out.Successful {
		if aws.ToString(r.MD5OfMessageAttributes) != wantAttrMD5 {
			t.Errorf("entry %s MD5OfMessageAttributes = %s, want %s", aws.ToString(r.Id), aws.ToString(r.MD5OfMessageAttributes), wantAttrMD5)
		}
		if r.SequenceNumber != nil {
			t.Errorf("standard queue returned SequenceNumber")
		}
	}
	rec := s.Received(url)
	if s.Count(url) != 10 || len(rec) != 10 {
		t.Fatalf("recorded %d, counted %d, want 10", len(rec), s.Count(url))
	}
	for i, m := range rec {
		if m.Body != body(i) || m.MessageID != aws.ToString(out.Successful[i].MessageId) || m.MD5OfMessageAttributes != wantAttrMD5 {
			t.Errorf("record %d = %+v", i, m)
		}
		if string(m.Attributes["raw"].BinaryValue) != string(allBytes) || m.Attributes["custom.kind"].DataType != "String.json" {
			t.Errorf("record %d attributes %v", i, m.Attributes)
		}
	}

	var got []types.Message
	for len(got) < 10 {
		r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: 10, MessageAttributeNames: []string{"All"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(r.Messages) == 0 {
			t.Fatalf("queue empty after %d messages", len(got))
		}
		got = append(got, r.Messages...)
	}
	for i, m := range got {
		if aws.ToString(m.Body) != body(i) {
			t.Errorf("message %d body = %q, want %q", i, aws.ToString(m.Body), body(i))
		}
		if aws.ToString(m.MD5OfMessageAttributes) != wantAttrMD5 || refMD5(m.MessageAttributes) != wantAttrMD5 {
			t.Errorf("message %d attributes differ: MD5 %s, of the attributes %s, want %s", i, aws.ToString(m.MD5OfMessageAttributes), refMD5(m.MessageAttributes), wantAttrMD5)
		}
		if m.Attributes != nil {
			t.Errorf("system attributes %v returned unasked", m.Attributes)
		}
	}
	// Everything is in flight now.
	r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url})
	if err != nil || len(r.Messages) != 0 {
		t.Fatalf("received %d in-flight messages, %v", len(r.Messages), err)
	}
	attrsOut, _ := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"}})
	if a := attrsOut.Attributes; a["ApproximateNumberOfMessages"] != "0" || a["ApproximateNumberOfMessagesNotVisible"] != "10" {
		t.Errorf("counts while in flight: %v", a)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: got[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	var del []types.DeleteMessageBatchRequestEntry
	for i, m := range got[1:] {
		del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("d", i)), ReceiptHandle: m.ReceiptHandle})
	}
	del = del[:8]
	del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String("bogus"), ReceiptHandle: aws.String("not-a-handle")})
	dout, err := c.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: &url, Entries: del})
	if err != nil {
		t.Fatal(err)
	}
	if len(dout.Successful) != 8 || len(dout.Failed) != 1 || aws.ToString(dout.Failed[0].Code) != "ReceiptHandleIsInvalid" || !dout.Failed[0].SenderFault {
		t.Errorf("DeleteMessageBatch: %+v", dout)
	}
	_, err = c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: aws.String("not-a-handle")})
	if !errors.As(err, new(*types.ReceiptHandleIsInvalid)) || httpStatus(err) != 404 {
		t.Errorf("DeleteMessage(bad handle): %v (HTTP %d)", err, httpStatus(err))
	}
	st := s.Calls()
	if st.Delivered != 10 || st.Deleted != 9 || st.Batches != 1 || st.Entries != 10 || st.Accepted != 10 {
		t.Errorf("stats %+v", st)
	}
	if len(s.Received(url)) != 10 {
		t.Errorf("the record shrank after deletes")
	}
}

func TestReceiveVisibilityAndAttributes(t *testing.T) {
	clock := newFakeClock()
	s, c := newServer(t, sqstest.WithClock(clock.Now))
	url := s.CreateQueue("work", map[string]string{"VisibilityTimeout": "10"})
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("job"), MessageAttributes: map[string]types.MessageAttributeValue{
		"trace.id":  {DataType: aws.String("String"), StringValue: aws.String("t1")},
		"trace.hop": {DataType: aws.String("Number"), StringValue: aws.String("3")},
		"other":     {DataType: aws.String("String"), StringValue: aws.String("o")},
	}})
	if err != nil {
		t.Fatal(err)
	}
	receive := func() []types.Message {
		t.Helper()
		r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: &url, MessageAttributeNames: []string{"trace.*"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{"ApproximateReceiveCount", "SentTimestamp"},
		})
		if err != nil {
			t.Fatal(err)
		}
		return r.Messages
	}
	first := receive()
	if len(first) != 1 {
		t.Fatalf("received %d", len(first))
	}
	m := first[0]
	if len(m.MessageAttributes) != 2 || m.MessageAttributes["other"].DataType != nil {
		t.Errorf("attributes for trace.*: %v", m.MessageAttributes)
	}
	if got, want := aws.ToString(m.MD5OfMessageAttributes), refMD5(m.MessageAttributes); got != want {
		t.Errorf("MD5OfMessageAttributes %s, want the digest of the attributes returned, %s", got, want)
	}
	if m.Attributes["ApproximateReceiveCount"] != "1" || m.Attributes["SentTimestamp"] != fmt.Sprint(clock.Now().UnixMilli()) || len(m.Attributes) != 2 {
		t.Errorf("system attributes %v", m.Attributes)
	}
	if len(receive()) != 0 {
		t.Errorf("message visible during its visibility timeout")
	}
	clock.Advance(10 * time.Second)
	again := receive()
	if len(again) != 1 || again[0].Attributes["ApproximateReceiveCount"] != "2" || aws.ToString(again[0].ReceiptHandle) == aws.ToString(m.ReceiptHandle) {
		t.Fatalf("after the timeout: %+v", again)
	}
	// The stale handle is accepted but deletes nothing, as SQS warns.
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: m.ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(10 * time.Second)
	third := receive()
	if len(third) != 1 {
		t.Fatalf("stale receipt handle deleted the message")
	}
	// ChangeMessageVisibility to 0 makes it visible at once.
	if _, err := c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 0}); err != nil {
		t.Fatal(err)
	}
	fourth := receive()
	if len(fourth) != 1 || fourth[0].Attributes["ApproximateReceiveCount"] != "4" {
		t.Fatalf("after ChangeMessageVisibility to 0: %+v", fourth)
	}
	_, err = c.ChangeMessageVisibility(ctx, &sqs.ChangeMessageVisibilityInput{QueueUrl: &url, ReceiptHandle: third[0].ReceiptHandle, VisibilityTimeout: 5})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("ChangeMessageVisibility with a stale handle: %v", err)
	}
	if _, err := c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &url, ReceiptHandle: fourth[0].ReceiptHandle}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(time.Hour)
	if len(receive()) != 0 {
		t.Errorf("deleted message came back")
	}

	for _, n := range []int32{11, -1} {
		_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, MaxNumberOfMessages: n})
		if code(err) != "InvalidParameterValue" {
			t.Errorf("MaxNumberOfMessages %d: %v", n, err)
		}
	}
	_, err = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 21})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("WaitTimeSeconds 21: %v", err)
	}
}

func TestDelayedMessages(t *testing.T) {
	clock := newFakeClock()
	s, c := newServer(t, sqstest.WithClock(clock.Now))
	url := s.CreateQueue("later", nil)
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), DelaySeconds: 60}); err != nil {
		t.Fatal(err)
	}
	r, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url})
	if len(r.Messages) != 0 {
		t.Errorf("delayed message received early")
	}
	a, _ := c.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: &url, AttributeNames: []types.QueueAttributeName{"ApproximateNumberOfMessagesDelayed"}})
	if a.Attributes["ApproximateNumberOfMessagesDelayed"] != "1" {
		t.Errorf("delayed count %v", a.Attributes)
	}
	clock.Advance(time.Minute)
	r, _ = c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url})
	if len(r.Messages) != 1 {
		t.Errorf("delayed message not received after its delay")
	}
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), DelaySeconds: 901})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("DelaySeconds 901: %v", err)
	}
}

func TestLongPoll(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("poll", nil)

	// A poll returns as soon as a message arrives, long before its wait
	// ends. (If the message arrives before the poll starts, the poll
	// returns it at once: the outcome is the same.)
	done := make(chan []types.Message, 1)
	start := time.Now()
	go func() {
		r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		if err != nil {
			t.Error(err)
		}
		done <- r.Messages
	}()
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("ping")}); err != nil {
		t.Fatal(err)
	}
	select {
	case msgs := <-done:
		if len(msgs) != 1 || aws.ToString(msgs[0].Body) != "ping" {
			t.Errorf("long poll got %v", msgs)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("long poll took %v", time.Since(start))
		}
	case <-time.After(15 * time.Second):
		t.Fatal("long poll did not return after a message arrived")
	}

	// A poll gives way to the caller's deadline.
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err := c.ReceiveMessage(short, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("poll past its deadline: %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Errorf("cancelled poll took %v", time.Since(start))
	}

	// An empty queue answers after the wait.
	start = time.Now()
	r, err := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 1})
	if err != nil || len(r.Messages) != 0 || time.Since(start) < time.Second {
		t.Errorf("empty poll: %v messages, %v, after %v", len(r.Messages), err, time.Since(start))
	}
}

// refMD5 is an independent rendering of SQS's MD5OfMessageAttributes over
// the SDK's types.
func refMD5(attrs map[string]types.MessageAttributeValue) string {
	m := map[string]sqstest.Attribute{}
	for k, v := range attrs {
		m[k] = sqstest.Attribute{DataType: aws.ToString(v.DataType), StringValue: aws.ToString(v.StringValue), BinaryValue: v.BinaryValue}
	}
	return sqstest.MD5OfMessageAttributes(m)
}

// TestMD5OfMessageAttributesReference checks the digest against published
// reference values of the algorithm, directly and as the server returns it
// from SendMessage. (The SDK verifies only the body's MD5, so this test is
// what guards the attributes' digest.)
func TestMD5OfMessageAttributesReference(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("md5", nil)
	str := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	num := func(v string) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(v)}
	}
	bin := func(v []byte) types.MessageAttributeValue {
		return types.MessageAttributeValue{DataType: aws.String("Binary"), BinaryValue: v}
	}
	tests := []struct {
		attrs map[string]types.MessageAttributeValue
		want  string
	}{
		{map[string]types.MessageAttributeValue{"test_attribute_name_2": str("test_attribute_value_2"), "test_attribute_name_1": str("test_attribute_value_1")}, "d53f3b558fe951154770f25cb63dbba9"},
		{map[string]types.MessageAttributeValue{"test_attribute_name": bin([]byte("test_attribute_value"))}, "23f6bd27ea87aab7dfeadcc9aebee495"},
		{map[string]types.MessageAttributeValue{"SellerName": str("Example Store")}, "cd28f3b68aeee4b2eac9c66f2f694b58"},
		{map[string]types.MessageAttributeValue{"timestamp": num("1493147359900")}, "235c5c510d26fb653d073faed50ae77c"},
		{map[string]types.MessageAttributeValue{"ordinal": num("1"), "category": str("test")}, "d21ae90c49061e927f57df5f5d72be1f"},
	}
	for _, tt := range tests {
		if got := refMD5(tt.attrs); got != tt.want {
			t.Errorf("MD5OfMessageAttributes(%v) = %s, want %s", tt.attrs, got, tt.want)
		}
		out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageAttributes: tt.attrs})
		if err != nil {
			t.Fatal(err)
		}
		if got := aws.ToString(out.MD5OfMessageAttributes); got != tt.want {
			t.Errorf("SendMessage MD5OfMessageAttributes = %s, want %s", got, tt.want)
		}
	}
	out, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
	if err != nil || out.MD5OfMessageAttributes != nil {
		t.Errorf("without attributes: MD5OfMessageAttributes %v, %v; want none", out.MD5OfMessageAttributes, err)
	}
	if sqstest.MD5OfMessageAttributes(nil) != "" {
		t.Errorf("digest of no attributes")
	}
}

func TestBatchLimits(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("limits", map[string]string{"MaximumMessageSize": "1048576"})
	send := func(es []types.SendMessageBatchRequestEntry) error {
		_, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: es})
		return err
	}
	tests := []struct {
		name  string
		es    []types.SendMessageBatchRequestEntry
		code  string
		typed any
	}{
		{"no entries", []types.SendMessageBatchRequestEntry{}, "AWS.SimpleQueueService.EmptyBatchRequest", new(*types.EmptyBatchRequest)},
		{"eleven entries", entries(11, fixed("x")), "AWS.SimpleQueueService.TooManyEntriesInBatchRequest", new(*types.TooManyEntriesInBatchRequest)},
		{"repeated ids", append(entries(2, fixed("x")), entries(1, fixed("y"))...), "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", new(*types.BatchEntryIdsNotDistinct)},
		{"id with a space", []types.SendMessageBatchRequestEntry{{Id: aws.String("a b"), MessageBody: aws.String("x")}}, "AWS.SimpleQueueService.InvalidBatchEntryId", new(*types.InvalidBatchEntryId)},
		{"empty id", []types.SendMessageBatchRequestEntry{{Id: aws.String(""), MessageBody: aws.String("x")}}, "AWS.SimpleQueueService.InvalidBatchEntryId", new(*types.InvalidBatchEntryId)},
		{"81-character id", []types.SendMessageBatchRequestEntry{{Id: aws.String(strings.Repeat("a", 81)), MessageBody: aws.String("x")}}, "AWS.SimpleQueueService.InvalidBatchEntryId", new(*types.InvalidBatchEntryId)},
		{"over 1 MiB in all", entries(5, fixed(strings.Repeat("y", 256*1024))), "AWS.SimpleQueueService.BatchRequestTooLong", new(*types.BatchRequestTooLong)},
	}
	for _, tt := range tests {
		err := send(tt.es)
		if code(err) != tt.code || !errors.As(err, tt.typed) || httpStatus(err) != 400 || apiError(t, err).ErrorFault() != smithy.FaultClient {
			t.Errorf("%s: error %v (HTTP %d), want %s as %T", tt.name, err, httpStatus(err), tt.code, tt.typed)
		}
	}
	if n := s.Count(url); n != 0 || s.Calls().Batches != 0 {
		t.Errorf("rejected batches stored %d messages, counted %d batches", n, s.Calls().Batches)
	}
	// Exactly 1 MiB in all, and 80-character ids, pass.
	es := entries(4, fixed(strings.Repeat("y", 256*1024)))
	es[0].Id = aws.String(strings.Repeat("A-_9", 20))
	if err := send(es); err != nil {
		t.Errorf("batch of exactly 1 MiB: %v", err)
	}

	// A server emulating the 256 KiB batch limit.
	s2, c2 := newServer(t, sqstest.WithMaxBatchBytes(256*1024))
	url2 := s2.CreateQueue("old", nil)
	_, err := c2.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url2, Entries: entries(2, fixed(strings.Repeat("z", 128*1024+1)))})
	if !errors.As(err, new(*types.BatchRequestTooLong)) {
		t.Errorf("2 × (128 KiB + 1) with a 256 KiB limit: %v", err)
	}
	if _, err := c2.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url2, Entries: entries(2, fixed(strings.Repeat("z", 128*1024)))}); err != nil {
		t.Errorf("2 × 128 KiB with a 256 KiB limit: %v", err)
	}
}

func TestPerEntryFailures(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("entries", map[string]string{"MaximumMessageSize": "1024"})
	tooMany := map[string]types.MessageAttributeValue{}
	for i := 0; i < 11; i++ {
		tooMany[fmt.Sprint("a", i)] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String("v")}
	}
	es := []types.SendMessageBatchRequestEntry{
		{Id: aws.String("big"), MessageBody: aws.String(strings.Repeat("z", 1025))},
		{Id: aws.String("control"), MessageBody: aws.String("a\x01b")},
		{Id: aws.String("nonchar"), MessageBody: aws.String("a\uFFFEb")},
		{Id: aws.String("attrs"), MessageBody: aws.String("x"), MessageAttributes: tooMany},
		{Id: aws.String("reserved"), MessageBody: aws.String("x"), MessageAttributes: map[string]types.MessageAttributeValue{"AWS.trace": {DataType: aws.String("String"), StringValue: aws.String("v")}}},
		{Id: aws.String("badtype"), MessageBody: aws.String("x"), MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("Text"), StringValue: aws.String("v")}}},
		{Id: aws.String("nan"), MessageBody: aws.String("x"), MessageAttributes: map[string]types.MessageAttributeValue{"k": {DataType: aws.String("Number"), StringValue: aws.String("many")}}},
		{Id: aws.String("ok"), MessageBody: aws.String("fine")},
	}
	out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: es})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"big": "InvalidParameterValue", "control": "InvalidMessageContents", "nonchar": "InvalidMessageContents",
		"attrs": "InvalidParameterValue", "reserved": "InvalidParameterValue", "badtype": "InvalidParameterValue", "nan": "InvalidParameterValue",
	}
	if len(out.Failed) != len(want) {
		t.Errorf("%d failed, want %d: %+v", len(out.Failed), len(want), out.Failed)
	}
	for _, f := range out.Failed {
		if id := aws.ToString(f.Id); aws.ToString(f.Code) != want[id] || !f.SenderFault || aws.ToString(f.Message) == "" {
			t.Errorf("entry %s failed with %s (sender %v, %q), want %s", id, aws.ToString(f.Code), f.SenderFault, aws.ToString(f.Message), want[id])
		}
	}
	if len(out.Successful) != 1 || aws.ToString(out.Successful[0].Id) != "ok" || s.Count(url) != 1 {
		t.Errorf("successful %+v, stored %d; want only ok", out.Successful, s.Count(url))
	}
	if st := s.Calls(); st.Entries != 8 || st.EntriesFailed != 7 {
		t.Errorf("stats: %d entries, %d failed", st.Entries, st.EntriesFailed)
	}
}

func TestSendMessageLimits(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("single", map[string]string{"MaximumMessageSize": "1024"})
	// The size counts the body and the attributes' names, types and values.
	attr := map[string]types.MessageAttributeValue{"k": {DataType: aws.String("String"), StringValue: aws.String(strings.Repeat("v", 17))}}
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("b", 1000)), MessageAttributes: attr}); err != nil {
		t.Errorf("exactly 1024 bytes: %v", err)
	}
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(strings.Repeat("b", 1001)), MessageAttributes: attr})
	if code(err) != "InvalidParameterValue" || httpStatus(err) != 400 {
		t.Errorf("1025 bytes: %v", err)
	}
	for _, body := range []string{"\x00", "a\x08", "\x1f", "\uFFFF", "\uFFFE"} {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body)})
		if !errors.As(err, new(*types.InvalidMessageContents)) || code(err) != "InvalidMessageContents" {
			t.Errorf("body %q: %v, want *types.InvalidMessageContents", body, err)
		}
	}
	for _, body := range []string{"\t", "\n", "\r", " ", "\uD7FF", "\uE000", "\uFFFD", "\U00010000", "\U0010FFFF"} {
		if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String(body)}); err != nil {
			t.Errorf("body %q: %v", body, err)
		}
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("")})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("empty body: %v", err)
	}
	// A standard queue takes a MessageGroupId (fair queues) but no
	// deduplication id.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageGroupId: aws.String("tenant-1")}); err != nil {
		t.Errorf("MessageGroupId on a standard queue: %v", err)
	}
	_, err = c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageDeduplicationId: aws.String("d")})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("MessageDeduplicationId on a standard queue: %v", err)
	}
}

func TestFIFO(t *testing.T) {
	clock := newFakeClock()
	s, c := newServer(t, sqstest.WithClock(clock.Now))
	url := s.CreateQueue("chat.fifo", nil)
	send := func(url, group, dedup, body string) (*sqs.SendMessageBatchOutput, error) {
		e := types.SendMessageBatchRequestEntry{Id: aws.String("a"), MessageBody: aws.String(body)}
		if group != "" {
			e.MessageGroupId = aws.String(group)
		}
		if dedup != "" {
			e.MessageDeduplicationId = aws.String(dedup)
		}
		return c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: []types.SendMessageBatchRequestEntry{e}})
	}
	failed := func(out *sqs.SendMessageBatchOutput, err error) string {
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Failed) != 1 {
			return ""
		}
		return aws.ToString(out.Failed[0].Code)
	}
	if got := failed(send(url, "", "d1", "x")); got != "MissingParameter" {
		t.Errorf("no group id: %s", got)
	}
	if got := failed(send(url, "g", "", "x")); got != "InvalidParameterValue" {
		t.Errorf("no dedup id without content-based deduplication: %s", got)
	}
	if got := failed(send(url, "g h", "d1", "x")); got != "InvalidParameterValue" {
		t.Errorf("group id with a space: %s", got)
	}
	if got := failed(send(url, "g", strings.Repeat("d", 129), "x")); got != "InvalidParameterValue" {
		t.Errorf("129-character dedup id: %s", got)
	}
	_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), DelaySeconds: 5, MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String("d")})
	if code(err) != "InvalidParameterValue" {
		t.Errorf("per-message delay on a FIFO queue: %v", err)
	}

	first, err := send(url, "g", "d1", "one")
	if err != nil || len(first.Successful) != 1 {
		t.Fatal(err, first)
	}
	clock.Advance(4 * time.Minute)
	again, err := send(url, "g", "d1", "one again")
	if err != nil || len(again.Successful) != 1 {
		t.Fatal(err, again)
	}
	if a, b := again.Successful[0], first.Successful[0]; aws.ToString(a.MessageId) != aws.ToString(b.MessageId) || aws.ToString(a.SequenceNumber) != aws.ToString(b.SequenceNumber) {
		t.Errorf("duplicate answered %s/%s, want the first's %s/%s", aws.ToString(a.MessageId), aws.ToString(a.SequenceNumber), aws.ToString(b.MessageId), aws.ToString(b.SequenceNumber))
	}
	if s.Count(url) != 1 || s.Calls().Deduplicated != 1 {
		t.Errorf("stored %d, deduplicated %d; want 1, 1", s.Count(url), s.Calls().Deduplicated)
	}
	// After five minutes the id is forgotten.
	clock.Advance(time.Minute)
	later, err := send(url, "g", "d1", "one, later")
	if err != nil || len(later.Successful) != 1 || aws.ToString(later.Successful[0].MessageId) == aws.ToString(first.Successful[0].MessageId) {
		t.Fatalf("after the window: %v %+v", err, later)
	}
	if seq1, seq2 := aws.ToString(first.Successful[0].SequenceNumber), aws.ToString(later.Successful[0].SequenceNumber); seq1 == "" || seq2 <= seq1 || len(seq1) != len(seq2) {
		t.Errorf("sequence numbers %q then %q, want increasing", seq1, seq2)
	}
	rec := s.Received(url)
	if len(rec) != 2 || rec[0].GroupID != "g" || rec[0].DedupID != "d1" || rec[0].SequenceNumber == "" || rec[1].Body != "one, later" {
		t.Errorf("recorded %+v", rec)
	}

	// Content-based deduplication: the body decides.
	cbd := s.CreateQueue("cbd.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	a, _ := send(cbd, "g", "", "same")
	b, _ := send(cbd, "g", "", "same")
	d, _ := send(cbd, "g", "", "different")
	if aws.ToString(a.Successful[0].MessageId) != aws.ToString(b.Successful[0].MessageId) || aws.ToString(a.Successful[0].MessageId) == aws.ToString(d.Successful[0].MessageId) || s.Count(cbd) != 2 {
		t.Errorf("content-based deduplication: %s %s %s, stored %d", aws.ToString(a.Successful[0].MessageId), aws.ToString(b.Successful[0].MessageId), aws.ToString(d.Successful[0].MessageId), s.Count(cbd))
	}
	if id := s.Received(cbd)[0].DedupID; len(id) != 64 {
		t.Errorf("content-based deduplication id %q, want a SHA-256 in hex", id)
	}

	// Deduplication per message group.
	pg := s.CreateQueue("pg.fifo", map[string]string{"DeduplicationScope": "messageGroup"})
	send(pg, "g1", "d", "x")
	send(pg, "g2", "d", "x")
	send(pg, "g2", "d", "x")
	if s.Count(pg) != 2 {
		t.Errorf("per-group deduplication stored %d, want 2", s.Count(pg))
	}

	// A FIFO queue delivers a group in order, one batch in flight at a time.
	order := s.CreateQueue("order.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	var es []types.SendMessageBatchRequestEntry
	for i := 0; i < 6; i++ {
		es = append(es, types.SendMessageBatchRequestEntry{Id: aws.String(fmt.Sprint("m", i)), MessageBody: aws.String(fmt.Sprint(i)), MessageGroupId: aws.String(fmt.Sprint("g", i%2))})
	}
	if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &order, Entries: es}); err != nil {
		t.Fatal(err)
	}
	r, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &order, MaxNumberOfMessages: 2})
	if len(r.Messages) != 2 || aws.ToString(r.Messages[0].Body) != "0" || aws.ToString(r.Messages[1].Body) != "1" {
		t.Fatalf("first receive %v", r.Messages)
	}
	r2, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &order, MaxNumberOfMessages: 10})
	if len(r2.Messages) != 0 {
		t.Errorf("received %d messages of groups with messages in flight", len(r2.Messages))
	}
	c.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: &order, ReceiptHandle: r.Messages[0].ReceiptHandle})
	r3, _ := c.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{QueueUrl: &order, MaxNumberOfMessages: 10, MessageSystemAttributeNames: []types.MessageSystemAttributeName{"All"}})
	if len(r3.Messages) != 2 || aws.ToString(r3.Messages[0].Body) != "2" || r3.Messages[0].Attributes["MessageGroupId"] != "g0" || r3.Messages[0].Attributes["SequenceNumber"] == "" {
		t.Errorf("after deleting group g0's head: %+v", r3.Messages)
	}
}

func TestConcurrentLoad(t *testing.T) {
	for _, record := range []bool{true, false} {
		t.Run(fmt.Sprint("record=", record), func(t *testing.T) {
			opts := []sqstest.Option{sqstest.WithLatency(2 * time.Millisecond)}
			if !record {
				opts = append(opts, sqstest.WithoutRecording())
			}
			s, c := newServer(t, opts...)
			url := s.CreateQueue("load", nil)
			const workers, batches = 32, 20
			var wg sync.WaitGroup
			for w := 0; w < workers; w++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for b := 0; b < batches; b++ {
						out, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &url, Entries: entries(10, func(i int) string { return fmt.Sprintf("%d/%d/%d", w, b, i) })})
						if err != nil || len(out.Successful) != 10 {
							t.Errorf("worker %d batch %d: %v", w, b, err)
							return
						}
					}
				}()
			}
			wg.Wait()
			const want = workers * batches * 10
			st := s.Calls()
			if s.Count(url) != want || st.Accepted != want || st.Batches != workers*batches || st.Calls["SendMessageBatch"] != workers*batches {
				t.Errorf("count %d, stats %+v; want %d", s.Count(url), st, want)
			}
			if st.MaxConcurrency < 2 {
				t.Errorf("MaxConcurrency %d with %d workers", st.MaxConcurrency, workers)
			}
			if got := len(s.Received(url)); record && got != want || !record && got != 0 {
				t.Errorf("recorded %d", got)
			}
			ids := map[string]bool{}
			for _, m := range s.Received(url) {
				if ids[m.MessageID] {
					t.Fatalf("message id %s repeated", m.MessageID)
				}
				ids[m.MessageID] = true
			}
		})
	}
}

func TestReset(t *testing.T) {
	s, c := newServer(t)
	url := s.CreateQueue("r.fifo", map[string]string{"ContentBasedDeduplication": "true"})
	send := func() error {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x"), MessageGroupId: aws.String("g")})
		return err
	}
	send()
	s.AddFault(sqstest.Fault{Code: "RequestThrottled"})
	s.SetOutage(true)
	s.Reset()
	if s.Count(url) != 0 || len(s.Received(url)) != 0 || s.Calls().Accepted != 0 || len(s.Calls().Calls) != 0 {
		t.Errorf("after Reset: count %d, stats %+v", s.Count(url), s.Calls())
	}
	if err := send(); err != nil {
		t.Errorf("send after Reset (faults, outage and dedup ids gone): %v", err)
	}
	if s.Count(url) != 1 {
		t.Errorf("the deduplication id survived Reset")
	}
}

// TestCloseEndsCallsAndLeavesNoGoroutines closes a server with a long poll
// and a slow call in flight.
func TestCloseEndsCallsAndLeavesNoGoroutines(t *testing.T) {
	s := sqstest.NewServer()
	c := s.Client()
	url := s.CreateQueue("q", nil)
	s.AddFault(sqstest.Fault{Op: "SendMessage", Latency: time.Hour})

	wrote := make(chan struct{}, 2)
	traced := httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{WroteRequest: func(httptrace.WroteRequestInfo) { wrote <- struct{}{} }})
	type result struct {
		op  string
		err error
		n   int
	}
	results := make(chan result, 2)
	go func() {
		r, err := c.ReceiveMessage(traced, &sqs.ReceiveMessageInput{QueueUrl: &url, WaitTimeSeconds: 20})
		n := 0
		if r != nil {
			n = len(r.Messages)
		}
		results <- result{"ReceiveMessage", err, n}
	}()
	go func() {
		_, err := c.SendMessage(traced, &sqs.SendMessageInput{QueueUrl: &url, MessageBody: aws.String("x")})
		results <- result{"SendMessage", err, 0}
	}()
	<-wrote
	<-wrote
	start := time.Now()
	s.Close()
	s.Close() // idempotent
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("Close took %v", d)
	}
	for i := 0; i < 2; i++ {
		select {
		case r := <-results:
			// The long poll may end empty or lose its connection; the slow
			// call must fail, never look like a success.
			if r.op == "SendMessage" && r.err == nil || r.n != 0 {
				t.Errorf("%s after Close: %d messages, error %v", r.op, r.n, r.err)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("a call still hangs after Close")
		}
	}
	if s.Count(url) != 0 {
		t.Errorf("the slow call was processed")
	}

	// A call held by the base latency fails too.
	far := sqstest.NewServer(sqstest.WithLatency(time.Hour))
	farURL := far.CreateQueue("q", nil)
	go func() {
		_, err := far.Client().SendMessage(traced, &sqs.SendMessageInput{QueueUrl: &farURL, MessageBody: aws.String("x")})
		results <- result{"SendMessage", err, 0}
	}()
	<-wrote
	far.Close()
	select {
	case r := <-results:
		if r.err == nil {
			t.Errorf("call held by the base latency succeeded after Close")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a call held by the base latency still hangs after Close")
	}
	goleak.VerifyNone(t)
}

func TestOnAcceptWithoutRecording(t *testing.T) {
	type seen struct{ queue, body, group, id string }
	var mu sync.Mutex
	var got []seen
	s, c := newServer(t, sqstest.WithoutRecording(), sqstest.WithOnAccept(func(queue string, m sqstest.Message) {
		mu.Lock()
		got = append(got, seen{queue, m.Body, m.GroupID, m.Attributes["event_id"].StringValue})
		mu.Unlock()
	}))
	std := s.CreateQueue("std", nil)
	fifo := s.CreateQueue("ord.fifo", nil)
	attr := func(id string) map[string]types.MessageAttributeValue {
		return map[string]types.MessageAttributeValue{"event_id": {DataType: aws.String("String"), StringValue: aws.String(id)}}
	}
	es := entries(3, func(i int) string { return fmt.Sprint("s", i) })
	for i := range es {
		es[i].MessageAttributes = attr(fmt.Sprint("id", i))
	}
	if _, err := c.SendMessageBatch(ctx, &sqs.SendMessageBatchInput{QueueUrl: &std, Entries: es}); err != nil {
		t.Fatal(err)
	}
	// The same body twice on a standard queue: two messages. On the FIFO
	// queue the second send of deduplication id "a" is dropped, and so is
	// not passed to the function.
	if _, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &std, MessageBody: aws.String("s0")}); err != nil {
		t.Fatal(err)
	}
	for _, dedup := range []string{"a", "b", "a"} {
		_, err := c.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: &fifo, MessageBody: aws.String("f" + dedup),
			MessageGroupId: aws.String("g"), MessageDeduplicationId: aws.String(dedup)})
		if err != nil {
			t.Fatal(err)
		}
	}
	want := []seen{
		{"std", "s0", "", "id0"}, {"std", "s1", "", "id1"}, {"std", "s2", "", "id2"}, {"std", "s0", "", ""},
		{"ord.fifo", "fa", "g", ""}, {"ord.fifo", "fb", "g", ""},
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("passed %v, want %v", got, want)
	}
	if s.Count(std) != 4 || s.Count(fifo) != 2 || len(s.Received(std)) != 0 || s.Calls().Deduplicated != 1 {
		t.Errorf("counts %d and %d, recorded %d, deduplicated %d; want 4 and 2, none recorded, 1 deduplicated",
			s.Count(std), s.Count(fifo), len(s.Received(std)), s.Calls().Deduplicated)
	}
}
