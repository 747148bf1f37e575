// Package sqstest runs an in-process Amazon SQS endpoint for tests,
// benchmarks and demos, the way net/http/httptest runs an HTTP server.
//
// A Server listens on a loopback address only. It speaks the SQS JSON
// protocol (the one the AWS SDK for Go v2 uses) for CreateQueue,
// GetQueueUrl, GetQueueAttributes, SetQueueAttributes, SendMessage,
// SendMessageBatch, ReceiveMessage, DeleteMessage, DeleteMessageBatch,
// PurgeQueue and DeleteQueue; it returns the MD5 digests the SDK verifies,
// enforces SQS's limits with SQS's error codes, records every message it
// accepts, and injects faults on demand: latency, whole-call errors
// (throttling, 5xx, access denied, …), failed batch entries, connections
// dropped before or after the request was processed, and outages.
//
//	srv := sqstest.NewServer()
//	defer srv.Close()
//	url := srv.CreateQueue("events", nil)
//	client := srv.Client()
//	// … send with client, then inspect srv.Received(url) …
//
// Randomness (Fault.Probability) comes from a generator seeded by WithSeed,
// so a failing run can be replayed.
package sqstest

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// AccountID is the account every queue of a Server belongs to.
const AccountID = "123456789012"

// Region is the region of every queue of a Server.
const Region = "us-east-1"

// Limits of SQS that the server enforces.
const (
	DefaultMaxMessageBytes = 256 * 1024
	MaxMessageBytes        = 1024 * 1024
	DefaultMaxBatchBytes   = 1024 * 1024
	MaxBatchEntries        = 10
	dedupWindow            = 5 * time.Minute
)

// Server is an in-process SQS endpoint. Its methods are safe for concurrent
// use.
type Server struct {
	http *httptest.Server
	opts options

	mu       sync.Mutex
	queues   map[string]*queue // by name
	faults   []*faultRule
	outage   bool
	rng      *rand.Rand
	stats    CallStats
	seq      uint64
	closed   bool
	closeMux sync.Once
	inflight atomic.Int64
}

type options struct {
	seed          int64
	latency       time.Duration
	maxBatchBytes int
	record        bool
}

// Option configures a Server.
type Option func(*options)

// WithSeed seeds the generator behind Fault.Probability. Default 1.
func WithSeed(seed int64) Option { return func(o *options) { o.seed = seed } }

// WithLatency adds d before every call is handled: a simulated round trip.
func WithLatency(d time.Duration) Option { return func(o *options) { o.latency = d } }

// WithMaxBatchBytes sets the largest SendMessageBatch the server accepts
// (default 1 MiB, as SQS since August 2025; 262144 emulates older regions).
// A larger batch fails whole with BatchRequestTooLong.
func WithMaxBatchBytes(n int) Option { return func(o *options) { o.maxBatchBytes = n } }

// WithoutRecording keeps counts but not message bodies, for benchmarks that
// send more than memory should hold. Received then returns nothing and
// ReceiveMessage finds no messages.
func WithoutRecording() Option { return func(o *options) { o.record = false } }

// Message is a message the server accepted.
type Message struct {
	MessageID      string
	Body           string
	MD5OfBody      string
	Attributes     map[string]Attribute
	GroupID        string
	DedupID        string
	SequenceNumber string
	ReceivedAt     time.Time

	receipt      string
	visibleAfter time.Time
	deleted      bool
}

// Attribute is a message attribute as the server received it.
type Attribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

type queue struct {
	name     string
	url      string
	attrs    map[string]string
	fifo     bool
	received []*Message
	count    int
	dedup    map[string]dedupEntry
	waiters  chan struct{} // closed when a message arrives
}

type dedupEntry struct {
	id string
	at time.Time
}

// CallStats counts what the server saw.
type CallStats struct {
	Calls          map[string]int // per operation
	Faults         int            // calls that met an injected fault
	Batches        int            // SendMessageBatch calls accepted (not faulted)
	Entries        int            // entries in those batches
	EntriesFailed  int            // entries answered as Failed
	Accepted       int            // messages stored, over all queues
	Deduplicated   int            // FIFO sends dropped as duplicates
	MaxConcurrency int            // most calls handled at once
}

// NewServer starts a server on 127.0.0.1 with a free port.
func NewServer(opts ...Option) *Server {
	o := options{seed: 1, maxBatchBytes: DefaultMaxBatchBytes, record: true}
	for _, fn := range opts {
		fn(&o)
	}
	s := &Server{
		opts:   o,
		queues: make(map[string]*queue),
		rng:    rand.New(rand.NewSource(o.seed)),
		stats:  CallStats{Calls: make(map[string]int)},
	}
	s.http = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// URL returns the endpoint, "http://127.0.0.1:PORT", to give the SDK as its
// base endpoint.
func (s *Server) URL() string { return s.http.URL }

// Close stops the server: it closes the listener and every connection and
// waits for the handlers to return. Idempotent.
func (s *Server) Close() {
	s.closeMux.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, q := range s.queues {
			close(q.waiters)
			q.waiters = make(chan struct{})
		}
		s.mu.Unlock()
		s.http.CloseClientConnections()
		s.http.Close()
	})
}

// Client returns an SQS client for the server: fake static credentials,
// region us-east-1, and the SDK's retries off (one attempt per call).
// Call CloseIdleConnections on the server's HTTP client when done, or use
// Server.Close, which closes the connections from the server side.
func (s *Server) Client() *sqs.Client {
	return sqs.New(sqs.Options{
		Region:       Region,
		BaseEndpoint: aws.String(s.URL()),
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIASQSTESTEXAMPLE00", "sqstest-secret", "")),
		Retryer:      aws.NopRetryer{},
		HTTPClient:   s.http.Client(),
	})
}

// CreateQueue creates a queue (FIFO when name ends in ".fifo") and returns
// its URL. attrs are SQS queue attributes, such as MaximumMessageSize or
// ContentBasedDeduplication. An existing queue's URL is returned as is.
func (s *Server) CreateQueue(name string, attrs map[string]string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.createLocked(name, attrs).url
}

func (s *Server) createLocked(name string, attrs map[string]string) *queue {
	if q, ok := s.queues[name]; ok {
		return q
	}
	q := &queue{
		name:    name,
		url:     s.URL() + "/" + AccountID + "/" + name,
		attrs:   map[string]string{"MaximumMessageSize": strconv.Itoa(DefaultMaxMessageBytes), "VisibilityTimeout": "30"},
		fifo:    strings.HasSuffix(name, ".fifo"),
		dedup:   make(map[string]dedupEntry),
		waiters: make(chan struct{}),
	}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	if q.fifo {
		q.attrs["FifoQueue"] = "true"
		if q.attrs["ContentBasedDeduplication"] == "" {
			q.attrs["ContentBasedDeduplication"] = "false"
		}
	}
	q.attrs["QueueArn"] = "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name
	s.queues[name] = q
	return q
}

// DeleteQueue removes a queue; later calls naming it get QueueDoesNotExist.
func (s *Server) DeleteQueue(url string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.queues, queueName(url))
}

// Received returns a copy of every message the queue accepted, in order
// (ReceiveMessage does not remove them from this record).
func (s *Server) Received(queueURL string) []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueName(queueURL)]
	if q == nil {
		return nil
	}
	out := make([]Message, len(q.received))
	for i, m := range q.received {
		out[i] = *m
	}
	return out
}

// Count returns how many messages the queue accepted (also without
// recording).
func (s *Server) Count(queueURL string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if q := s.queues[queueName(queueURL)]; q != nil {
		return q.count
	}
	return 0
}

// Calls returns a copy of the call statistics.
func (s *Server) Calls() CallStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.stats
	c.Calls = make(map[string]int, len(s.stats.Calls))
	for k, v := range s.stats.Calls {
		c.Calls[k] = v
	}
	return c
}

// queueName takes the name from any queue URL: its last path segment.
func queueName(url string) string {
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}

// DropMode says how a fault drops the connection.
type DropMode int

const (
	// NoDrop answers normally.
	NoDrop DropMode = iota
	// DropBeforeProcessing closes the connection without handling the
	// request: nothing is stored.
	DropBeforeProcessing
	// DropAfterProcessing handles the request (messages are stored), then
	// closes the connection without answering: the caller cannot know.
	DropAfterProcessing
)

// EntryFailure makes one batch entry fail.
type EntryFailure struct {
	Code        string
	Message     string
	SenderFault bool
}

// Fault is a rule for injecting a failure into matching calls.
type Fault struct {
	// Op is the operation name ("SendMessageBatch"); "" matches any.
	Op string
	// Queue is a queue name; "" matches any.
	Queue string
	// Latency is added before the call is handled (or failed).
	Latency time.Duration
	// Code fails the whole call with this SQS error code, for example
	// "RequestThrottled", "InternalError", "ServiceUnavailable",
	// "AccessDenied", "QueueDoesNotExist", "InvalidClientTokenId".
	Code string
	// Status is the HTTP status for Code; 0 picks SQS's (400 for client
	// errors, 500 for InternalError, 503 for ServiceUnavailable).
	Status int
	// FailEntries, for SendMessageBatch, returns the failure of entry i
	// (with batch entry id id), or nil to let it succeed.
	FailEntries func(i int, id string) *EntryFailure
	// Drop closes the connection before or after processing.
	Drop DropMode
	// Probability applies the fault to this share of matching calls, drawn
	// from the seeded generator; 0 means always.
	Probability float64
	// Times applies the fault to the next Times matching calls only; 0 means
	// until removed.
	Times int
}

type faultRule struct {
	Fault
	left int
}

// AddFault installs a fault rule; the returned function removes it. Rules
// are tried in the order they were added; the first that applies is used.
func (s *Server) AddFault(f Fault) (remove func()) {
	r := &faultRule{Fault: f, left: f.Times}
	s.mu.Lock()
	s.faults = append(s.faults, r)
	s.mu.Unlock()
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		for i, x := range s.faults {
			if x == r {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
				return
			}
		}
	}
}

// ClearFaults removes every fault rule and ends an outage.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
	s.outage = false
}

// SetOutage starts (true) or ends (false) an outage: meanwhile every call
// fails with ServiceUnavailable (HTTP 503).
func (s *Server) SetOutage(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outage = on
}

// pickFault returns the fault for a call, or nil.
func (s *Server) pickFault(op, qname string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.outage {
		return &Fault{Code: "ServiceUnavailable"}
	}
	for i, r := range s.faults {
		if r.Op != "" && r.Op != op || r.Queue != "" && r.Queue != qname {
			continue
		}
		if r.Probability > 0 && r.Probability < 1 && s.rng.Float64() >= r.Probability {
			continue
		}
		f := r.Fault
		if r.Times > 0 {
			r.left--
			if r.left <= 0 {
				s.faults = append(s.faults[:i], s.faults[i+1:]...)
			}
		}
		return &f
	}
	return nil
}

// apiError is an SQS error response.
type apiError struct {
	status int
	code   string // the JSON protocol's error type
	query  string // the legacy code of X-Amzn-Query-Error
	msg    string
	sender bool
}

// errorInfo maps codes to status and legacy query codes, as SQS sends them.
var errorInfo = map[string]struct {
	status int
	query  string
}{
	"QueueDoesNotExist":            {400, "AWS.SimpleQueueService.NonExistentQueue"},
	"BatchRequestTooLong":          {400, "AWS.SimpleQueueService.BatchRequestTooLong"},
	"TooManyEntriesInBatchRequest": {400, "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"},
	"BatchEntryIdsNotDistinct":     {400, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"},
	"InvalidBatchEntryId":          {400, "AWS.SimpleQueueService.InvalidBatchEntryId"},
	"EmptyBatchRequest":            {400, "AWS.SimpleQueueService.EmptyBatchRequest"},
	"ReceiptHandleIsInvalid":       {400, "ReceiptHandleIsInvalid"},
	"RequestThrottled":             {400, "RequestThrottled"},
	"ThrottlingException":          {400, "ThrottlingException"},
	"KmsThrottled":                 {400, "KMS.ThrottlingException"},
	"InvalidParameterValue":        {400, "InvalidParameterValue"},
	"MissingParameter":             {400, "MissingParameter"},
	"InvalidMessageContents":       {400, "InvalidMessageContents"},
	"AccessDenied":                 {403, "AccessDenied"},
	"InvalidClientTokenId":         {403, "InvalidClientTokenId"},
	"InternalError":                {500, "InternalError"},
	"ServiceUnavailable":           {503, "ServiceUnavailable"},
	"UnsupportedOperation":         {400, "AWS.SimpleQueueService.UnsupportedOperation"},
}

func newError(code, format string, args ...any) *apiError {
	e := &apiError{status: 400, code: code, query: code, msg: fmt.Sprintf(format, args...), sender: true}
	if info, ok := errorInfo[code]; ok {
		e.status, e.query = info.status, info.query
	}
	if e.status >= 500 {
		e.sender = false
	}
	return e
}

func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	fault := "Sender"
	if !e.sender {
		fault = "Receiver"
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	w.Header().Set("X-Amzn-Query-Error", e.query+";"+fault)
	w.WriteHeader(e.status)
	json.NewEncoder(w).Encode(map[string]string{"__type": "com.amazonaws.sqs#" + e.code, "message": e.msg})
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	n := s.inflight.Add(1)
	defer s.inflight.Add(-1)
	target := r.Header.Get("X-Amz-Target")
	op, ok := strings.CutPrefix(target, "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		s.writeError(w, newError("UnsupportedOperation", "want POST with X-Amz-Target AmazonSQS.<Operation>, got %s %q", r.Method, target))
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return
	}
	var probe struct {
		QueueUrl  string
		QueueName string
	}
	_ = json.Unmarshal(body, &probe)
	qname := probe.QueueName
	if probe.QueueUrl != "" {
		qname = queueName(probe.QueueUrl)
	}

	s.mu.Lock()
	s.stats.Calls[op]++
	if int(n) > s.stats.MaxConcurrency {
		s.stats.MaxConcurrency = int(n)
	}
	s.mu.Unlock()

	if !s.wait(r.Context(), s.opts.latency) {
		return
	}
	f := s.pickFault(op, qname)
	if f != nil {
		s.mu.Lock()
		s.stats.Faults++
		s.mu.Unlock()
		if !s.wait(r.Context(), f.Latency) {
			return
		}
		if f.Drop == DropBeforeProcessing {
			dropConnection(w)
			return
		}
		if f.Code != "" {
			e := newError(f.Code, "injected fault")
			if f.Status != 0 {
				e.status = f.Status
				e.sender = f.Status < 500
			}
			s.writeError(w, e)
			return
		}
	}

	out, apiErr := s.handle(op, body, f)
	if f != nil && f.Drop == DropAfterProcessing {
		dropConnection(w)
		return
	}
	if apiErr != nil {
		s.writeError(w, apiErr)
		return
	}
	w.Header().Set("Content-Type", "application/x-amz-json-1.0")
	json.NewEncoder(w).Encode(out)
}

// wait sleeps d unless the request goes away; it reports whether to go on.
func (s *Server) wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func dropConnection(w http.ResponseWriter) {
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err == nil {
		conn.Close()
	}
}

func (s *Server) handle(op string, body []byte, f *Fault) (any, *apiError) {
	switch op {
	case "CreateQueue":
		var in struct {
			QueueName  string
			Attributes map[string]string
		}
		if err := json.Unmarshal(body, &in); err != nil || in.QueueName == "" {
			return nil, newError("MissingParameter", "QueueName is required")
		}
		return map[string]string{"QueueUrl": s.CreateQueue(in.QueueName, in.Attributes)}, nil
	case "GetQueueUrl":
		var in struct{ QueueName string }
		json.Unmarshal(body, &in)
		s.mu.Lock()
		defer s.mu.Unlock()
		q := s.queues[in.QueueName]
		if q == nil {
			return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
		}
		return map[string]string{"QueueUrl": q.url}, nil
	case "GetQueueAttributes":
		var in struct {
			QueueUrl       string
			AttributeNames []string
		}
		json.Unmarshal(body, &in)
		return s.getAttributes(in.QueueUrl, in.AttributeNames)
	case "SetQueueAttributes":
		var in struct {
			QueueUrl   string
			Attributes map[string]string
		}
		json.Unmarshal(body, &in)
		s.mu.Lock()
		defer s.mu.Unlock()
		q := s.queues[queueName(in.QueueUrl)]
		if q == nil {
			return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
		}
		for k, v := range in.Attributes {
			q.attrs[k] = v
		}
		return struct{}{}, nil
	case "SendMessage":
		var in sendEntry
		var wrap struct{ QueueUrl string }
		json.Unmarshal(body, &wrap)
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, newError("InvalidParameterValue", "malformed request: %v", err)
		}
		return s.sendMessage(wrap.QueueUrl, in)
	case "SendMessageBatch":
		var in struct {
			QueueUrl string
			Entries  []sendEntry
		}
		if err := json.Unmarshal(body, &in); err != nil {
			return nil, newError("InvalidParameterValue", "malformed request: %v", err)
		}
		return s.sendBatch(in.QueueUrl, in.Entries, len(body), f)
	case "ReceiveMessage":
		var in struct {
			QueueUrl            string
			MaxNumberOfMessages int
			VisibilityTimeout   *int
			WaitTimeSeconds     int
		}
		json.Unmarshal(body, &in)
		return s.receive(in.QueueUrl, in.MaxNumberOfMessages, in.VisibilityTimeout, in.WaitTimeSeconds)
	case "DeleteMessage":
		var in struct{ QueueUrl, ReceiptHandle string }
		json.Unmarshal(body, &in)
		if !s.deleteMessage(in.QueueUrl, in.ReceiptHandle) {
			return nil, newError("ReceiptHandleIsInvalid", "The receipt handle is not valid.")
		}
		return struct{}{}, nil
	case "DeleteMessageBatch":
		var in struct {
			QueueUrl string
			Entries  []struct{ Id, ReceiptHandle string }
		}
		json.Unmarshal(body, &in)
		type ok struct{ Id string }
		type failed struct {
			Id, Code, Message string
			SenderFault       bool
		}
		out := struct {
			Successful []ok
			Failed     []failed
		}{Successful: []ok{}, Failed: []failed{}}
		for _, e := range in.Entries {
			if s.deleteMessage(in.QueueUrl, e.ReceiptHandle) {
				out.Successful = append(out.Successful, ok{e.Id})
			} else {
				out.Failed = append(out.Failed, failed{e.Id, "ReceiptHandleIsInvalid", "The receipt handle is not valid.", true})
			}
		}
		return out, nil
	case "PurgeQueue":
		var in struct{ QueueUrl string }
		json.Unmarshal(body, &in)
		s.mu.Lock()
		defer s.mu.Unlock()
		q := s.queues[queueName(in.QueueUrl)]
		if q == nil {
			return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
		}
		for _, m := range q.received {
			m.deleted = true
		}
		return struct{}{}, nil
	case "DeleteQueue":
		var in struct{ QueueUrl string }
		json.Unmarshal(body, &in)
		s.DeleteQueue(in.QueueUrl)
		return struct{}{}, nil
	}
	return nil, newError("UnsupportedOperation", "operation %s is not supported by sqstest", op)
}

func (s *Server) getAttributes(url string, names []string) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueName(url)]
	if q == nil {
		return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
	}
	visible := 0
	now := time.Now()
	for _, m := range q.received {
		if !m.deleted && !m.visibleAfter.After(now) {
			visible++
		}
	}
	all := map[string]string{"ApproximateNumberOfMessages": strconv.Itoa(visible)}
	for k, v := range q.attrs {
		all[k] = v
	}
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			out = all
			break
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return map[string]any{"Attributes": out}, nil
}

type sendEntry struct {
	Id                     string
	MessageBody            string
	DelaySeconds           int
	MessageAttributes      map[string]Attribute
	MessageGroupId         string
	MessageDeduplicationId string
}

type resultEntry struct {
	Id                     string `json:"Id,omitempty"`
	MessageId              string
	MD5OfMessageBody       string
	MD5OfMessageAttributes string `json:",omitempty"`
	SequenceNumber         string `json:",omitempty"`
}

type failedEntry struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

func (s *Server) sendMessage(url string, e sendEntry) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueName(url)]
	if q == nil {
		return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
	}
	if size := messageSize(e); size > q.maxMessageBytes() {
		return nil, newError("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.maxMessageBytes())
	}
	res, fail := s.acceptLocked(q, e)
	if fail != nil {
		return nil, newError(fail.Code, "%s", fail.Message)
	}
	res.Id = ""
	return res, nil
}

func (s *Server) sendBatch(url string, entries []sendEntry, requestBytes int, f *Fault) (any, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueName(url)]
	if q == nil {
		return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
	}
	switch {
	case len(entries) == 0:
		return nil, newError("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
	case len(entries) > MaxBatchEntries:
		return nil, newError("TooManyEntriesInBatchRequest", "Maximum number of entries per request are %d. You have sent %d.", MaxBatchEntries, len(entries))
	}
	ids := map[string]bool{}
	total := 0
	for _, e := range entries {
		if !validEntryID(e.Id) {
			return nil, newError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if ids[e.Id] {
			return nil, newError("BatchEntryIdsNotDistinct", "Id %s repeated.", e.Id)
		}
		ids[e.Id] = true
		total += messageSize(e)
	}
	if total > s.opts.maxBatchBytes {
		return nil, newError("BatchRequestTooLong", "Batch requests cannot be longer than %d bytes. You have sent %d bytes.", s.opts.maxBatchBytes, total)
	}
	s.stats.Batches++
	s.stats.Entries += len(entries)
	out := struct {
		Successful []resultEntry
		Failed     []failedEntry
	}{Successful: []resultEntry{}, Failed: []failedEntry{}}
	for i, e := range entries {
		if f != nil && f.FailEntries != nil {
			if ef := f.FailEntries(i, e.Id); ef != nil {
				out.Failed = append(out.Failed, failedEntry{e.Id, ef.Code, ef.Message, ef.SenderFault})
				continue
			}
		}
		if size := messageSize(e); size > q.maxMessageBytes() {
			out.Failed = append(out.Failed, failedEntry{e.Id, "InvalidParameterValue", fmt.Sprintf("Message must be shorter than %d bytes.", q.maxMessageBytes()), true})
			continue
		}
		res, fail := s.acceptLocked(q, e)
		if fail != nil {
			fail.Id = e.Id
			out.Failed = append(out.Failed, *fail)
			continue
		}
		out.Successful = append(out.Successful, res)
	}
	s.stats.EntriesFailed += len(out.Failed)
	return out, nil
}

// acceptLocked stores one message after checking its contents.
func (s *Server) acceptLocked(q *queue, e sendEntry) (resultEntry, *failedEntry) {
	if e.MessageBody == "" {
		return resultEntry{}, &failedEntry{Code: "MissingParameter", Message: "The request must contain the parameter MessageBody.", SenderFault: true}
	}
	if i := firstIllegal(e.MessageBody); i >= 0 {
		return resultEntry{}, &failedEntry{Code: "InvalidMessageContents", Message: fmt.Sprintf("Invalid binary character at byte %d", i), SenderFault: true}
	}
	if len(e.MessageAttributes) > 10 {
		return resultEntry{}, &failedEntry{Code: "InvalidParameterValue", Message: "Number of message attributes exceeds the limit of 10.", SenderFault: true}
	}
	now := time.Now()
	if q.fifo {
		if e.MessageGroupId == "" {
			return resultEntry{}, &failedEntry{Code: "MissingParameter", Message: "The request must contain the parameter MessageGroupId.", SenderFault: true}
		}
		if e.MessageDeduplicationId == "" && q.attrs["ContentBasedDeduplication"] != "true" {
			return resultEntry{}, &failedEntry{Code: "InvalidParameterValue", Message: "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly", SenderFault: true}
		}
	}
	md5Body := md5Hex([]byte(e.MessageBody))
	res := resultEntry{Id: e.Id, MD5OfMessageBody: md5Body, MD5OfMessageAttributes: attributesMD5(e.MessageAttributes)}
	if q.fifo {
		dedup := e.MessageDeduplicationId
		if dedup == "" {
			sum := md5.Sum([]byte(e.MessageBody))
			dedup = hex.EncodeToString(sum[:])
		}
		if d, ok := q.dedup[dedup]; ok && now.Sub(d.at) < dedupWindow {
			s.stats.Deduplicated++
			res.MessageId = d.id
			return res, nil
		}
		e.MessageDeduplicationId = dedup
	}
	s.seq++
	id := fmt.Sprintf("%08x-0000-4000-8000-%012x", s.seq>>48, s.seq)
	res.MessageId = id
	m := &Message{
		MessageID: id, Body: e.MessageBody, MD5OfBody: md5Body, Attributes: e.MessageAttributes,
		GroupID: e.MessageGroupId, DedupID: e.MessageDeduplicationId, ReceivedAt: now,
		receipt: "rh-" + q.name + "-" + strconv.FormatUint(s.seq, 10),
	}
	if e.DelaySeconds > 0 {
		m.visibleAfter = now.Add(time.Duration(e.DelaySeconds) * time.Second)
	}
	if q.fifo {
		m.SequenceNumber = fmt.Sprintf("%020d", s.seq)
		res.SequenceNumber = m.SequenceNumber
		q.dedup[e.MessageDeduplicationId] = dedupEntry{id: id, at: now}
	}
	q.count++
	s.stats.Accepted++
	if s.opts.record {
		q.received = append(q.received, m)
		close(q.waiters)
		q.waiters = make(chan struct{})
	}
	return res, nil
}

func (q *queue) maxMessageBytes() int {
	if n, err := strconv.Atoi(q.attrs["MaximumMessageSize"]); err == nil && n > 0 {
		return n
	}
	return DefaultMaxMessageBytes
}

func (s *Server) receive(url string, max int, visibility *int, waitSeconds int) (any, *apiError) {
	if max <= 0 {
		max = 1
	}
	if max > 10 {
		return nil, newError("InvalidParameterValue", "Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10.", max)
	}
	deadline := time.Now().Add(time.Duration(waitSeconds) * time.Second)
	for {
		s.mu.Lock()
		q := s.queues[queueName(url)]
		if q == nil {
			s.mu.Unlock()
			return nil, newError("QueueDoesNotExist", "The specified queue does not exist.")
		}
		vis := 30 * time.Second
		if visibility != nil {
			vis = time.Duration(*visibility) * time.Second
		}
		now := time.Now()
		type msgOut struct {
			MessageId              string
			ReceiptHandle          string
			MD5OfBody              string
			Body                   string
			Attributes             map[string]string    `json:",omitempty"`
			MessageAttributes      map[string]Attribute `json:",omitempty"`
			MD5OfMessageAttributes string               `json:",omitempty"`
		}
		var msgs []msgOut
		for _, m := range q.received {
			if len(msgs) == max {
				break
			}
			if m.deleted || m.visibleAfter.After(now) {
				continue
			}
			m.visibleAfter = now.Add(vis)
			attrs := map[string]string{"SentTimestamp": strconv.FormatInt(m.ReceivedAt.UnixMilli(), 10)}
			if m.GroupID != "" {
				attrs["MessageGroupId"] = m.GroupID
			}
			if m.SequenceNumber != "" {
				attrs["SequenceNumber"] = m.SequenceNumber
				attrs["MessageDeduplicationId"] = m.DedupID
			}
			msgs = append(msgs, msgOut{m.MessageID, m.receipt, m.MD5OfBody, m.Body, attrs, m.Attributes, attributesMD5(m.Attributes)})
		}
		waiters, closed := q.waiters, s.closed
		s.mu.Unlock()
		if len(msgs) > 0 || !time.Now().Before(deadline) || closed {
			return map[string]any{"Messages": msgs}, nil
		}
		t := time.NewTimer(time.Until(deadline))
		select {
		case <-waiters:
		case <-t.C:
		}
		t.Stop()
	}
}

func (s *Server) deleteMessage(url, receipt string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	q := s.queues[queueName(url)]
	if q == nil {
		return false
	}
	for _, m := range q.received {
		if m.receipt == receipt {
			m.deleted = true
			return true
		}
	}
	return false
}

func validEntryID(id string) bool {
	if id == "" || len(id) > 80 {
		return false
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// messageSize is the size SQS counts: body plus attribute names, types and
// values.
func messageSize(e sendEntry) int {
	n := len(e.MessageBody)
	for k, a := range e.MessageAttributes {
		n += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return n
}

// firstIllegal returns the offset of the first character SQS refuses, or -1.
func firstIllegal(s string) int {
	for i, r := range s {
		switch {
		case r == 0x9 || r == 0xA || r == 0xD:
		case r >= 0x20 && r <= 0xD7FF:
		case r >= 0xE000 && r <= 0xFFFD:
			if r == 0xFFFD && !validRuneAt(s, i) {
				return i
			}
		case r >= 0x10000 && r <= 0x10FFFF:
		default:
			return i
		}
	}
	return -1
}

// validRuneAt reports whether the U+FFFD at s[i:] is really encoded there
// (and not produced by decoding invalid UTF-8).
func validRuneAt(s string, i int) bool {
	return strings.HasPrefix(s[i:], "\uFFFD")
}

func md5Hex(b []byte) string {
	sum := md5.Sum(b)
	return hex.EncodeToString(sum[:])
}

// attributesMD5 computes MD5OfMessageAttributes as SQS does: names sorted;
// each as length-prefixed name, length-prefixed data type, a transport byte
// (1 for String and Number, 2 for Binary) and the length-prefixed value.
func attributesMD5(attrs map[string]Attribute) string {
	if len(attrs) == 0 {
		return ""
	}
	names := make([]string, 0, len(attrs))
	for k := range attrs {
		names = append(names, k)
	}
	sort.Strings(names)
	h := md5.New()
	put := func(b []byte) {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(b)))
		h.Write(l[:])
		h.Write(b)
	}
	for _, n := range names {
		a := attrs[n]
		put([]byte(n))
		put([]byte(a.DataType))
		if strings.HasPrefix(a.DataType, "Binary") {
			h.Write([]byte{2})
			put(a.BinaryValue)
		} else {
			h.Write([]byte{1})
			put([]byte(a.StringValue))
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}
