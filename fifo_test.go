package sqshook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/cenkalti/backoff/v4"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// fifoRun publishes groups × perGroup events (body {"cid": group, "seq": n})
// to one hook on srv's queue url, from one publisher per ten groups, each
// publishing its groups interleaved and in order; it flushes and returns
// the dispatcher's stats and dead letters.
func fifoRun(t *testing.T, srv *sqstest.Server, url string, groups, perGroup int, opts ...sqshook.Option) (sqshook.Stats, []sqshook.DeadLetter) {
	t.Helper()
	h := sqshook.Hook{
		Enabled: true, HookType: "sqs", SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: "keys", SQSKey: "AKIASQSTESTEXAMPLE00", SQSSecret: "sqstest-secret",
	}
	dls := &deadLetters{}
	base := []sqshook.Option{
		sqshook.WithOverflowWait(time.Hour), // back-pressure: every event is delivered
		sqshook.WithEndpoint(srv.URL()),
		sqshook.WithDeadLetter(dls.add),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{InitialInterval: time.Millisecond, MaxInterval: 4 * time.Millisecond, MaxElapsedTime: time.Minute, MaxAttempts: 1000}),
		sqshook.WithLinger(time.Millisecond),
		sqshook.WithCallTimeout(2 * time.Second),
	}
	d, err := sqshook.New([]sqshook.Hook{h}, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	for first := 0; first < groups; first += 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; n < perGroup; n++ {
				for g := first; g < min(first+10, groups); g++ {
					body := fmt.Sprintf(`{"type":"message.new","cid":"messaging:room-%d","seq":%d}`, g, n)
					if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(body)}); err != nil {
						t.Errorf("Publish: %v", err)
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	if err := d.Flush(ctx); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	st := checkAccounting(t, d, true)
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	return st, dls.list()
}

// groupOrder checks the order per group of the messages the queue accepted
// and returns the number of groups that are out of order and the number of
// duplicates (which must repeat the event id of the first copy).
func groupOrder(t *testing.T, msgs []sqstest.Message, groups, perGroup int) (disordered, dups int) {
	t.Helper()
	next := map[string]int{}
	ids := map[string]string{} // group/seq → event id
	bad := map[string]bool{}
	for _, m := range msgs {
		var g string
		var n int
		if _, err := fmt.Sscanf(strings.TrimPrefix(m.Body, `{"type":"message.new","cid":"`), "messaging:room-%s", &g); err != nil {
			t.Fatalf("unexpected body %q", m.Body)
		}
		g, rest, _ := strings.Cut(g, `","seq":`)
		n, _ = strconv.Atoi(strings.TrimSuffix(rest, "}"))
		key := g + "/" + strconv.Itoa(n)
		id := m.Attributes[sqshook.AttrEventID].StringValue
		if first, seen := ids[key]; seen {
			dups++
			if first != id {
				t.Errorf("duplicate of group %s seq %d has event id %s, first copy %s", g, n, id, first)
			}
			continue
		}
		ids[key] = id
		if n != next[g] && !bad[g] {
			bad[g] = true
			t.Logf("group %s: got seq %d, want %d", g, n, next[g])
		}
		next[g] = n + 1
	}
	if len(ids) != groups*perGroup {
		t.Errorf("queue holds %d distinct events, want %d", len(ids), groups*perGroup)
	}
	return len(bad), dups
}

// fifoFaults installs throttling, 5xx, per-entry failures and dropped
// connections on every SendMessageBatch call, drawn from seed.
func fifoFaults(srv *sqstest.Server, seed uint64) {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(seed, 7))
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "RequestThrottled", Probability: 0.1})
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Code: "InternalError", Probability: 0.05})
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropAfterProcessing, Probability: 0.04})
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Drop: sqstest.DropBeforeProcessing, Probability: 0.04})
	srv.AddFault(sqstest.Fault{Op: "SendMessageBatch", Probability: 0.2, FailEntries: func(int, string) *sqstest.EntryFailure {
		mu.Lock()
		defer mu.Unlock()
		if rng.Float64() < 0.3 {
			return &sqstest.EntryFailure{Code: "InternalError", Message: "We encountered an internal error. Please try again."}
		}
		return nil
	}})
}

func TestFIFOOrderPerGroupUnderFaults(t *testing.T) {
	const groups, perGroup, seed = 100, 200, 20261129
	srv := sqstest.NewServer(sqstest.WithSeed(seed))
	defer srv.Close()
	url := srv.CreateQueue("events.fifo", nil)
	fifoFaults(srv, seed)

	st, dls := fifoRun(t, srv, url, groups, perGroup, sqshook.WithMaxInFlight(16))
	for _, dl := range dls {
		t.Errorf("dead letter: %s %s %s", dl.Reason, dl.Code, dl.Message)
	}
	h := st.Hooks[0]
	if h.Delivered != groups*perGroup {
		t.Errorf("delivered %d, want %d", h.Delivered, groups*perGroup)
	}
	if h.Retries == 0 {
		t.Errorf("no retries: the faults did not fire (seed %d)", seed)
	}
	if h.OutOfOrder != 0 {
		t.Errorf("OutOfOrder = %d, want 0", h.OutOfOrder)
	}
	if h.Groups != 0 {
		t.Errorf("Groups = %d after Flush, want 0 (groups are forgotten when empty)", h.Groups)
	}
	msgs := srv.Received(url)
	for _, m := range msgs {
		if m.GroupID == "" || !strings.Contains(m.Body, `"cid":"`+m.GroupID+`"`) {
			t.Fatalf("message in group %q has body %s: want the group to be the body's cid", m.GroupID, m.Body)
		}
		if m.DedupID != m.Attributes[sqshook.AttrEventID].StringValue {
			t.Fatalf("dedup id %q is not the event id %q", m.DedupID, m.Attributes[sqshook.AttrEventID].StringValue)
		}
	}
	disordered, dups := groupOrder(t, msgs, groups, perGroup)
	if disordered != 0 {
		t.Errorf("%d of %d groups arrived out of order (seed %d)", disordered, groups, seed)
	}
	calls := srv.Calls()
	t.Logf("%d events, %d batches, %d retries, %d duplicates, %d deduplicated by the queue, faults %v",
		groups*perGroup, h.Batches, h.Retries, dups, calls.Deduplicated, calls.Injected)
}

// The same faults on a standard queue reorder events: the FIFO test above
// can fail.
func TestStandardQueueFaultsReorder(t *testing.T) {
	const groups, perGroup, seed = 20, 100, 20261129
	srv := sqstest.NewServer(sqstest.WithSeed(seed))
	defer srv.Close()
	url := srv.CreateQueue("events", nil)
	fifoFaults(srv, seed)
	st, dls := fifoRun(t, srv, url, groups, perGroup, sqshook.WithMaxInFlight(16))
	if len(dls) != 0 || st.Hooks[0].Delivered != groups*perGroup {
		t.Fatalf("delivered %d with %d dead letters", st.Hooks[0].Delivered, len(dls))
	}
	inner := &testing.T{}
	disordered, _ := groupOrder(inner, srv.Received(url), groups, perGroup)
	if disordered == 0 {
		t.Errorf("no group out of order on a standard queue: the faults cannot reorder, so the FIFO order test proves nothing")
	}
	t.Logf("standard queue: %d of %d groups out of order", disordered, groups)
}

// A group whose entry keeps failing holds back its later events, while
// other groups are delivered meanwhile.
func TestFIFOFailedEntryHoldsBackItsGroup(t *testing.T) {
	fake := newFake()
	var mu sync.Mutex
	failing := true
	release := make(chan struct{})
	var blockedCalls int
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		out := &sqs.SendMessageBatchOutput{}
		mu.Lock()
		defer mu.Unlock()
		for _, e := range in.Entries {
			if *e.MessageGroupId == "slow" && failing {
				blockedCalls++
				if blockedCalls == 5 {
					close(release)
				}
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: strPtr("InternalError"), Message: strPtr("try again")})
				continue
			}
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
		}
		return out, nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q.fifo")}, sqshook.WithLinger(0), sqshook.WithMaxInFlight(4),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxAttempts: 1 << 30}),
		sqshook.WithBackOff(func() backoff.BackOff { return backoff.NewConstantBackOff(time.Millisecond) }))
	ctx := context.Background()
	pub := func(group string, n int) {
		t.Helper()
		body := fmt.Sprintf(`{"n":%d}`, n)
		if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: []byte(body), GroupID: group}); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; n < 3; n++ {
		pub("slow", n)
	}
	<-release // the slow group failed five times
	for n := 0; n < 20; n++ {
		pub("fast", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		fake.mu.Lock()
		got := 0
		for _, e := range fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"] {
			if *e.MessageGroupId == "fast" {
				got++
			}
		}
		fake.mu.Unlock()
		if got == 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast group: %d of 20 delivered while the slow group fails", got)
		}
		time.Sleep(time.Millisecond)
	}
	// Nothing of the slow group has been accepted yet.
	fake.mu.Lock()
	for _, e := range fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"] {
		if *e.MessageGroupId == "slow" {
			t.Errorf("slow group entry %s accepted while the group's first event fails", *e.MessageBody)
		}
	}
	fake.mu.Unlock()
	mu.Lock()
	failing = false
	mu.Unlock()
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	var slow []string
	for _, e := range fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"] {
		if *e.MessageGroupId == "slow" {
			slow = append(slow, *e.MessageBody)
		}
	}
	if want := []string{`{"n":0}`, `{"n":1}`, `{"n":2}`}; fmt.Sprint(slow) != fmt.Sprint(want) {
		t.Errorf("slow group delivered %v, want %v", slow, want)
	}
	if n := len(dls.list()); n != 0 {
		t.Errorf("%d dead letters", n)
	}
	checkAccounting(t, d, true)
}

// A dead-lettered entry does not stop its group; the dead letter names the
// group and the event's place.
func TestFIFODeadLetterRecordsPositionAndGroupContinues(t *testing.T) {
	fake := newFake()
	fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
		out := &sqs.SendMessageBatchOutput{}
		for _, e := range in.Entries {
			if strings.Contains(*e.MessageBody, `"n":1}`) {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: strPtr("InvalidParameterValue"), Message: strPtr("bad"), SenderFault: true})
				continue
			}
			out.Successful = append(out.Successful, types.SendMessageBatchResultEntry{Id: e.Id, MessageId: e.Id})
		}
		return out, nil
	}
	d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q.fifo")}, sqshook.WithLinger(0), sqshook.WithMaxInFlight(1))
	ctx := context.Background()
	for n := 0; n < 3; n++ {
		ev := sqshook.Event{Type: "message.new", Body: []byte(fmt.Sprintf(`{"cid":"messaging:a","n":%d}`, n))}
		if err := d.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got := dls.list()
	if len(got) != 1 {
		t.Fatalf("%d dead letters, want 1", len(got))
	}
	if dl := got[0]; dl.GroupID != "messaging:a" || dl.Seq != 2 || dl.Reason != sqshook.ReasonRejected {
		t.Errorf("dead letter group %q seq %d reason %s, want messaging:a, 2, rejected", dl.GroupID, dl.Seq, dl.Reason)
	}
	var bodies []string
	for _, e := range fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"] {
		bodies = append(bodies, *e.MessageBody)
	}
	if want := `[{"cid":"messaging:a","n":0} {"cid":"messaging:a","n":2}]`; fmt.Sprint(bodies) != want {
		t.Errorf("delivered %v, want %s", bodies, want)
	}
}

func TestFIFOGroupStrategies(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name   string
		opts   []sqshook.Option
		ev     sqshook.Event
		group  string // "" : dead-lettered
		reason string // in the dead letter's message
	}{
		{"explicit group id wins", nil, sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:x"}`), GroupID: "mine"}, "mine", ""},
		{"default: cid", nil, sqshook.Event{Type: "message.new", Body: []byte(`{"message":{"cid":"nested"},"cid":"messaging:x"}`)}, "messaging:x", ""},
		{"default: type without cid", nil, sqshook.Event{Type: "user.updated", Body: []byte(`{"user":{"id":"u"}}`)}, "user.updated", ""},
		{"by type", []sqshook.Option{sqshook.WithGroupStrategy(sqshook.GroupByType)}, sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:x"}`)}, "message.new", ""},
		{"custom", []sqshook.Option{sqshook.WithGroupStrategy(func(h sqshook.Hook, ev sqshook.Event) string { return h.ID + "-all" })}, sqshook.Event{Type: "message.new", Body: []byte(`{}`)}, "h-all", ""},
		{"no strategy", []sqshook.Option{sqshook.WithGroupStrategy(nil)}, sqshook.Event{Type: "message.new", Body: []byte(`{"cid":"messaging:x"}`)}, "", "no group strategy"},
		{"illegal group", []sqshook.Option{sqshook.WithGroupStrategy(func(sqshook.Hook, sqshook.Event) string { return "has space" })}, sqshook.Event{Type: "message.new", Body: []byte(`{}`)}, "", "MessageGroupId"},
		{"panicking strategy", []sqshook.Option{sqshook.WithGroupStrategy(func(sqshook.Hook, sqshook.Event) string { panic("boom") })}, sqshook.Event{Type: "message.new", Body: []byte(`{}`)}, "", "panicked: boom"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q.fifo")}, append([]sqshook.Option{sqshook.WithLinger(0)}, c.opts...)...)
			err := d.Publish(ctx, c.ev)
			if ferr := d.Flush(ctx); ferr != nil {
				t.Fatal(ferr)
			}
			acked := fake.acked["https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo"]
			if c.group != "" {
				if err != nil || len(acked) != 1 {
					t.Fatalf("Publish: %v; %d acked", err, len(acked))
				}
				if g := *acked[0].MessageGroupId; g != c.group {
					t.Errorf("MessageGroupId = %q, want %q", g, c.group)
				}
				return
			}
			var de *sqshook.DeliveryError
			if !errors.As(err, &de) || de.Reason != sqshook.ReasonInvalidField || !strings.Contains(err.Error(), c.reason) {
				t.Errorf("Publish error %v, want an invalid_field DeliveryError mentioning %q", err, c.reason)
			}
			if len(acked) != 0 || len(dls.list()) != 1 {
				t.Errorf("%d acked, %d dead letters; want 0 and 1", len(acked), len(dls.list()))
			}
			if c.name == "panicking strategy" && d.Stats().CallbackPanics != 1 {
				t.Errorf("CallbackPanics = %d, want 1", d.Stats().CallbackPanics)
			}
		})
	}
}

func TestGroupByChannel(t *testing.T) {
	cases := []struct{ body, want string }{
		{`{"cid":"messaging:general"}`, "messaging:general"},
		{` { "type" : "message.new" , "cid" : "messaging:a" } `, "messaging:a"},
		{`{"message":{"cid":"inner"},"channel":[{"cid":"x"}],"cid":"outer"}`, "outer"},
		{`{"text":"a \"cid\":\"fake\" inside","cid":"real"}`, "real"},
		{`{"cid":"esc\u0061ped"}`, "escaped"},
		{`{"cid":""}`, "message.new"},
		{`{"cid":42}`, "message.new"},
		{`{"cid":null}`, "message.new"},
		{`{"n":1.5e3,"ok":true,"cid":"after-literals"}`, "after-literals"},
		{`{"message":{"cid":"only-nested"}}`, "message.new"},
		{`["cid","x"]`, "message.new"},
		{`{"cid":"unterminated`, "message.new"},
		{``, "message.new"},
	}
	for _, c := range cases {
		if got := sqshook.GroupByChannel(sqshook.Hook{}, sqshook.Event{Type: "message.new", Body: []byte(c.body)}); got != c.want {
			t.Errorf("GroupByChannel(%s) = %q, want %q", c.body, got, c.want)
		}
	}
}

func FuzzGroupByChannel(f *testing.F) {
	f.Add([]byte(`{"cid":"messaging:general","message":{"cid":"x"}}`))
	f.Add([]byte(`{"a":[1,{"b":"}"}],"cid":"c\"d"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		got := sqshook.GroupByChannel(sqshook.Hook{}, sqshook.Event{Type: "t", Body: body})
		var doc map[string]any
		if json.Unmarshal(body, &doc) != nil || !utf8.Valid(body) || bytes.Count(body, []byte(`cid`)) != 1 || bytes.IndexByte(body, '\\') >= 0 {
			return // any answer is fine, without a panic
		}
		want := "t"
		if s, ok := doc["cid"].(string); ok && s != "" {
			want = s
		}
		if got != want {
			t.Errorf("GroupByChannel(%q) = %q, want %q", body, got, want)
		}
	})
}

// SQS lists failed entries in any order (and an entry may be missing from
// the response): the retried entries of a FIFO group must still go back in
// the group's order.
func TestFIFORetryKeepsOrderWhateverTheResponseOrder(t *testing.T) {
	for _, c := range []struct {
		name    string
		respond func(in *sqsInput) *sqsOutput
	}{
		{"failed entries listed last first", func(in *sqsInput) *sqsOutput {
			out := &sqs.SendMessageBatchOutput{}
			for i := len(in.Entries) - 1; i >= 0; i-- {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: in.Entries[i].Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			}
			return out
		}},
		{"first entry missing, second failed", func(in *sqsInput) *sqsOutput {
			out := &sqs.SendMessageBatchOutput{}
			for _, e := range in.Entries[1:] {
				out.Failed = append(out.Failed, types.BatchResultErrorEntry{Id: e.Id, Code: aws.String("InternalError"), Message: aws.String("try again")})
			}
			return out
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			fake := newFake()
			fake.respond = func(call int, in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchOutput, error) {
				if call == 1 {
					return c.respond(in), nil
				}
				return okAll(in), nil
			}
			d, dls := newTestDispatcher(t, fake, []sqshook.Hook{hookFor("h", "q.fifo")},
				sqshook.WithLinger(time.Hour), sqshook.WithMaxInFlight(1))
			var want []string
			for i := 0; i < 3; i++ {
				ev := sqshook.Event{Type: "message.new", Body: []byte(fmt.Sprintf(`{"n":%d}`, i)), GroupID: "g", ID: fmt.Sprintf("ev-%d", i)}
				want = append(want, ev.ID)
				if err := d.Publish(context.Background(), ev); err != nil {
					t.Fatal(err)
				}
			}
			flush(t, d) // one batch of three, then the retry
			got := fake.ackedIDs("https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo")
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("group g delivered in the order %v, want %v", got, want)
			}
			if n := len(dls.list()); n != 0 {
				t.Errorf("%d dead letters", n)
			}
			checkAccounting(t, d, true)
		})
	}
}
