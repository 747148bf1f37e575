package sqshook_test

// Integration tests against a real SQS implementation that this project did
// not write: the npm package local-aws-sqs, which scripts/test.sh (the test
// command) installs and starts on loopback. The tests fail in CI when the
// emulator is missing and skip loudly elsewhere.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
)

// EnvEmulatorEndpoint names the variable that holds the emulator's endpoint.
const envEmulatorEndpoint = "SQSHOOK_EMULATOR_ENDPOINT"

var queueSeq atomic.Int64

// emulator returns the endpoint of the running SQS emulator, or stops the
// test: failing in CI, skipping (loudly) elsewhere.
func emulator(t *testing.T) string {
	t.Helper()
	ep := os.Getenv(envEmulatorEndpoint)
	if ep == "" {
		msg := "SQS emulator not running: " + envEmulatorEndpoint + " is not set. " +
			"Run ./scripts/test.sh, which installs and starts local-aws-sqs, or start it yourself " +
			"with ./scripts/emulator.sh and export the " + envEmulatorEndpoint + " it prints."
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "WARNING: "+msg)
		t.Skip(msg)
	}
	u, err := url.Parse(ep)
	if err != nil {
		t.Fatalf("%s=%q: %v", envEmulatorEndpoint, ep, err)
	}
	conn, err := net.DialTimeout("tcp", u.Host, 2*time.Second)
	if err != nil {
		t.Fatalf("SQS emulator at %s does not answer: %v", ep, err)
	}
	conn.Close()
	return ep
}

// emulatorHook returns a valid "keys" hook for a new queue on the emulator,
// and the shared client pool pointed at the emulator.
func emulatorQueue(t *testing.T, name string, attrs map[string]string) (sqshook.Hook, *sqs.Client, *sqshook.ClientPool) {
	t.Helper()
	ep := emulator(t)
	pool := sqshook.NewClientPool(sqshook.ClientOptions{Endpoint: ep})
	t.Cleanup(pool.CloseIdleConnections)
	h := sqshook.Hook{
		Enabled:     true,
		HookType:    sqshook.HookTypeSQS,
		SQSRegion:   "us-east-1",
		SQSAuthType: sqshook.AuthKeys,
		SQSKey:      "AKIAEMULATOREXAMPLE",
		SQSSecret:   "emulator-secret-not-real",
	}
	ctx := context.Background()
	client, err := pool.Client(ctx, h)
	if err != nil {
		t.Fatalf("pool.Client: %v", err)
	}
	qname := fmt.Sprintf("%s-%d-%d", name, time.Now().UnixNano()%1e9, queueSeq.Add(1))
	if attrs["FifoQueue"] == "true" {
		qname += ".fifo"
	}
	out, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(qname), Attributes: attrs})
	if err != nil {
		t.Fatalf("CreateQueue(%s): %v", qname, err)
	}
	h.SQSQueueURL = aws.ToString(out.QueueUrl)
	hooks, err := sqshook.ValidateHooks([]sqshook.Hook{h}, sqshook.ValidateOptions{Endpoint: ep})
	if err != nil {
		t.Fatalf("ValidateHooks(emulator queue %s): %v", h.SQSQueueURL, err)
	}
	t.Cleanup(func() {
		_, _ = client.DeleteQueue(context.Background(), &sqs.DeleteQueueInput{QueueUrl: out.QueueUrl})
	})
	return hooks[0], client, pool
}

// receiveAll reads messages until want have arrived or the deadline passes.
func receiveAll(t *testing.T, client *sqs.Client, queueURL string, want int) []types.Message {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	var got []types.Message
	for len(got) < want {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(queueURL),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             1,
			MessageAttributeNames:       []string{"All"},
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameAll},
			//lint:ignore SA1019 local-aws-sqs 2.0.2 reads only the older AttributeNames field.
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage after %d of %d: %v", len(got), want, err)
		}
		for _, m := range out.Messages {
			got = append(got, m)
			if _, err := client.DeleteMessage(ctx, &sqs.DeleteMessageInput{QueueUrl: aws.String(queueURL), ReceiptHandle: m.ReceiptHandle}); err != nil {
				t.Fatalf("DeleteMessage: %v", err)
			}
		}
	}
	return got
}

func TestEmulatorQueueAttributesThroughPool(t *testing.T) {
	h, _, pool := emulatorQueue(t, "attrs", map[string]string{"MaximumMessageSize": "262144"})
	if !strings.HasPrefix(h.ID, "sqs-") {
		t.Errorf("generated id = %q, want sqs-…", h.ID)
	}
	// A second hook with the same credentials and region shares the client.
	c1, err := pool.Client(context.Background(), h)
	if err != nil {
		t.Fatal(err)
	}
	h2 := h
	h2.ID = "other"
	c2, err := pool.Client(context.Background(), h2)
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 || pool.Len() != 1 {
		t.Errorf("clients shared = %v, pool.Len() = %d; want one shared client", c1 == c2, pool.Len())
	}

	var api sqshook.SQSAPI = c1
	out, err := api.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(h.SQSQueueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err != nil {
		t.Fatalf("GetQueueAttributes: %v", err)
	}
	arn := out.Attributes["QueueArn"]
	name := h.SQSQueueURL[strings.LastIndex(h.SQSQueueURL, "/")+1:]
	if want := "arn:aws:sqs:us-east-1:123456789012:" + name; arn != want {
		t.Errorf("QueueArn = %q, want %q", arn, want)
	}
	if got := out.Attributes["MaximumMessageSize"]; got != "262144" {
		t.Errorf("MaximumMessageSize = %q, want 262144", got)
	}
}

func TestEmulatorSendGuardedBatchRoundTrip(t *testing.T) {
	h, client, _ := emulatorQueue(t, "roundtrip", nil)
	sample := chatEventJSON(t, "message.new", "Welcome to the Community!")
	// A body with characters SQS refuses, inside JSON strings: the guard
	// rewrites them as \u escapes.
	needsRepair := []byte(`{"type":"message.new","message":{"text":"bell\u0007 and ` + "\x01\x1f" + ` and ` + "\uFFFE" + ` end"}}`)
	big := chatEventJSON(t, "message.new", strings.Repeat("compressible chat text ", 20000)) // ~460 KB raw

	type entry struct {
		name     string
		body     []byte
		encoding sqshook.Encoding
	}
	entries := []entry{
		{"raw", sample, sqshook.EncodingRaw},
		{"repaired", needsRepair, sqshook.EncodingRaw},
		{"base64", sample, sqshook.EncodingBase64},
		{"gzip", big, sqshook.EncodingGzip},
	}
	if _, err := (sqshook.SizeGuard{}).Prepare(big, nil); err == nil {
		t.Fatalf("raw %d-byte body passed the 256 KiB guard; want too_large", len(big))
	}

	attrs := map[string]types.MessageAttributeValue{
		"event_type": {DataType: aws.String("String"), StringValue: aws.String("message.new")},
	}
	var batch []types.SendMessageBatchRequestEntry
	sent := map[string]string{} // entry id → body sent
	for i, e := range entries {
		guard := sqshook.SizeGuard{Encoding: e.encoding}
		body, err := guard.Prepare(e.body, attrs)
		if err != nil {
			t.Fatalf("%s: Prepare: %v", e.name, err)
		}
		id := fmt.Sprintf("e%d", i)
		sent[id] = body
		batch = append(batch, types.SendMessageBatchRequestEntry{
			Id:                aws.String(id),
			MessageBody:       aws.String(body),
			MessageAttributes: attrs,
		})
	}
	out, err := client.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{QueueUrl: aws.String(h.SQSQueueURL), Entries: batch})
	if err != nil {
		t.Fatalf("SendMessageBatch: %v", err)
	}
	if len(out.Failed) != 0 || len(out.Successful) != len(entries) {
		t.Fatalf("SendMessageBatch: %d successful, %d failed (%+v); want %d, 0", len(out.Successful), len(out.Failed), out.Failed, len(entries))
	}
	byMessageID := map[string]string{}
	for _, s := range out.Successful {
		byMessageID[aws.ToString(s.MessageId)] = aws.ToString(s.Id)
	}

	got := receiveAll(t, client, h.SQSQueueURL, len(entries))
	for _, m := range got {
		id := byMessageID[aws.ToString(m.MessageId)]
		i := int(id[1] - '0')
		e := entries[i]
		if body := aws.ToString(m.Body); body != sent[id] {
			t.Errorf("%s: received body differs from the body sent (%d vs %d bytes)", e.name, len(body), len(sent[id]))
		}
		if v := aws.ToString(m.MessageAttributes["event_type"].StringValue); v != "message.new" {
			t.Errorf("%s: attribute event_type = %q, want message.new", e.name, v)
		}
		decoded, err := sqshook.DecodeBody(aws.ToString(m.Body))
		if err != nil {
			t.Fatalf("%s: DecodeBody: %v", e.name, err)
		}
		if e.name == "repaired" {
			if bytes.Equal(decoded, e.body) {
				t.Errorf("repaired body was sent unchanged; want \\u escapes")
			}
			// The value the event meant: the same characters, escaped.
			want := []byte(`{"type":"message.new","message":{"text":"bell\u0007 and \u0001\u001f and \ufffe end"}}`)
			if !jsonEqual(t, decoded, want) {
				t.Errorf("repaired body decodes to a different JSON value:\n got %s\nwant %s", decoded, want)
			}
			continue
		}
		if !bytes.Equal(decoded, e.body) {
			t.Errorf("%s: decoded body differs from the event (%d vs %d bytes)", e.name, len(decoded), len(e.body))
		}
	}
}

func TestEmulatorFIFOGuardedFields(t *testing.T) {
	h, client, _ := emulatorQueue(t, "order", map[string]string{"FifoQueue": "true"})
	if !strings.HasSuffix(h.SQSQueueURL, ".fifo") {
		t.Fatalf("queue URL %q does not end in .fifo", h.SQSQueueURL)
	}
	group, dedup := "messaging:fun-d5f396e3", "8bffc454-e1da-4d91-8b88-a87853dfb41c"
	if err := sqshook.CheckGroupID(group); err != nil {
		t.Fatal(err)
	}
	if err := sqshook.CheckDeduplicationID(dedup); err != nil {
		t.Fatal(err)
	}
	body := string(chatEventJSON(t, "message.new", "first"))
	for i := 0; i < 2; i++ { // the second send is deduplicated by SQS
		out, err := client.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(h.SQSQueueURL),
			Entries: []types.SendMessageBatchRequestEntry{{
				Id: aws.String("a"), MessageBody: aws.String(body),
				MessageGroupId: aws.String(group), MessageDeduplicationId: aws.String(dedup),
			}},
		})
		if err != nil || len(out.Failed) != 0 {
			t.Fatalf("send %d: err=%v failed=%+v", i, err, out)
		}
	}
	got := receiveAll(t, client, h.SQSQueueURL, 1)
	if len(got) != 1 || aws.ToString(got[0].Body) != body {
		t.Fatalf("received %d messages; want exactly the one body", len(got))
	}
	if g := got[0].Attributes["MessageGroupId"]; g != group {
		t.Errorf("MessageGroupId = %q, want %q (attributes %v)", g, group, got[0].Attributes)
	}
	// A group id the guard refuses is refused by the emulator as well.
	bad := strings.Repeat("g", 129)
	if err := sqshook.CheckGroupID(bad); err == nil {
		t.Errorf("CheckGroupID(129 chars) = nil, want an error")
	}
}

func TestEmulatorResourcePolicyAccepted(t *testing.T) {
	h, client, _ := emulatorQueue(t, "policy", nil)
	const principal = "arn:aws:iam::185583345998:root"
	attrs, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(h.SQSQueueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameQueueArn},
	})
	if err != nil {
		t.Fatal(err)
	}
	arn := attrs.Attributes["QueueArn"]
	name := arn[strings.LastIndex(arn, ":")+1:]
	awsURL := "https://sqs.us-east-1.amazonaws.com/123456789012/" + name
	doc, err := sqshook.ResourcePolicy(awsURL, principal, sqshook.ResourcePolicyOptions{SourceAccount: "185583345998"})
	if err != nil {
		t.Fatalf("ResourcePolicy: %v", err)
	}
	js, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.SetQueueAttributes(context.Background(), &sqs.SetQueueAttributesInput{
		QueueUrl: aws.String(h.SQSQueueURL), Attributes: map[string]string{"Policy": string(js)},
	}); err != nil {
		t.Fatalf("emulator refused our resource policy: %v\n%s", err, js)
	}
	back, err := client.GetQueueAttributes(context.Background(), &sqs.GetQueueAttributesInput{
		QueueUrl: aws.String(h.SQSQueueURL), AttributeNames: []types.QueueAttributeName{types.QueueAttributeNamePolicy},
	})
	if err != nil {
		t.Fatal(err)
	}
	stored := back.Attributes["Policy"]
	if stored == "" {
		t.Fatalf("Policy attribute empty after SetQueueAttributes")
	}
	// Conditions are present, so the evaluator must not guess.
	d, err := sqshook.Allows([]byte(stored), principal, "sqs:SendMessage", arn)
	if err != nil {
		t.Fatalf("Allows: %v", err)
	}
	if d != sqshook.DecisionUndecided {
		t.Errorf("Allows(policy with aws:SourceAccount condition) = %v, want %v", d, sqshook.DecisionUndecided)
	}
	plain, err := sqshook.ResourcePolicy(awsURL, principal, sqshook.ResourcePolicyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	js, _ = json.Marshal(plain)
	if d, err := sqshook.Allows(js, principal, "sqs:SendMessage", arn); err != nil || d != sqshook.DecisionAllow {
		t.Errorf("Allows(plain policy) = %v, %v; want %v", d, err, sqshook.DecisionAllow)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var va, vb any
	if err := json.Unmarshal(a, &va); err != nil {
		t.Fatalf("unmarshal %q: %v", a, err)
	}
	if err := json.Unmarshal(b, &vb); err != nil {
		t.Fatalf("unmarshal %q: %v", b, err)
	}
	return reflect.DeepEqual(va, vb)
}

// drainQueue receives and deletes messages until want have arrived and the
// queue then stays empty for a moment, returning every body.
func drainQueue(t *testing.T, client *sqs.Client, queueURL string, want int) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var bodies []string
	empty := 0
	for empty < 2 {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl: aws.String(queueURL), MaxNumberOfMessages: 10, WaitTimeSeconds: 0, VisibilityTimeout: 120,
		})
		if err != nil {
			t.Fatalf("ReceiveMessage after %d of %d: %v", len(bodies), want, err)
		}
		if len(out.Messages) == 0 {
			if len(bodies) >= want {
				empty++
			} else {
				time.Sleep(20 * time.Millisecond)
			}
			continue
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			bodies = append(bodies, aws.ToString(m.Body))
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
		}
		if _, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(queueURL), Entries: del}); err != nil {
			t.Fatalf("DeleteMessageBatch: %v", err)
		}
	}
	return bodies
}

func TestEmulatorDispatcherThreeHooks(t *testing.T) {
	all, client, _ := emulatorQueue(t, "all", nil)
	msgs, _, _ := emulatorQueue(t, "messages", nil)
	mod, _, _ := emulatorQueue(t, "moderation", nil)
	msgs.EventTypes = []string{"message.*"}
	mod.EventTypes = []string{"user.banned", "message.flagged"}
	all.ID, msgs.ID, mod.ID = "", "", "" // generated again from the settings

	dls := &deadLetters{}
	d, err := sqshook.New([]sqshook.Hook{all, msgs, mod},
		sqshook.WithEndpoint(emulator(t)),
		sqshook.WithDeadLetter(dls.add),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		if err := d.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	}()
	hooks := d.Hooks()

	const events = 10_000
	kinds := []string{"message.new", "message.updated", "reaction.new", "typing.start", "channel.updated", "user.banned", "message.flagged", "member.added"}
	want := map[string]map[string]int{hooks[0].ID: {}, hooks[1].ID: {}, hooks[2].ID: {}}
	filters := map[string]sqshook.Filter{}
	for _, h := range hooks {
		f, err := sqshook.CompileFilter(h.EventTypes)
		if err != nil {
			t.Fatal(err)
		}
		filters[h.ID] = f
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for p := 0; p < 4; p++ {
		wg.Add(1)
		go func(p int) {
			defer wg.Done()
			for i := p; i < events; i += 4 {
				typ := kinds[i%len(kinds)]
				body := chatEventJSON(t, typ, fmt.Sprintf("event %d", i))
				mu.Lock()
				for id, f := range filters {
					if f.Match(typ) {
						want[id][string(body)]++
					}
				}
				mu.Unlock()
				if err := d.Publish(context.Background(), sqshook.Event{Type: typ, Body: body}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		}(p)
	}
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	checkAccounting(t, d, true)
	if n := len(dls.list()); n != 0 {
		t.Fatalf("%d dead letters, first: %+v", n, dls.list()[0])
	}

	for i, h := range hooks {
		wantN := 0
		for _, n := range want[h.ID] {
			wantN += n
		}
		got := map[string]int{}
		for _, b := range drainQueue(t, client, h.SQSQueueURL, wantN) {
			got[b]++
		}
		missing, duplicates, unexpected := 0, 0, 0
		for b, n := range want[h.ID] {
			if got[b] < n {
				missing += n - got[b]
			}
			if got[b] > n {
				duplicates += got[b] - n
			}
		}
		for b := range got {
			if want[h.ID][b] == 0 {
				unexpected++
			}
		}
		t.Logf("hook %d (%s, event_types %v): published %d matching, received %d distinct bodies, missing %d, duplicates %d",
			i, h.ID, h.EventTypes, wantN, len(got), missing, duplicates)
		if missing != 0 || duplicates != 0 || unexpected != 0 {
			t.Errorf("hook %s: missing %d, duplicates %d, unexpected %d; want 0, 0, 0", h.ID, missing, duplicates, unexpected)
		}
		st, _ := d.Stats().Hook(h.ID)
		if st.Delivered != uint64(wantN) {
			t.Errorf("hook %s: stats delivered %d, want %d", h.ID, st.Delivered, wantN)
		}
	}
}

// TestEmulatorFIFOOrder publishes 5 groups × 500 events to a FIFO queue from
// 5 concurrent publishers (one per group, each in order, interleaved with the
// others) through a dispatcher with the default MaxInFlight, then reads the
// queue back and checks that every group arrives complete and in publish
// order.
func TestEmulatorFIFOOrder(t *testing.T) {
	const (
		groups   = 5
		perGroup = 500
		total    = groups * perGroup
	)
	h, client, _ := emulatorQueue(t, "fifo-order", map[string]string{"FifoQueue": "true"})
	dls := &deadLetters{}
	d, err := sqshook.New([]sqshook.Hook{h},
		sqshook.WithEndpoint(emulator(t)),
		sqshook.WithLinger(2*time.Millisecond),
		sqshook.WithDeadLetter(dls.add),
	)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	closed := false
	closeDispatcher := func() error {
		if closed {
			return nil
		}
		closed = true
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return d.Close(ctx)
	}
	defer closeDispatcher()

	groupID := func(g int) string { return fmt.Sprintf("messaging:room-%d", g) }
	body := func(g, seq int) []byte {
		ev := sampleChatEvent("message.new", fmt.Sprintf("room-%d seq %d", g, seq))
		ev.CID = groupID(g)
		ev.ChannelID = fmt.Sprintf("room-%d", g)
		ev.Message.ID = fmt.Sprintf("room-%d-%06d", g, seq)
		b, err := json.Marshal(ev)
		if err != nil {
			panic(err)
		}
		return b
	}

	start := time.Now()
	var wg sync.WaitGroup
	ready := make(chan struct{})
	for g := 0; g < groups; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-ready // start together, so the groups interleave
			for seq := 0; seq < perGroup; seq++ {
				ev := sqshook.Event{Type: "message.new", Body: body(g, seq), GroupID: groupID(g)}
				if err := d.Publish(context.Background(), ev); err != nil {
					t.Errorf("Publish group %d seq %d: %v", g, seq, err)
					return
				}
			}
		}(g)
	}
	close(ready)
	wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if err := closeDispatcher(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	published := time.Since(start)
	if dl := dls.list(); len(dl) != 0 {
		t.Fatalf("%d dead letters, first: %+v", len(dl), dl[0])
	}

	// Read everything back, deleting each received batch so the FIFO group
	// unblocks, until every distinct (group, seq) has arrived or the
	// deadline passes.
	type key struct{ g, seq int }
	order := make([][]int, groups) // per group, seqs in the order received, repeats dropped
	seen := map[key]bool{}
	duplicates := 0
	receiveStart := time.Now()
	deadline := receiveStart.Add(60 * time.Second)
	for len(seen) < total && time.Now().Before(deadline) {
		out, err := client.ReceiveMessage(ctx, &sqs.ReceiveMessageInput{
			QueueUrl:                    aws.String(h.SQSQueueURL),
			MaxNumberOfMessages:         10,
			WaitTimeSeconds:             0,
			VisibilityTimeout:           120,
			MessageSystemAttributeNames: []types.MessageSystemAttributeName{types.MessageSystemAttributeNameMessageGroupId},
			//lint:ignore SA1019 local-aws-sqs 2.0.2 reads only the older AttributeNames field.
			AttributeNames: []types.QueueAttributeName{types.QueueAttributeName(types.MessageSystemAttributeNameMessageGroupId)},
		})
		if err != nil {
			t.Fatalf("ReceiveMessage after %d of %d: %v", len(seen), total, err)
		}
		if len(out.Messages) == 0 {
			time.Sleep(20 * time.Millisecond)
			continue
		}
		var del []types.DeleteMessageBatchRequestEntry
		for i, m := range out.Messages {
			del = append(del, types.DeleteMessageBatchRequestEntry{Id: aws.String(fmt.Sprint(i)), ReceiptHandle: m.ReceiptHandle})
			raw, err := sqshook.DecodeBody(aws.ToString(m.Body))
			if err != nil {
				t.Fatalf("DecodeBody: %v", err)
			}
			var ev chatEvent
			if err := json.Unmarshal(raw, &ev); err != nil || ev.Message == nil {
				t.Fatalf("received body is not a chat event (%v): %s", err, raw)
			}
			var g, seq int
			if _, err := fmt.Sscanf(ev.Message.ID, "room-%d-%d", &g, &seq); err != nil || g < 0 || g >= groups || seq < 0 || seq >= perGroup {
				t.Fatalf("received message id %q does not name a group and sequence number (%v)", ev.Message.ID, err)
			}
			if mg := m.Attributes[string(types.MessageSystemAttributeNameMessageGroupId)]; mg != groupID(g) {
				t.Errorf("message %s: MessageGroupId = %q, want %q", ev.Message.ID, mg, groupID(g))
			}
			k := key{g, seq}
			if seen[k] {
				duplicates++
				continue
			}
			seen[k] = true
			order[g] = append(order[g], seq)
		}
		if _, err := client.DeleteMessageBatch(ctx, &sqs.DeleteMessageBatchInput{QueueUrl: aws.String(h.SQSQueueURL), Entries: del}); err != nil {
			t.Fatalf("DeleteMessageBatch: %v", err)
		}
	}
	t.Logf("published %d events in %d groups in %v; received %d distinct in %v, %d duplicates ignored",
		total, groups, published.Round(time.Millisecond), len(seen), time.Since(receiveStart).Round(time.Millisecond), duplicates)
	if len(seen) < total {
		t.Errorf("received %d of %d distinct messages before the deadline", len(seen), total)
	}

	for g := 0; g < groups; g++ {
		got := order[g]
		if len(got) != perGroup {
			t.Errorf("group %s: received %d distinct sequence numbers, want %d", groupID(g), len(got), perGroup)
		}
		for i, seq := range got {
			if seq != i {
				lo, hi := max(0, i-3), min(len(got), i+4)
				t.Errorf("group %s: out of order at position %d: got seq %d, want %d (received around it: %v at positions %d..%d)",
					groupID(g), i, seq, i, got[lo:hi], lo, hi-1)
				break
			}
		}
	}
}

// TestEmulatorLeanMatchesSDKPath: random events (bodies of every
// character class SQS allows, attributes of every data type, a body near
// and one over the size limit) sent through
// a dispatcher on the lean send path and one on the SDK's, to standard and
// FIFO queues of the emulator, are accepted or refused alike and stored
// alike: the same bodies and attributes for the same events.
func TestEmulatorLeanMatchesSDKPath(t *testing.T) {
	runes := []rune{'a', 'Z', '0', ' ', '~', '/', '<', '&', '\u00e9', '\u07ff', '\u0800', '\u2028', '\u2029',
		'\ud7ff', '\ue000', '\ufffd', '\U00010000', '\U0001f600', '\U0010ffff'}
	escapes := []string{`\"`, `\\`, `\n`, `\t`, `\u0001`, `\u00e9`, `\ud83d\ude00`}
	rng := rand.New(rand.NewPCG(20, 21))
	text := func(n int) string {
		var b strings.Builder
		for range n {
			if rng.IntN(8) == 0 {
				b.WriteString(escapes[rng.IntN(len(escapes))])
			} else {
				b.WriteRune(runes[rng.IntN(len(runes))])
			}
		}
		return b.String()
	}
	plain := func(n int) string { // a JSON string's text without escapes
		var b strings.Builder
		for range n {
			b.WriteRune(runes[rng.IntN(len(runes))])
		}
		return b.String()
	}
	type pub struct {
		ev   sqshook.Event
		fifo bool
	}
	var events []pub
	for i := range 120 {
		fifo := i%2 == 1
		body := "{\t\"id\":" + fmt.Sprint(i) + ",\n\"text\":\"" + text(1+rng.IntN(400)) + "\"\r}"
		switch i {
		case 10, 11:
			body = `{"big":"` + strings.Repeat("x", 240<<10) + `"}`
		case 12, 13:
			body = `{"huge":"` + strings.Repeat("y", 2<<20) + `"}`
		}
		ev := sqshook.Event{ID: fmt.Sprintf("e-%d", i), Type: "std.event", Body: []byte(body)}
		if fifo {
			ev.Type = "fifo.event"
			ev.GroupID = fmt.Sprintf("g%d", rng.IntN(4))
		}
		if n := rng.IntN(5); n > 0 {
			ev.Attributes = map[string]types.MessageAttributeValue{}
			for j := range n {
				name := fmt.Sprintf("a%d", j)
				switch rng.IntN(7) {
				case 0:
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(plain(1 + rng.IntN(40)))}
				case 1:
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(fmt.Sprint(rng.IntN(1e6) - 5e5))}
				case 2:
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("Number.float"), StringValue: aws.String("-3.25")}
				case 3:
					bin := make([]byte, 1+rng.IntN(40))
					for k := range bin {
						bin[k] = byte(rng.IntN(256))
					}
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("Binary"), BinaryValue: bin}
				case 4:
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("Binary.raw"), BinaryValue: []byte{0, 1, 2, 0xff}}
				case 5:
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("String.custom"), StringValue: aws.String(plain(1 + rng.IntN(10)))}
				default:
					// No value SQS refuses for its type: the emulator refuses
					// the whole call, so the fate of the other entries would
					// hang on how each path happened to batch them.
					ev.Attributes[name] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String("12345678901234567890")}
				}
			}
		}
		events = append(events, pub{ev, fifo})
	}

	// outcome is what became of each event on one path: the message
	// stored (body and attributes) or the dead letter's reason and code.
	run := func(sdkPath bool) map[string]string {
		std, client, _ := emulatorQueue(t, "lean-std", nil)
		fifo, _, _ := emulatorQueue(t, "lean-fifo", map[string]string{"FifoQueue": "true"})
		std.EventTypes, fifo.EventTypes = []string{"std.event"}, []string{"fifo.event"}
		dls := &deadLetters{}
		d, err := sqshook.New([]sqshook.Hook{std, fifo},
			sqshook.WithEndpoint(emulator(t)),
			sqshook.WithDeadLetter(dls.add),
			sqshook.WithClientOptions(sqshook.ClientOptions{SDKSendPath: sdkPath}),
		)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		hooks := d.Hooks()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		for _, p := range events {
			// An event the size guard refuses is reported here and
			// dead-lettered; the outcomes compare the dead letters.
			_ = d.Publish(ctx, p.ev)
		}
		if err := d.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		if err := d.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		got := map[string]string{}
		for _, dl := range dls.list() {
			got[dl.Event.ID] = fmt.Sprintf("dead letter %s %s", dl.Reason, dl.Code)
		}
		for _, h := range hooks {
			st, _ := d.Stats().Hook(h.ID)
			for _, m := range receiveAll(t, client, h.SQSQueueURL, int(st.Delivered)) {
				id := aws.ToString(m.MessageAttributes[sqshook.AttrEventID].StringValue)
				var names []string
				for n := range m.MessageAttributes {
					names = append(names, n)
				}
				slices.Sort(names)
				desc := fmt.Sprintf("queue %s body %q", h.EventTypes[0], aws.ToString(m.Body))
				for _, n := range names {
					a := m.MessageAttributes[n]
					desc += fmt.Sprintf(" %s:%s:%q:%x", n, aws.ToString(a.DataType), aws.ToString(a.StringValue), a.BinaryValue)
				}
				got[id] = desc
			}
		}
		return got
	}
	lean, sdk := run(false), run(true)
	delivered := 0
	for _, p := range events {
		id := p.ev.ID
		l, s := lean[id], sdk[id]
		if l == "" || s == "" {
			t.Errorf("event %s: lean path %q, SDK path %q: lost", id, l, s)
			continue
		}
		if l != s {
			t.Errorf("event %s:\nlean path %.300s\nSDK path  %.300s", id, l, s)
			continue
		}
		if !strings.HasPrefix(l, "dead letter") {
			delivered++
			if !strings.Contains(l, fmt.Sprintf("body %q", p.ev.Body)) {
				t.Errorf("event %s: stored %.300s, published body %.200q", id, l, p.ev.Body)
			}
		}
	}
	if delivered < len(events)/3 || delivered == len(events) {
		t.Errorf("%d of %d events delivered: the batch should mix accepted and refused events", delivered, len(events))
	}
}
