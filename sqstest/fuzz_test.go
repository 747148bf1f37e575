package sqstest_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sqshook/sqshook/sqstest"
)

// FuzzRequest feeds arbitrary operations and bodies to the server's request
// decoder and handlers: every request gets an answer (no panic, no dropped
// connection), and every error answer is an SQS JSON error with a type.
func FuzzRequest(f *testing.F) {
	s := sqstest.NewServer()
	defer s.Close()
	url := s.CreateQueue("fuzz", nil)
	fifo := s.CreateQueue("fuzz.fifo", nil)
	for _, seed := range []struct{ op, body string }{
		{"SendMessage", `{"QueueUrl":"` + url + `","MessageBody":"hi"}`},
		{"SendMessageBatch", `{"QueueUrl":"` + fifo + `","Entries":[{"Id":"a","MessageBody":"x","MessageGroupId":"g","MessageDeduplicationId":"d"}]}`},
		{"SendMessageBatch", `{"QueueUrl":"` + url + `","Entries":[{"Id":"a","MessageBody":"x","MessageAttributes":{"k":{"DataType":"Binary","BinaryValue":"AAE="}}}]}`},
		{"ReceiveMessage", `{"QueueUrl":"` + url + `","MaxNumberOfMessages":10,"AttributeNames":["All"]}`},
		{"DeleteMessageBatch", `{"QueueUrl":"` + url + `","Entries":[{"Id":"a","ReceiptHandle":"r"}]}`},
		{"CreateQueue", `{"QueueName":"q.fifo","Attributes":{"FifoQueue":"true"}}`},
		{"GetQueueAttributes", `{"QueueUrl":"` + fifo + `","AttributeNames":["All"]}`},
		{"SetQueueAttributes", `{"QueueUrl":"` + url + `","Attributes":{"Policy":"{}"}}`},
		{"Nope", `[]`},
	} {
		f.Add(seed.op, []byte(seed.body))
	}
	client := &http.Client{Timeout: 10 * time.Second}
	defer client.CloseIdleConnections()
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if bytes.Contains(body, []byte("WaitTimeSeconds")) || bytes.Contains(body, []byte("VisibilityTimeout")) {
			return // long polls and timers: valid, but slow
		}
		if strings.ContainsFunc(op, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
			return // not a header value an HTTP client can send
		}
		req, err := http.NewRequest(http.MethodPost, s.URL()+"/", bytes.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-amz-json-1.0")
		req.Header.Set("X-Amz-Target", "AmazonSQS."+op)
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("%s %q: no answer: %v", op, body, err)
		}
		data, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("%s %q: reading the answer: %v", op, body, err)
		}
		if resp.StatusCode == http.StatusOK {
			if !json.Valid(data) {
				t.Fatalf("%s %q: 200 with a body that is not JSON: %q", op, body, data)
			}
			return
		}
		var e struct {
			Type string `json:"__type"`
		}
		if json.Unmarshal(data, &e) != nil || e.Type == "" || strings.TrimSpace(resp.Header.Get("X-Amzn-Query-Error")) == "" {
			t.Fatalf("%s %q: status %d with body %q: want an SQS JSON error", op, body, resp.StatusCode, data)
		}
	})
}
