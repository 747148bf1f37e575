package streamapi_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/streamclient"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

// clientDir holds the pinned stream-chat package and the flow script.
const clientDir = "../testdata/stream-client"

// envEmulatorEndpoint names the variable with the SQS emulator's endpoint
// (scripts/test.sh sets it); without it the tests use package sqstest.
const envEmulatorEndpoint = "SQSHOOK_EMULATOR_ENDPOINT"

// streamClient makes sure node and the pinned clients are there and
// returns node's path (see streamclient.Node).
func streamClient(t *testing.T) string {
	t.Helper()
	return streamclient.Node(t, clientDir)
}

// runFlow runs flow.mjs in mode with the given credentials and returns its
// RESULT.
func runFlow(t *testing.T, node, mode, baseURL, key, secret string, extra ...string) map[string]any {
	t.Helper()
	return streamclient.Run(t, node, clientDir, mode, baseURL, key, secret, extra...)
}

// queueEnv is where the test's hooks deliver: the SQS emulator or sqstest.
type queueEnv struct {
	endpoint string
	client   *sqs.Client
}

func newQueueEnv(t *testing.T) queueEnv {
	t.Helper()
	ep := os.Getenv(envEmulatorEndpoint)
	if ep == "" {
		srv := sqstest.NewServer()
		t.Cleanup(srv.Close)
		ep = srv.URL()
		t.Logf("%s not set: hooks deliver to an in-process sqstest endpoint", envEmulatorEndpoint)
	} else {
		t.Logf("hooks deliver to the SQS emulator at %s", ep)
	}
	hc := &http.Client{}
	t.Cleanup(hc.CloseIdleConnections)
	client := sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(ep), HTTPClient: hc,
		Credentials: credentials.NewStaticCredentialsProvider(hookKey, hookSecret, ""),
	})
	return queueEnv{endpoint: ep, client: client}
}

func (q queueEnv) createQueue(t *testing.T, name string) string {
	t.Helper()
	name = fmt.Sprintf("%s-%d", name, time.Now().UnixNano()%1e9)
	out, err := q.client.CreateQueue(context.Background(), &sqs.CreateQueueInput{QueueName: aws.String(name)})
	if err != nil {
		t.Fatalf("CreateQueue(%s): %v", name, err)
	}
	url := aws.ToString(out.QueueUrl)
	t.Cleanup(func() {
		_, _ = q.client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: aws.String(url)})
	})
	return url
}

// drain receives (and deletes) messages until want have arrived or, when
// the queue holds no more, returns what it has. Call it after Flush: what
// was delivered is in the queue by then.
func (q queueEnv) drain(t *testing.T, url string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var bodies []string
	for {
		out, err := q.client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(url), MaxNumberOfMessages: 10, WaitTimeSeconds: 1, VisibilityTimeout: 60,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if len(out.Messages) == 0 {
			return bodies
		}
		for _, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			_, _ = q.client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(url), ReceiptHandle: m.ReceiptHandle})
		}
		if len(bodies) >= want && want > 0 {
			return bodies
		}
	}
}

// TestStreamClientDocumentationFlow runs the documentation's JavaScript
// flow with Stream's own client against the handler, then checks that the
// hook it added delivers, that a second app sees none of it, and that the
// update removing the hook stops delivery.
func TestStreamClientDocumentationFlow(t *testing.T) {
	node := streamClient(t)
	q := newQueueEnv(t)
	ds := newTenants(t, sqshook.WithEndpoint(q.endpoint), sqshook.WithLinger(time.Millisecond))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		_ = ds.Close(ctx)
	})
	logs := &syncBuffer{}
	h, err := streamapi.New(streamapi.Options{Apps: testApps(), Applier: ds, Endpoint: q.endpoint,
		Logger: slogTo(logs)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	queue := q.createQueue(t, "stream-client")
	hookEnv := []string{"QUEUE_URL=" + queue, "SQS_KEY=" + hookKey, "SQS_SECRET=" + hookSecret}

	// The documentation's flow, run twice: the second run writes back the
	// first hook as GET showed it (secret hidden) and appends a new one.
	res := runFlow(t, node, "doc", srv.URL, keyA, secretA, hookEnv...)
	if f, ok := res["failed"]; ok {
		t.Fatalf("documentation flow failed: %v (code %v, status %v)", f, res["code"], res["status"])
	}
	if before, _ := res["before"].([]any); len(before) != 0 {
		t.Errorf("before: %v, want no hooks", before)
	}
	check, _ := res["check"].(map[string]any)
	if check["status"] != "ok" {
		t.Fatalf("testSQSSettings: %v, want status ok", check)
	}
	after, _ := res["after"].([]any)
	if len(after) != 1 {
		t.Fatalf("after: %v, want one hook", after)
	}
	raw, _ := json.Marshal(res)
	if strings.Contains(string(raw), hookSecret) || strings.Contains(string(raw), hookKey) {
		t.Fatalf("the client received the stored secret: %s", raw)
	}

	// Second run: GET shows the first hook without its secret; the flow
	// writes it back as shown and appends a hook on a second queue.
	queue2 := q.createQueue(t, "stream-client-2")
	res2 := runFlow(t, node, "doc", srv.URL, keyA, secretA, "QUEUE_URL="+queue2, "SQS_KEY="+hookKey, "SQS_SECRET="+hookSecret2)
	if f, ok := res2["failed"]; ok {
		t.Fatalf("second documentation flow failed: %v (code %v, status %v)", f, res2["code"], res2["status"])
	}
	if after2, _ := res2["after"].([]any); len(after2) != 2 {
		t.Fatalf("after the second run: %v, want two hooks", after2)
	}
	if check2, _ := res2["check"].(map[string]any); check2["status"] != "ok" {
		t.Fatalf("second testSQSSettings: %v, want status ok", check2)
	}
	applied := ds.Hooks("tenant-a")
	if len(applied) != 2 || applied[0].SQSSecret != hookSecret || applied[1].SQSSecret != hookSecret2 {
		t.Fatalf("the dispatcher does not hold both hooks with their own secrets (%d hooks)", len(applied))
	}

	publish := func(tenant string, n int) {
		t.Helper()
		for i := 0; i < n; i++ {
			ev, err := sqshook.NewEvent("message.new", map[string]any{"type": "message.new", "tenant": tenant, "n": i})
			if err != nil {
				t.Fatal(err)
			}
			if err := ds.Publish(context.Background(), tenant, ev); err != nil {
				t.Fatalf("Publish: %v", err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := ds.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
	}

	// Events of the app arrive in its queue; the other app's do not.
	publish("tenant-a", 5)
	publish("tenant-b", 3)
	for _, url := range []string{queue, queue2} {
		bodies := q.drain(t, url, 5)
		if len(bodies) != 5 {
			t.Fatalf("queue %s got %d messages, want 5", url, len(bodies))
		}
		for _, b := range bodies {
			// Stream's SQS contract by default: base64 of the event JSON.
			ev, err := base64.StdEncoding.DecodeString(b)
			if err != nil || !strings.Contains(string(ev), `"tenant":"tenant-a"`) {
				t.Errorf("message %s is not one of app A's events in base64 (%v)", b, err)
			}
		}
		if more := q.drain(t, url, 0); len(more) != 0 {
			t.Errorf("queue got %d more messages (app B's?), want none", len(more))
		}
	}

	// The second app sees only its own (no) hooks.
	got := runFlow(t, node, "get", srv.URL, keyB, secretB)
	if hooks, _ := got["hooks"].([]any); len(hooks) != 0 || got["app_hooks"] == nil {
		t.Errorf("app B sees %v (app.event_hooks %v), want an empty list in both places", got["hooks"], got["app_hooks"])
	}
	// A wrong secret is refused through the client with Stream's error.
	bad := runFlow(t, node, "get", srv.URL, keyA, secretB)
	if bad["code"] != float64(streamapi.CodeAuth) || bad["status"] != float64(401) {
		t.Errorf("wrong secret: %v, want code %d status 401", bad, streamapi.CodeAuth)
	}
	// An invalid hook is refused with an error that names the field.
	inv := runFlow(t, node, "invalid", srv.URL, keyA, secretA, hookEnv...)
	if msg, _ := inv["error"].(string); inv["code"] != float64(streamapi.CodeInput) || !strings.Contains(msg, "event_hooks[0].sqs_region") {
		t.Errorf("invalid hook: %v, want code %d naming event_hooks[0].sqs_region", inv, streamapi.CodeInput)
	}

	// Removing the hook stops delivery.
	rm := runFlow(t, node, "remove", srv.URL, keyA, secretA, hookEnv...)
	if left, _ := rm["after"].([]any); len(left) != 1 {
		t.Fatalf("after removal: %v, want the second hook only", left)
	}
	if hooks := ds.Hooks("tenant-a"); len(hooks) != 1 || hooks[0].SQSQueueURL != queue2 || hooks[0].SQSSecret != hookSecret2 {
		t.Fatalf("dispatcher after removal: %d hooks, want the second with its secret", len(hooks))
	}
	publish("tenant-a", 4)
	if more := q.drain(t, queue, 0); len(more) != 0 {
		t.Errorf("queue got %d messages after its hook was removed, want none", len(more))
	}
	if kept := q.drain(t, queue2, 4); len(kept) != 4 {
		t.Errorf("the remaining hook's queue got %d messages, want 4", len(kept))
	}
	if strings.Contains(logs.String(), hookSecret) || strings.Contains(logs.String(), secretA) {
		t.Errorf("a secret was logged:\n%s", logs.String())
	}
}
