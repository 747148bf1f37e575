package sqshook

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"math/rand/v2"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	smithyjson "github.com/aws/smithy-go/encoding/json"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"

	"github.com/sqshook/sqshook/sqstest"
)

// leanRunes are characters of every class SQS allows in a message, and
// those JSON escapes.
var leanRunes = []rune{'a', 'Z', '0', ' ', '~', '"', '\\', '/', '\t', '\n', '\r', '<', '&',
	'\u00e9', '\u07ff', '\u0800', '\u2028', '\u2029', '\ud7ff', '\ue000', '\ufffd', '\U00010000', '\U0001f600', '\U0010ffff'}

func leanString(r *rand.Rand, n int) string {
	var b strings.Builder
	for range n {
		b.WriteRune(leanRunes[r.IntN(len(leanRunes))])
	}
	return b.String()
}

// leanBatch returns a random batch: bodies of every character class,
// attributes of every data type, FIFO or standard.
func leanBatch(r *rand.Rand, queueURL string, fifo bool) *sqs.SendMessageBatchInput {
	in := &sqs.SendMessageBatchInput{QueueUrl: aws.String(queueURL)}
	for i := range 1 + r.IntN(MaxBatchEntries) {
		e := types.SendMessageBatchRequestEntry{Id: aws.String(strconv.Itoa(i)), MessageBody: aws.String(leanString(r, 1+r.IntN(300)))}
		if n := r.IntN(4); n > 0 {
			e.MessageAttributes = map[string]types.MessageAttributeValue{}
			for j := range n {
				name := "attr" + strconv.Itoa(j)
				switch r.IntN(5) {
				case 0:
					e.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(leanString(r, 1+r.IntN(40)))}
				case 1:
					e.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String("Number"), StringValue: aws.String(strconv.Itoa(r.IntN(1e6) - 5e5))}
				case 2:
					e.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String("Number.float"), StringValue: aws.String("3.25")}
				case 3:
					bin := make([]byte, 1+r.IntN(40))
					for k := range bin {
						bin[k] = byte(r.IntN(256))
					}
					e.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String("Binary.raw"), BinaryValue: bin}
				default:
					e.MessageAttributes[name] = types.MessageAttributeValue{DataType: aws.String("String.custom"), StringValue: aws.String(leanString(r, 1+r.IntN(10)))}
				}
			}
		}
		if fifo {
			e.MessageGroupId = aws.String("g" + strconv.Itoa(r.IntN(3)))
			e.MessageDeduplicationId = aws.String("d-" + strconv.FormatUint(r.Uint64(), 36))
		} else if r.IntN(3) == 0 {
			e.DelaySeconds = int32(r.IntN(900))
		}
		in.Entries = append(in.Entries, e)
	}
	return in
}

// leanWire is a SendMessageBatch request as JSON carries it.
type leanWire struct {
	QueueUrl string
	Entries  []struct {
		Id, MessageBody                        string
		DelaySeconds                           int32
		MessageGroupId, MessageDeduplicationId *string
		MessageAttributes                      map[string]struct {
			DataType    string
			StringValue *string
			BinaryValue []byte
		}
	}
}

// leanEntriesOf is in as the sender gives it to the lean path: its
// entries without attribute maps, their attributes as views in le.
func leanEntriesOf(in *sqs.SendMessageBatchInput) (*sqs.SendMessageBatchInput, *leanEntries) {
	bare := *in
	bare.Entries = slices.Clone(in.Entries)
	le := getLeanEntries(len(in.Entries))
	for i := range bare.Entries {
		if bare.Entries[i].MessageAttributes != nil {
			le.attrs[i] = attrViewsOf(in.Entries[i].MessageAttributes, le.store[i][:])
			bare.Entries[i].MessageAttributes = nil
		}
	}
	return &bare, le
}

// checkLeanRoundTrip encodes in and decodes it with encoding/json: the
// result must be in.
func checkLeanRoundTrip(t *testing.T, in *sqs.SendMessageBatchInput) {
	t.Helper()
	body := appendSendMessageBatch(nil, in, nil)
	// The sender's way: no maps, the attributes as views.
	bare, le := leanEntriesOf(in)
	if viewed := appendSendMessageBatch(nil, bare, le); !bytes.Equal(viewed, body) {
		t.Fatalf("the attributes as views encode as\n%s\nas a map:\n%s", viewed, body)
	}
	var w leanWire
	if err := json.Unmarshal(body, &w); err != nil {
		t.Fatalf("the encoded request is not JSON: %v\n%s", err, body)
	}
	if w.QueueUrl != *in.QueueUrl || len(w.Entries) != len(in.Entries) {
		t.Fatalf("queue %q, %d entries; want %q, %d", w.QueueUrl, len(w.Entries), *in.QueueUrl, len(in.Entries))
	}
	for i, e := range in.Entries {
		g := w.Entries[i]
		if g.Id != *e.Id || g.MessageBody != *e.MessageBody || g.DelaySeconds != e.DelaySeconds ||
			aws.ToString(g.MessageGroupId) != aws.ToString(e.MessageGroupId) || (g.MessageGroupId == nil) != (e.MessageGroupId == nil) ||
			aws.ToString(g.MessageDeduplicationId) != aws.ToString(e.MessageDeduplicationId) || (g.MessageDeduplicationId == nil) != (e.MessageDeduplicationId == nil) {
			t.Fatalf("entry %d decoded as %+v, want %+v", i, g, e)
		}
		if len(g.MessageAttributes) != len(e.MessageAttributes) || (g.MessageAttributes == nil) != (e.MessageAttributes == nil) {
			t.Fatalf("entry %d: %d attributes, want %d", i, len(g.MessageAttributes), len(e.MessageAttributes))
		}
		for name, a := range e.MessageAttributes {
			ga, ok := g.MessageAttributes[name]
			if !ok || ga.DataType != *a.DataType || aws.ToString(ga.StringValue) != aws.ToString(a.StringValue) ||
				(ga.StringValue == nil) != (a.StringValue == nil) || !bytes.Equal(ga.BinaryValue, a.BinaryValue) {
				t.Fatalf("entry %d attribute %q decoded as %+v, want %+v", i, name, ga, a)
			}
		}
	}
}

// TestLeanEncoderRoundTrip: random batches decode to themselves.
func TestLeanEncoderRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 300 {
		checkLeanRoundTrip(t, leanBatch(r, "https://sqs.us-east-1.amazonaws.com/123456789012/q", i%2 == 0))
	}
}

// FuzzLeanEncoder: an entry of any (valid UTF-8) strings decodes to
// itself.
func FuzzLeanEncoder(f *testing.F) {
	f.Add("hello", "name", "value", []byte{0, 1, 2}, "group", "dedup", int32(0))
	f.Add("\"\\\x00\x1f\u2028\u2029\U0010ffff", "n\"", "v\\", []byte(nil), "", "", int32(900))
	f.Fuzz(func(t *testing.T, body, name, value string, bin []byte, group, dedup string, delay int32) {
		valid := func(s string) string { return strings.ToValidUTF8(s, "\ufffd") }
		e := types.SendMessageBatchRequestEntry{Id: aws.String("0"), MessageBody: aws.String(valid(body)), DelaySeconds: delay,
			MessageAttributes: map[string]types.MessageAttributeValue{
				valid(name): {DataType: aws.String("String"), StringValue: aws.String(valid(value))},
				"bin":       {DataType: aws.String("Binary"), BinaryValue: bin},
			}}
		if group != "" {
			e.MessageGroupId, e.MessageDeduplicationId = aws.String(valid(group)), aws.String(valid(dedup))
		}
		checkLeanRoundTrip(t, &sqs.SendMessageBatchInput{QueueUrl: aws.String("https://q/" + valid(name)), Entries: []types.SendMessageBatchRequestEntry{e}})
		// Invalid UTF-8 is replaced as the SDK's encoder replaces it.
		if got := appendJSONString(nil, body); !utf8.Valid(got) {
			t.Fatalf("%q encoded as invalid UTF-8 %q", body, got)
		}
	})
}

// FuzzAppendJSONStringAsSDK: appendJSONString writes every string byte
// for byte as the SDK's JSON encoder does, whatever b already holds.
func FuzzAppendJSONStringAsSDK(f *testing.F) {
	f.Add("", 0)
	f.Add(`{"a":"b\\"c","d":"\u003c\n"}`, 3)
	f.Add("\"\\\x00\x1f\x7f\u2028\u2029\xff\xe2\x80\U0010ffff\t\r\n", 17)
	f.Add(`{"type":"message.new","text":"a \"quoted\" word and a \\ backslash, `+"é\u2028\x01\xff"+` then more plain text to cross the vector escapers"}`, 5)
	hasAVX512, hasEscAVX2 := jsonAVX512, jsonEscAVX2
	defer func() { jsonAVX512, jsonEscAVX2 = hasAVX512, hasEscAVX2 }()
	f.Fuzz(func(t *testing.T, s string, prefix int) {
		enc := smithyjson.NewEncoder()
		enc.Value.String(s)
		want := enc.Bytes()
		pre := bytes.Repeat([]byte{'x'}, prefix&63)
		// Each escaper this CPU has, and none.
		for _, way := range [][2]bool{{hasAVX512, hasEscAVX2}, {false, hasEscAVX2}, {false, false}} {
			jsonAVX512, jsonEscAVX2 = way[0], way[1]
			got := appendJSONString(slices.Clip(pre), s)
			if !bytes.Equal(got[:len(pre)], pre) || !bytes.Equal(got[len(pre):], want) {
				t.Fatalf("AVX-512 %v, AVX2 %v: appendJSONString(%q) = %q, the SDK writes %q", way[0], way[1], s, got[len(pre):], want)
			}
		}
		jsonAVX512, jsonEscAVX2 = hasAVX512, hasEscAVX2
	})
}

// TestLeanMD5OfAttributes: the lean digest of attributes is SQS's, as
// sqstest computes it.
func TestLeanMD5OfAttributes(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		in := leanBatch(r, "q", false)
		for _, e := range in.Entries {
			if len(e.MessageAttributes) == 0 {
				continue
			}
			want := map[string]sqstest.Attribute{}
			for k, a := range e.MessageAttributes {
				want[k] = sqstest.Attribute{DataType: *a.DataType, StringValue: aws.ToString(a.StringValue), BinaryValue: a.BinaryValue}
			}
			sum := md5OfAttributes(e.MessageAttributes, false)
			if got := hex.EncodeToString(sum[:]); got != sqstest.MD5OfMessageAttributes(want) {
				t.Fatalf("attributes %v: MD5 %s, SQS's %s", e.MessageAttributes, got, sqstest.MD5OfMessageAttributes(want))
			}
		}
	}
}

// captureHTTP records the requests it is given and answers each with 500.
type captureHTTP struct {
	mu   sync.Mutex
	reqs []*http.Request
	body [][]byte
}

func (c *captureHTTP) Do(r *http.Request) (*http.Response, error) {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	c.mu.Lock()
	c.reqs, c.body = append(c.reqs, r), append(c.body, b)
	c.mu.Unlock()
	return &http.Response{StatusCode: 500, Header: http.Header{"Content-Type": {"application/x-amz-json-1.0"}},
		Body: io.NopCloser(strings.NewReader(`{"__type":"com.amazonaws.sqs#InternalError","message":"x"}`)), Request: r}, nil
}

// TestLeanRequestMatchesSDK: for queue URLs of every endpoint kind (and an
// endpoint override), the lean request goes to the URL the SDK's goes to,
// signed for the same name and region, with the same protocol headers and
// a body that decodes to the same JSON.
func TestLeanRequestMatchesSDK(t *testing.T) {
	cases := []struct{ region, queue, endpoint string }{
		{"us-east-1", "https://sqs.us-east-1.amazonaws.com/123456789012/q", ""},
		{"us-east-1", "https://sqs-fips.us-east-1.amazonaws.com/123456789012/q", ""},
		{"us-east-2", "https://sqs.us-east-2.api.aws/123456789012/q", ""},
		{"eu-west-1", "https://vpce-0123456789abcdef0-abcdefgh.sqs.eu-west-1.vpce.amazonaws.com/123456789012/q", ""},
		{"cn-north-1", "https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", ""},
		{"us-gov-west-1", "https://sqs.us-gov-west-1.amazonaws.com/123456789012/q", ""},
		{"us-east-1", "http://127.0.0.1:4566/000000000000/q", "http://127.0.0.1:4566"},
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, c := range cases {
		capture := &captureHTTP{}
		pool := NewClientPool(ClientOptions{HTTPClient: capture, Endpoint: c.endpoint})
		h := Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: c.queue, SQSRegion: c.region,
			SQSAuthType: AuthKeys, SQSKey: "AKIAEXAMPLE", SQSSecret: "secret"}
		lean, release, err := pool.acquire(context.Background(), h, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, ok := lean.(*leanClient); !ok {
			t.Fatalf("the pool's pipeline client is %T, not the lean client", lean)
		}
		in := leanBatch(r, c.queue, false)
		_, sdkErr := sdkClient(lean).SendMessageBatch(context.Background(), in)
		_, leanErr := lean.SendMessageBatch(context.Background(), in)
		release()
		if len(capture.reqs) != 2 {
			t.Fatalf("%s: %d requests sent, want 2 (SDK, lean)", c.queue, len(capture.reqs))
		}
		sdkReq, leanReq := capture.reqs[0], capture.reqs[1]
		if sdkReq.URL.String() != leanReq.URL.String() {
			t.Errorf("%s: lean URL %s, SDK's %s", c.queue, leanReq.URL, sdkReq.URL)
		}
		for _, k := range []string{"Content-Type", "X-Amz-Target", "X-Amzn-Query-Mode"} {
			if sdkReq.Header.Get(k) != leanReq.Header.Get(k) {
				t.Errorf("%s: lean %s %q, SDK's %q", c.queue, k, leanReq.Header.Get(k), sdkReq.Header.Get(k))
			}
		}
		sn, sr, ok1 := credentialScope(sdkReq.Header.Get("Authorization"))
		ln, lr, ok2 := credentialScope(leanReq.Header.Get("Authorization"))
		if !ok1 || !ok2 || sn != ln || sr != lr {
			t.Errorf("%s: lean signs for %s/%s, the SDK for %s/%s", c.queue, ln, lr, sn, sr)
		}
		var sdkJSON, leanJSON any
		if err := json.Unmarshal(capture.body[0], &sdkJSON); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(capture.body[1], &leanJSON); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(sdkJSON, leanJSON) {
			t.Errorf("%s: bodies differ:\nlean %s\nSDK  %s", c.queue, capture.body[1], capture.body[0])
		}
		if got, want := leanOutcome(nil, leanErr), leanOutcome(nil, sdkErr); got != want {
			t.Errorf("%s: lean error %s, SDK's %s", c.queue, got, want)
		}
	}
}

// leanOutcome describes what settlement sees of a call: the entries'
// outcomes, or the error's classification and public category.
func leanOutcome(out *sqs.SendMessageBatchOutput, err error) string {
	if err != nil {
		p := &pipe{d: &Dispatcher{sendCtx: context.Background()}}
		kind, code, _ := p.classify(err)
		pub, _ := PublicError(err)
		return fmt.Sprintf("error kind %d code %q public %q", kind, code, pub)
	}
	var ok, failed []string
	for _, s := range out.Successful {
		ok = append(ok, aws.ToString(s.Id))
	}
	for _, f := range out.Failed {
		failed = append(failed, fmt.Sprintf("%s:%s:%v", aws.ToString(f.Id), aws.ToString(f.Code), f.SenderFault))
	}
	slices.Sort(ok)
	slices.Sort(failed)
	return fmt.Sprintf("ok %v failed %v", ok, failed)
}

// TestLeanSettlesAsSDK: for random batches and every outcome sqstest can
// inject, the lean path and the SDK path are accepted alike and settle
// alike.
func TestLeanSettlesAsSDK(t *testing.T) {
	srv := sqstest.NewServer(sqstest.WithSeed(7))
	defer srv.Close()
	pool := NewClientPool(ClientOptions{Endpoint: srv.URL()})
	defer pool.CloseIdleConnections()
	std, fifo := srv.CreateQueue("std", nil), srv.CreateQueue("f.fifo", map[string]string{"ContentBasedDeduplication": "false"})
	h := Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: std, SQSRegion: "us-east-1",
		SQSAuthType: AuthKeys, SQSKey: "AKIAEXAMPLE", SQSSecret: "secret"}
	lean, release, err := pool.acquire(context.Background(), h, "")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	if _, ok := lean.(*leanClient); !ok {
		t.Fatalf("the pool's pipeline client is %T, not the lean client", lean)
	}
	sdk := sdkClient(lean)
	faults := []struct {
		name string
		f    *sqstest.Fault
	}{
		{"none", nil},
		{"partial", &sqstest.Fault{FailEntries: func(i int, _ string) *sqstest.EntryFailure {
			switch i % 3 {
			case 1:
				return &sqstest.EntryFailure{Code: "InternalError", Message: "x"}
			case 2:
				return &sqstest.EntryFailure{Code: "InvalidParameterValue", Message: "y", SenderFault: true}
			}
			return nil
		}}},
		{"throttled", &sqstest.Fault{Code: "RequestThrottled"}},
		{"kms throttled", &sqstest.Fault{Code: "KmsThrottled"}},
		{"500", &sqstest.Fault{Status: 500}},
		{"503", &sqstest.Fault{Code: "ServiceUnavailable"}},
		{"429", &sqstest.Fault{Status: 429}},
		{"no queue", &sqstest.Fault{Code: "QueueDoesNotExist"}},
		{"denied", &sqstest.Fault{Code: "AccessDenied"}},
		{"too long", &sqstest.Fault{Code: "BatchRequestTooLong"}},
		{"dropped before", &sqstest.Fault{Drop: sqstest.DropBeforeProcessing}},
		{"dropped after", &sqstest.Fault{Drop: sqstest.DropAfterProcessing}},
		{"wrong MD5", &sqstest.Fault{WrongMD5: true}},
	}
	r := rand.New(rand.NewPCG(8, 9))
	for _, fc := range faults {
		for i := range 6 {
			queue := std
			if i%2 == 1 {
				queue = fifo
			}
			in := leanBatch(r, queue, queue == fifo)
			var outcomes [3]string
			for j, c := range []SQSAPI{sdk, lean, leanViews{lean.(*leanClient)}} {
				if fc.f != nil {
					f := *fc.f
					f.Op, f.Times = "SendMessageBatch", 1
					srv.AddFault(f)
				}
				send := in
				if queue == fifo { // the second path's copies must not be taken for duplicates
					send = &sqs.SendMessageBatchInput{QueueUrl: in.QueueUrl, Entries: slices.Clone(in.Entries)}
					for k := range send.Entries {
						send.Entries[k].MessageDeduplicationId = aws.String(fmt.Sprint(*send.Entries[k].MessageDeduplicationId, "-", j))
					}
				}
				before := srv.Count(queue)
				out, err := c.SendMessageBatch(context.Background(), send)
				outcomes[j] = fmt.Sprintf("%s; stored %d", leanOutcome(out, err), srv.Count(queue)-before)
				srv.ClearFaults()
			}
			if outcomes[0] != outcomes[1] || outcomes[0] != outcomes[2] {
				t.Errorf("%s, batch %d: lean %s; lean with attribute views %s; SDK %s", fc.name, i, outcomes[1], outcomes[2], outcomes[0])
			}
			if fc.name == "wrong MD5" && !strings.Contains(outcomes[1], "error kind 0") {
				t.Errorf("wrong MD5: lean %s, want a transient error", outcomes[1])
			}
		}
	}
}

// leanViews sends as the sender does: the attributes as views, no maps.
type leanViews struct{ *leanClient }

func (c leanViews) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, _ ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	bare, le := leanEntriesOf(in)
	defer le.release()
	out, res, err := c.sendBatch(ctx, bare, le, true)
	if res == nil {
		return out, err
	}
	// The pooled result's strings point into its buffer: copied, then the
	// result is released and its buffer scribbled on, as the next call
	// would.
	cp := &sqs.SendMessageBatchOutput{Failed: out.Failed}
	for _, s := range out.Successful {
		cp.Successful = append(cp.Successful, types.SendMessageBatchResultEntry{
			Id: clonePtr(s.Id), MessageId: clonePtr(s.MessageId), MD5OfMessageBody: clonePtr(s.MD5OfMessageBody),
			MD5OfMessageAttributes: clonePtr(s.MD5OfMessageAttributes), MD5OfMessageSystemAttributes: clonePtr(s.MD5OfMessageSystemAttributes),
			SequenceNumber: clonePtr(s.SequenceNumber)})
	}
	b := res.rb.Bytes()
	res.release()
	for i := range b {
		b[i] = '#'
	}
	return cp, err
}

func clonePtr(s *string) *string {
	if s == nil {
		return nil
	}
	return aws.String(strings.Clone(*s))
}

// leanTestClient returns the lean client of a pool for a hook on a new
// queue of srv.
func leanTestClient(t *testing.T, srv *sqstest.Server, queue string) (*leanClient, string) {
	t.Helper()
	pool := NewClientPool(ClientOptions{Endpoint: srv.URL()})
	t.Cleanup(pool.CloseIdleConnections)
	url := srv.CreateQueue(queue, nil)
	h := Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: AuthKeys, SQSKey: "AKIAEXAMPLE", SQSSecret: "secret"}
	c, release, err := pool.acquire(context.Background(), h, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(release)
	l, ok := c.(*leanClient)
	if !ok {
		t.Fatalf("the pool's pipeline client is %T, not the lean client", c)
	}
	return l, url
}

// TestLeanBodyDigestOnce: the lean path checks the response against the
// body digests it is given, computing each once and reusing it on later
// calls (another hook's, another attempt's) rather than hashing the body
// again.
func TestLeanBodyDigestOnce(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	l, url := leanTestClient(t, srv, "q")
	r := rand.New(rand.NewPCG(3, 4))
	in, le := leanEntriesOf(leanBatch(r, url, false))
	digests := le.digests[:len(in.Entries)]
	for i := range digests {
		digests[i] = new(bodyDigest)
	}
	if _, _, err := l.sendBatch(context.Background(), in, le, false); err != nil {
		t.Fatal(err)
	}
	first := make([]*[16]byte, len(digests))
	for i, d := range digests {
		first[i] = d.p.Load()
		if first[i] == nil {
			t.Fatalf("entry %d: no digest kept after the call", i)
		}
		if want := md5Hex(*in.Entries[i].MessageBody); hex.EncodeToString(first[i][:]) != want {
			t.Fatalf("entry %d: digest %x, want %s", i, *first[i], want)
		}
	}
	if _, _, err := l.sendBatch(context.Background(), in, le, false); err != nil {
		t.Fatal(err)
	}
	for i, d := range digests {
		if d.p.Load() != first[i] {
			t.Fatalf("entry %d: the digest was computed again", i)
		}
	}
	// A kept digest is what the response is checked against: a wrong one
	// (which no body has) fails the call as a wrong MD5 from SQS would.
	first[3][0] ^= 0xff
	_, res, err := l.sendBatch(context.Background(), in, le, true)
	if res != nil {
		t.Fatal("a failed call returned a result to release")
	}
	if err == nil || !strings.Contains(err.Error(), "checksum validation failed") || !strings.Contains(err.Error(), "entry 3: body MD5") {
		t.Fatalf("with a wrong kept digest: %v, want a checksum error for entry 3", err)
	}
}

func md5Hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

// TestSenderBodyDigestLeanOnly: the pipeline hands its lean client the
// events' body digests, so that the event keeps its body's MD5 for every
// hook and attempt; on the SDK send path no digest is computed.
func TestSenderBodyDigestLeanOnly(t *testing.T) {
	for _, sdkPath := range []bool{false, true} {
		srv := sqstest.NewServer()
		defer srv.Close()
		var hooks []Hook
		for i, q := range []string{srv.CreateQueue("a", nil), srv.CreateQueue("b", nil)} {
			hooks = append(hooks, Hook{ID: fmt.Sprint("h", i), Enabled: true, HookType: HookTypeSQS, SQSQueueURL: q, SQSRegion: "us-east-1",
				SQSAuthType: AuthKeys, SQSKey: "AKIAIOSFODNN7EXAMPLE", SQSSecret: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"})
		}
		d, err := New(hooks, WithEndpoint(srv.URL()), WithClientOptions(ClientOptions{SDKSendPath: sdkPath}))
		if err != nil {
			t.Fatal(err)
		}
		body := `{"text":"hi"}`
		ed, err := d.prepare(Event{Type: "message.new", Body: []byte(body)})
		if err != nil {
			t.Fatal(err)
		}
		pipes := d.def.snap.Load().pipes
		if len(pipes) != 2 {
			t.Fatalf("%d pipelines, want 2", len(pipes))
		}
		for _, p := range pipes {
			if _, err := p.offer(ed); err != nil {
				t.Fatal(err)
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Flush(ctx); err != nil {
			t.Fatal(err)
		}
		for _, h := range hooks {
			if st, _ := d.Stats().Hook(h.ID); st.Delivered != 1 {
				t.Fatalf("hook %s: %d delivered, want 1", h.ID, st.Delivered)
			}
		}
		got := ed.md5.p.Load()
		switch {
		case sdkPath && got != nil:
			t.Errorf("SDK send path: a body digest was computed")
		case !sdkPath && got == nil:
			t.Errorf("lean send path: the event kept no body digest")
		case !sdkPath && hex.EncodeToString(got[:]) != md5Hex(body):
			t.Errorf("lean send path: digest %x, want %s", *got, md5Hex(body))
		}
		if err := d.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPlainJSON8: the word-at-a-time test agrees with jsonPlain for every
// byte value at every position, and its mask's lowest bit marks the first
// byte that is not plain.
func TestPlainJSON8(t *testing.T) {
	check := func(w []byte) {
		t.Helper()
		first := slices.IndexFunc(w, func(c byte) bool { return !jsonPlain[c] })
		x := binary.LittleEndian.Uint64(w)
		if got, want := plainJSON8(x), first < 0; got != want {
			t.Fatalf("%q: %v, want %v", w, got, want)
		}
		if m := notPlainJSON8(x); first >= 0 && bits.TrailingZeros64(m)/8 != first {
			t.Fatalf("%q: the mask %#x marks byte %d first, want %d", w, m, bits.TrailingZeros64(m)/8, first)
		}
	}
	base := []byte("abcdefgh")
	for pos := range 8 {
		for c := range 256 {
			w := slices.Clone(base)
			w[pos] = byte(c)
			check(w)
		}
	}
	r := rand.New(rand.NewPCG(5, 6))
	for range 200000 {
		var w [8]byte
		for i := range w {
			switch r.IntN(3) {
			case 0:
				w[i] = byte(r.IntN(256))
			default:
				w[i] = byte(0x1e + r.IntN(0x64)) // around both ends of the plain range
			}
		}
		check(w[:])
	}
}

// leanResponse writes a random SendMessageBatch success response as SQS
// does, with whitespace as ws says; odd replaces one part by something
// SQS does not send (the hand decoder must then leave it to the SDK's).
func leanResponse(r *rand.Rand, ws string, odd int) string {
	var b strings.Builder
	str := func(s string) string { return `"` + s + `"` }
	member := func(name, v string) string { return ws + str(name) + ws + ":" + ws + v }
	hexs := func() string { return fmt.Sprintf("%032x", r.Uint64()) }
	b.WriteString(ws + "{")
	var parts []string
	n := r.IntN(11)
	if n > 0 || r.IntN(2) == 0 {
		var es []string
		for i := range n {
			m := []string{member("Id", str(strconv.Itoa(i))), member("MessageId", str(fmt.Sprintf("%08x-aaaa-bbbb-cccc-%012x", r.Uint32(), r.Uint64()&0xffffffffffff))),
				member("MD5OfMessageBody", str(hexs()))}
			if r.IntN(2) == 0 {
				m = append(m, member("MD5OfMessageAttributes", str(hexs())))
			}
			if r.IntN(4) == 0 {
				m = append(m, member("SequenceNumber", str(strconv.FormatUint(r.Uint64(), 10))))
			}
			if r.IntN(8) == 0 {
				m = append(m, member("MD5OfMessageSystemAttributes", str(hexs())))
			}
			r.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
			es = append(es, ws+"{"+strings.Join(m, ",")+ws+"}")
		}
		parts = append(parts, member("Successful", "["+strings.Join(es, ",")+ws+"]"))
	}
	if k := r.IntN(4); k > 0 {
		var es []string
		for i := range k {
			m := []string{member("Id", str(strconv.Itoa(10+i))), member("Code", str("InternalError")), member("SenderFault", []string{"true", "false"}[r.IntN(2)])}
			if r.IntN(2) == 0 {
				m = append(m, member("Message", str("We encountered an internal error. Please try again.")))
			}
			r.Shuffle(len(m), func(i, j int) { m[i], m[j] = m[j], m[i] })
			es = append(es, ws+"{"+strings.Join(m, ",")+ws+"}")
		}
		parts = append(parts, member("Failed", "["+strings.Join(es, ",")+ws+"]"))
	}
	r.Shuffle(len(parts), func(i, j int) { parts[i], parts[j] = parts[j], parts[i] })
	b.WriteString(strings.Join(parts, ","))
	b.WriteString(ws + "}" + ws)
	s := b.String()
	switch odd {
	case 1:
		return strings.Replace(s, `"Id"`, `"Id\u0000"`, 1)
	case 2:
		return strings.Replace(s, `"InternalError"`, `"Internal\"Error"`, 1)
	case 3:
		return strings.Replace(s, `"InternalError"`, `"Intérnal"`, 1)
	case 4:
		return strings.Replace(s, `"MD5OfMessageBody"`, `"Unknown"`, 1)
	case 5:
		return strings.Replace(s, `"InternalError"`, `null`, 1)
	case 6:
		return strings.Replace(s, `{`, `{"Extra":1,`, 1)
	case 7:
		return s + "x"
	case 8:
		return s[:len(s)/2]
	case 9:
		return strings.Replace(s, `true`, `1`, 1)
	case 10:
		return strings.Replace(s, `"MessageId"`, `"Id"`, 1)
	}
	return s
}

// TestLeanDecodeMatchesSDK: every success response the hand decoder
// takes it decodes as the SDK's decoder does, and it takes those of the
// shape SQS sends.
func TestLeanDecodeMatchesSDK(t *testing.T) {
	proto := sqs.New(sqs.Options{Region: "us-east-1"}).Options().Protocol
	sdkDecode := func(s string) (*sqs.SendMessageBatchOutput, error) {
		out := &sqs.SendMessageBatchOutput{}
		resp := &smithyhttp.Response{Response: &http.Response{StatusCode: 200, Header: http.Header{}, Body: io.NopCloser(strings.NewReader(s))}}
		err := proto.DeserializeResponse(context.Background(), sendMessageBatchSchema, sqs.TypeRegistry, resp, out)
		return out, err
	}
	norm := func(o *sqs.SendMessageBatchOutput) string {
		b, _ := json.Marshal(struct {
			S []types.SendMessageBatchResultEntry
			F []types.BatchResultErrorEntry
		}{o.Successful, o.Failed})
		return string(b)
	}
	r := rand.New(rand.NewPCG(10, 11))
	taken := 0
	for i := range 3000 {
		ws := []string{"", " ", "\n  ", "\t\r\n"}[i%4]
		odd := 0
		if i%3 == 0 {
			odd = 1 + r.IntN(10)
		}
		s := leanResponse(r, ws, odd)
		fast := decodeBatchResult([]byte(s))
		if fast == nil {
			if odd == 0 {
				t.Fatalf("the hand decoder left an SQS-shaped response to the SDK:\n%s", s)
			}
			continue
		}
		taken++
		want, err := sdkDecode(s)
		if err != nil {
			t.Fatalf("the hand decoder took a response the SDK refuses (%v):\n%s", err, s)
		}
		if got, want := norm(fast), norm(want); got != want {
			t.Fatalf("response %s\nhand decoder: %s\nSDK:          %s", s, got, want)
		}
	}
	if taken < 1500 {
		t.Fatalf("the hand decoder took %d of 3000 responses", taken)
	}
}

// TestLeanMD5OfAttributesUTF16: the lean path also accepts the attribute
// digest of implementations that count string lengths in UTF-16 units
// (local-aws-sqs; the vectors are its module's), which the SDK path
// delivers to, and still refuses any other.
func TestLeanMD5OfAttributesUTF16(t *testing.T) {
	attrs := map[string]types.MessageAttributeValue{
		"event_id": {DataType: aws.String("String"), StringValue: aws.String("évt-😀")},
		"n":        {DataType: aws.String("Number"), StringValue: aws.String("12")},
		"b":        {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 255}},
	}
	const emulatorSum = "25aeb42d60fc3d4b52818b886d641ec7"
	if sum := md5OfAttributes(attrs, false); hex.EncodeToString(sum[:]) == emulatorSum {
		t.Fatal("the vector does not tell UTF-16 lengths from byte lengths")
	}
	check := func(attrs map[string]types.MessageAttributeValue, digest string) error {
		body := "{}"
		in := &sqs.SendMessageBatchInput{QueueUrl: aws.String("q"), Entries: []types.SendMessageBatchRequestEntry{
			{Id: aws.String("0"), MessageBody: &body, MessageAttributes: attrs}}}
		out := &sqs.SendMessageBatchOutput{Successful: []types.SendMessageBatchResultEntry{
			{Id: aws.String("0"), MD5OfMessageBody: aws.String(md5Hex(body)), MD5OfMessageAttributes: aws.String(digest)}}}
		return checkBatchMD5(in, out, nil)
	}
	if err := check(attrs, emulatorSum); err != nil {
		t.Errorf("the emulator's digest refused: %v", err)
	}
	sqsSum := md5OfAttributes(attrs, false)
	if err := check(attrs, hex.EncodeToString(sqsSum[:])); err != nil {
		t.Errorf("SQS's digest refused: %v", err)
	}
	if err := check(attrs, strings.Repeat("0", 32)); err == nil {
		t.Error("a wrong digest accepted")
	}
	ascii := map[string]types.MessageAttributeValue{"event_id": {DataType: aws.String("String"), StringValue: aws.String("evt-1")}}
	if err := check(ascii, "e1f9fb60b3a9a354611457d96b3b2867"); err != nil {
		t.Errorf("ASCII attributes: the digest both compute refused: %v", err)
	}
}

// TestLeanDispatcherAttributes: a dispatcher on the lean path (no
// attribute map is built) delivers an event published under a span with
// its own attributes of each type, sqshook's two and the traceparent,
// and the attributes' MD5 that SQS returns checks: the copy is delivered,
// not retried.
func TestLeanDispatcherAttributes(t *testing.T) {
	srv := sqstest.NewServer()
	defer srv.Close()
	url := srv.CreateQueue("q", nil)
	h := Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: url, SQSRegion: "us-east-1",
		SQSAuthType: AuthKeys, SQSKey: "AKIAIOSFODNN7EXAMPLE", SQSSecret: "secret"}
	d, err := New([]Hook{h}, WithEndpoint(srv.URL()), WithTracePropagation())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		d.Close(ctx)
	}()
	tp := sdktrace.NewTracerProvider()
	defer tp.Shutdown(context.Background())
	ctx, span := tp.Tracer("test").Start(context.Background(), "request")
	defer span.End()
	ev := Event{ID: "e-1", Type: "message.new", Body: []byte(`{"text":"hé \"you\""}`), Attributes: map[string]types.MessageAttributeValue{
		"zeta":  {DataType: aws.String("String.label"), StringValue: aws.String("zé")},
		"alpha": {DataType: aws.String("Number"), StringValue: aws.String("12")},
		"bin":   {DataType: aws.String("Binary"), BinaryValue: []byte{0, 1, 255}},
	}}
	if err := d.Publish(ctx, ev); err != nil {
		t.Fatal(err)
	}
	fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := d.Flush(fctx); err != nil {
		t.Fatal(err) // a digest refused every time: retried until then
	}
	if st, _ := d.Stats().Hook("h"); st.Delivered != 1 {
		t.Fatalf("delivered %d, want 1", st.Delivered)
	}
	msgs := srv.Received(url)
	if len(msgs) != 1 { // a digest refused is sent again
		t.Fatalf("%d messages received, want 1", len(msgs))
	}
	sc := span.SpanContext()
	want := map[string]sqstest.Attribute{
		"zeta":          {DataType: "String.label", StringValue: "zé"},
		"alpha":         {DataType: "Number", StringValue: "12"},
		"bin":           {DataType: "Binary", BinaryValue: []byte{0, 1, 255}},
		AttrEventID:     {DataType: "String", StringValue: "e-1"},
		AttrEventType:   {DataType: "String", StringValue: "message.new"},
		AttrTraceParent: {DataType: "String", StringValue: "00-" + sc.TraceID().String() + "-" + sc.SpanID().String() + "-01"},
	}
	if got := msgs[0].Attributes; !reflect.DeepEqual(got, want) {
		t.Fatalf("attributes %v, want %v", got, want)
	}
}

// TestLeanListAttributeAsSDK: an attribute with a list value (which SQS
// reserves) is not dropped by the lean path's attribute views: the batch
// goes through the SDK client, which sends the list as the SDK path does.
func TestLeanListAttributeAsSDK(t *testing.T) {
	sent := func(sdkPath bool) string {
		srv := sqstest.NewServer()
		defer srv.Close()
		url := srv.CreateQueue("q", nil)
		h := Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: url, SQSRegion: "us-east-1",
			SQSAuthType: AuthKeys, SQSKey: "AKIAIOSFODNN7EXAMPLE", SQSSecret: "secret"}
		rec := &bodyRecorder{next: http.DefaultTransport}
		d, err := New([]Hook{h}, WithEndpoint(srv.URL()),
			WithClientOptions(ClientOptions{SDKSendPath: sdkPath, HTTPClient: &http.Client{Transport: rec}}))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		defer d.Close(ctx)
		ev := Event{ID: "e-1", Type: "message.new", Body: []byte(`{}`), Attributes: map[string]types.MessageAttributeValue{
			"tags": {DataType: aws.String("String"), StringValue: aws.String("x"), StringListValues: []string{"a", "b"}},
		}}
		if err := d.Publish(ctx, ev); err != nil {
			t.Fatal(err)
		}
		if err := d.Flush(ctx); err != nil {
			t.Fatalf("Flush: %v", err)
		}
		return rec.all()
	}
	for _, sdkPath := range []bool{true, false} {
		if body := sent(sdkPath); !strings.Contains(body, `"StringListValues":["a","b"]`) {
			t.Errorf("SDK path %v: the list was not sent:\n%s", sdkPath, body)
		}
	}
}

// bodyRecorder keeps the bodies of the requests it passes on.
type bodyRecorder struct {
	next   http.RoundTripper
	mu     sync.Mutex
	bodies []string
}

func (r *bodyRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body.Close()
		r.mu.Lock()
		r.bodies = append(r.bodies, string(b))
		r.mu.Unlock()
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	return r.next.RoundTrip(req)
}

func (r *bodyRecorder) all() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.bodies, "\n")
}

// TestHexEqual: a digest matches its hex in either case, and nothing else.
func TestHexEqual(t *testing.T) {
	sum := md5.Sum([]byte("body"))
	lower := hex.EncodeToString(sum[:])
	for s, want := range map[string]bool{
		lower:                                  true,
		strings.ToUpper(lower):                 true,
		strings.ToUpper(lower[:7]) + lower[7:]: true,
		lower[:31] + "0":                       lower[31] == '0',
		lower[:31]:                             false,
		lower + "0":                            false,
		"K" + lower[1:]:                        false,
		"":                                     false,
	} {
		if got := hexEqual(s, sum[:]); got != want {
			t.Errorf("hexEqual(%q) = %v, want %v", s, got, want)
		}
	}
}
