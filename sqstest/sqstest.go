// Package sqstest runs an in-process Amazon SQS endpoint for tests,
// benchmarks and demos, the way net/http/httptest runs an HTTP server.
//
// NewServer starts a Server on a free port of 127.0.0.1; it listens on the
// loopback interface only and needs no credentials. Point the AWS SDK for Go
// v2 at Server.URL (as BaseEndpoint), or take a ready client from
// Server.Client. The server speaks the SQS JSON protocol (POST /,
// X-Amz-Target: AmazonSQS.<Operation>) for CreateQueue, GetQueueUrl,
// GetQueueAttributes, SetQueueAttributes, ListQueues, SendMessage,
// SendMessageBatch, ReceiveMessage (with visibility timeouts and long
// polling), ChangeMessageVisibility, DeleteMessage, DeleteMessageBatch,
// PurgeQueue and DeleteQueue.
//
// It behaves like SQS where clients can tell: it returns the MD5 digests of
// bodies and message attributes that SQS returns; it enforces SQS's limits
// (10 entries per batch, distinct and well-formed batch entry ids, the
// queue's MaximumMessageSize, the total size of a batch, the characters a
// body may hold, FIFO group and deduplication ids) with SQS's error codes;
// FIFO queues deduplicate within five minutes and number their messages; and
// errors carry the __type and X-Amzn-Query-Error header the SDK decodes into
// typed errors such as *types.QueueDoesNotExist.
//
// Every message a queue accepts is recorded (Server.Received; WithOnAccept
// also hands it to a function of the test's) and every call counted
// (Server.Calls). Faults are injected on demand with Server.AddFault:
// latency, whole-call errors (throttling, 5xx, access denied, …), failed
// batch entries, connections dropped before or after the request was
// processed, calls held unanswered (Fault.Hang) or until the test releases
// them (Fault.Release); Server.Outage and Server.SetOutage fail every call
// for a while.
// Random faults (Fault.Probability) draw from a generator seeded by WithSeed,
// so a run can be replayed.
//
//	srv := sqstest.NewServer()
//	defer srv.Close()
//	url := srv.CreateQueue("events", nil)
//	client := srv.Client()
//	// … send with client (or code under test pointed at srv.URL()) …
//	msgs := srv.Received(url)
package sqstest

import (
	"io"
	"log"
	"maps"
	"math/rand"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
)

// AccountID is the AWS account that owns every queue of a Server.
const AccountID = "123456789012"

// Region is the AWS region of every queue of a Server.
const Region = "us-east-1"

// Limits of SQS that the server enforces.
const (
	// DefaultMaxMessageBytes is a queue's MaximumMessageSize unless set.
	DefaultMaxMessageBytes = 256 * 1024
	// MaxMessageBytes is the largest MaximumMessageSize a queue can have.
	MaxMessageBytes = 1024 * 1024
	// MinMessageBytes is the smallest MaximumMessageSize a queue can have.
	MinMessageBytes = 1024
	// DefaultMaxBatchBytes is the largest total size of the messages of a
	// SendMessageBatch call, unless WithMaxBatchBytes says otherwise.
	DefaultMaxBatchBytes = 1024 * 1024
	// MaxBatchEntries is the most entries a batch call may have.
	MaxBatchEntries = 10
	// MaxMessageAttributes is the most message attributes a message may have.
	MaxMessageAttributes = 10
	// DedupWindow is how long a FIFO queue remembers deduplication ids.
	DedupWindow = 5 * time.Minute
)

// maxRequestBytes bounds the request bodies the server reads.
const maxRequestBytes = 16 << 20

// Option configures a Server.
type Option func(*options)

type options struct {
	seed          int64
	latency       time.Duration
	maxBatchBytes int
	record        bool
	clock         func() time.Time
	onAccept      func(queue string, m Message)
}

// WithSeed seeds the generator behind Fault.Probability (default 1). The same
// seed and the same sequence of calls inject the same faults.
func WithSeed(seed int64) Option { return func(o *options) { o.seed = seed } }

// WithLatency delays every call by d before it is handled, to simulate the
// round trip to SQS. The wait is a timer, cheap with thousands of calls in
// flight, and ends early when the client goes away.
func WithLatency(d time.Duration) Option { return func(o *options) { o.latency = d } }

// WithMaxBatchBytes sets the largest total size of the messages of one
// SendMessageBatch call (default DefaultMaxBatchBytes, 1 MiB, as SQS allows
// since August 2025; 262144 emulates the earlier limit). A larger batch
// fails as a whole with BatchRequestTooLong. A message's size is its body
// plus the names, data types and values of its message attributes.
func WithMaxBatchBytes(n int) Option { return func(o *options) { o.maxBatchBytes = n } }

// WithoutRecording keeps counts but not messages, for benchmarks that send
// more than memory should hold: Received returns nothing, ReceiveMessage
// finds no messages and ApproximateNumberOfMessages stays 0, while Count,
// Calls and FIFO deduplication still work.
func WithoutRecording() Option { return func(o *options) { o.record = false } }

// WithOnAccept calls f with every message a queue stores, recording or not
// (see WithoutRecording): the queue's name and the message as Received
// would return it (its Attributes are the request's; f must not change
// them). FIFO duplicates the queue drops are not passed. Calls for one
// queue are made one at a time, in the order the queue accepts the
// messages, with the queue locked: f must be quick and must not call the
// Server. It lets a test check what arrived (ids, order, duplicates)
// without the server keeping every message in memory.
func WithOnAccept(f func(queue string, m Message)) Option {
	return func(o *options) { o.onAccept = f }
}

// WithClock makes the server read the time from now instead of time.Now: for
// FIFO deduplication windows, visibility timeouts, message delays, Outage and
// the timestamps it records. Waits (latency, long polling) still take real
// time.
func WithClock(now func() time.Time) Option { return func(o *options) { o.clock = now } }

// Server is an in-process SQS endpoint. Its methods are safe for concurrent
// use.
type Server struct {
	http *httptest.Server
	opts options
	done chan struct{} // closed by Close

	qmu    sync.RWMutex
	queues map[string]*queue // by name

	fmu         sync.Mutex
	faults      []*faultRule
	rng         *rand.Rand
	nfaults     atomic.Int32
	outage      atomic.Bool
	outageUntil atomic.Int64 // UnixNano; 0 = none

	stats     counters
	msgSeq    atomic.Uint64
	reqSeq    atomic.Uint64
	active    atomic.Int64
	held      atomic.Int64 // calls Hang and Release rules hold now
	conns     atomic.Int64 // client connections accepted
	open      atomic.Int64 // client connections open now
	peakOpen  atomic.Int64 // the most open at once
	hmu       sync.Mutex   // guards closing and the Add calls of handlers
	closing   bool
	handlers  sync.WaitGroup
	closeOnce sync.Once

	sts stsState // the STS endpoint: roles, identities, records (sts.go)
}

// NewServer starts a server on a free port of 127.0.0.1. Close it when done.
func NewServer(opts ...Option) *Server {
	o := options{seed: 1, maxBatchBytes: DefaultMaxBatchBytes, record: true}
	for _, fn := range opts {
		fn(&o)
	}
	if o.maxBatchBytes <= 0 {
		o.maxBatchBytes = DefaultMaxBatchBytes
	}
	s := &Server{
		opts:   o,
		done:   make(chan struct{}),
		queues: make(map[string]*queue),
		rng:    rand.New(rand.NewSource(o.seed)),
	}
	s.stats.init()
	s.http = httptest.NewUnstartedServer(http.HandlerFunc(s.route))
	s.http.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.http.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		switch st {
		case http.StateNew:
			s.conns.Add(1)
			n := s.open.Add(1)
			for p := s.peakOpen.Load(); n > p && !s.peakOpen.CompareAndSwap(p, n); p = s.peakOpen.Load() {
			}
		case http.StateClosed, http.StateHijacked:
			s.open.Add(-1)
		}
	}
	s.http.Start()
	if t, ok := s.http.Client().Transport.(*http.Transport); ok {
		// Many calls in flight should reuse connections, not churn them.
		t.MaxIdleConnsPerHost = 256
	}
	return s
}

// ConnectionsAccepted returns how many client connections the server has
// accepted since it started, closed ones included.
func (s *Server) ConnectionsAccepted() int64 { return s.conns.Load() }

// PeakConnections returns the most client connections that were open at
// once since the server started.
func (s *Server) PeakConnections() int64 { return s.peakOpen.Load() }

// URL returns the endpoint, "http://127.0.0.1:PORT", to give the SDK as its
// BaseEndpoint.
func (s *Server) URL() string { return s.http.URL }

// Close stops the server: it ends waits and long polls, closes the listener
// and every connection, and waits for the handlers to return. Calling it
// again does nothing. Messages and statistics stay readable.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		s.hmu.Lock()
		s.closing = true
		s.hmu.Unlock()
		close(s.done)
		s.http.CloseClientConnections()
		s.http.Close()
		s.handlers.Wait()
	})
}

// Client returns an SQS client for the server: static fake credentials,
// region us-east-1, one attempt per call (the SDK's retries are off), and
// the server's HTTP client, whose connections Close closes. optFns adjust
// the options further.
func (s *Server) Client(optFns ...func(*sqs.Options)) *sqs.Client {
	return sqs.New(sqs.Options{
		Region:           Region,
		BaseEndpoint:     aws.String(s.URL()),
		Credentials:      aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIASQSTESTEXAMPLE00", "sqstest-fake-secret", "")),
		Retryer:          aws.NopRetryer{},
		RetryMaxAttempts: 1,
		HTTPClient:       s.http.Client(),
	}, optFns...)
}

// QueueURL returns the URL of the queue called name on this server, whether
// or not it exists: URL()/123456789012/name.
func (s *Server) QueueURL(name string) string {
	return s.URL() + "/" + AccountID + "/" + name
}

// CreateQueue creates a queue and returns its URL. A name ending in ".fifo"
// makes a FIFO queue, with or without the attribute FifoQueue=true (which
// also makes any other name a FIFO queue here). attrs
// are SQS queue attributes such as MaximumMessageSize, VisibilityTimeout,
// ContentBasedDeduplication, RedrivePolicy or Policy; unlike the
// CreateQueue operation, this method stores them without validating them,
// so tests can also describe queues SQS would not create. The server
// enforces the ones it understands (MaximumMessageSize, DelaySeconds,
// VisibilityTimeout, ReceiveMessageWaitTimeSeconds,
// ContentBasedDeduplication, DeduplicationScope). If the queue exists, its
// URL is returned and attrs are ignored.
func (s *Server) CreateQueue(name string, attrs map[string]string) string {
	q, _ := s.createQueue(name, attrs, false)
	return q.url
}

// createQueue creates or finds a queue. With strict set, an existing queue
// with other attributes is an error.
func (s *Server) createQueue(name string, attrs map[string]string, strict bool) (*queue, *apiError) {
	s.qmu.Lock()
	defer s.qmu.Unlock()
	if q, ok := s.queues[name]; ok {
		if strict {
			q.mu.Lock()
			defer q.mu.Unlock()
			for k, v := range attrs {
				if k == "FifoQueue" && q.fifo {
					continue
				}
				if q.attrs[k] != v {
					return nil, newError("QueueNameExists", "A queue already exists with the same name and a different value for attribute "+k)
				}
			}
		}
		return q, nil
	}
	q := newQueue(s, name, attrs)
	s.queues[name] = q
	return q, nil
}

// DeleteQueue removes the queue named by url (any URL whose last path
// segment is the name); later calls naming it get QueueDoesNotExist. Its
// record of received messages goes with it.
func (s *Server) DeleteQueue(url string) {
	s.qmu.Lock()
	q := s.queues[queueName(url)]
	delete(s.queues, queueName(url))
	s.qmu.Unlock()
	if q != nil {
		q.mu.Lock()
		q.gone = true
		q.wakeLocked()
		q.mu.Unlock()
	}
}

// queue returns the queue named by a queue URL, or nil.
func (s *Server) queue(url string) *queue {
	s.qmu.RLock()
	defer s.qmu.RUnlock()
	return s.queues[queueName(url)]
}

// queueName takes the queue name from a queue URL: its last path segment.
func queueName(url string) string {
	url = strings.TrimRight(url, "/")
	if i := strings.LastIndexByte(url, '/'); i >= 0 {
		return url[i+1:]
	}
	return url
}

// Message is a message a queue accepted, as the server recorded it.
type Message struct {
	MessageID              string               // the MessageId the sender was given
	Body                   string               // the body, byte for byte
	MD5OfBody              string               // hex MD5 of Body
	MD5OfMessageAttributes string               // see MD5OfMessageAttributes; "" without attributes
	Attributes             map[string]Attribute // the message attributes, by name
	GroupID                string               // MessageGroupId, if any
	DedupID                string               // FIFO: the deduplication id, given or the body's SHA-256
	SequenceNumber         string               // FIFO only
	DelaySeconds           int                  // as sent; 0 when the queue's delay applied
	ReceivedAt             time.Time            // when the queue accepted it, by the server's clock
}

// Attribute is a message attribute. Its JSON form is the one of the SQS JSON
// protocol.
type Attribute struct {
	DataType    string `json:"DataType"`
	StringValue string `json:"StringValue,omitempty"`
	BinaryValue []byte `json:"BinaryValue,omitempty"`
}

// Received returns a copy of every message the queue named by queueURL
// accepted, in the order it accepted them. ReceiveMessage and DeleteMessage
// do not change this record; duplicates a FIFO queue dropped are not in it.
func (s *Server) Received(queueURL string) []Message {
	q := s.queue(queueURL)
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]Message, len(q.records))
	for i, st := range q.records {
		out[i] = st.msg
		out[i].Attributes = maps.Clone(st.msg.Attributes)
	}
	return out
}

// Count returns how many messages the queue named by queueURL accepted, also
// without recording.
func (s *Server) Count(queueURL string) int {
	q := s.queue(queueURL)
	if q == nil {
		return 0
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.count
}

// Reset forgets every message (recorded, waiting or in flight), every FIFO
// deduplication id and every statistic, removes the fault rules, ends an
// outage and restarts the fault generator from its seed. Queues and their
// attributes stay.
func (s *Server) Reset() {
	s.ClearFaults()
	s.reseed()
	s.qmu.RLock()
	qs := slices.Collect(maps.Values(s.queues))
	s.qmu.RUnlock()
	for _, q := range qs {
		q.mu.Lock()
		q.resetLocked()
		q.mu.Unlock()
	}
	s.stats.reset()
	s.sts.reset() // AssumeRoleCalls and AccessKeys; roles and identities stay
}

// CallStats counts what a server saw.
type CallStats struct {
	// Calls counts calls per operation, including failed ones.
	Calls map[string]int
	// Faults counts calls an injected fault or an outage applied to.
	Faults int
	// Injected counts the faults applied, by kind: the error code sent
	// ("RequestThrottled", …), "Latency", "FailEntries",
	// "DropBeforeProcessing", "DropAfterProcessing", "Hang", "Release"
	// and "Outage".
	Injected map[string]int
	// Batches counts the SendMessageBatch calls processed: those that
	// passed the batch checks, not those failed whole.
	Batches int
	// Entries counts the entries of those batches.
	Entries int
	// EntriesFailed counts the batch entries answered in Failed, injected
	// or not.
	EntriesFailed int
	// Accepted counts the messages stored, over all queues.
	Accepted int
	// Deduplicated counts the FIFO sends accepted as duplicates and not
	// stored again.
	Deduplicated int
	// Delivered counts the messages ReceiveMessage returned.
	Delivered int
	// Deleted counts the messages deleted.
	Deleted int
	// MaxConcurrency is the most calls the server handled at once.
	MaxConcurrency int
	// MaxHeld is the most calls that Hang and Release rules held at once.
	MaxHeld int
}

// Calls returns a snapshot of the call statistics.
func (s *Server) Calls() CallStats { return s.stats.snapshot() }

// knownOps are the operations counted without a lock.
var knownOps = []string{
	"CreateQueue", "GetQueueUrl", "GetQueueAttributes", "SetQueueAttributes", "ListQueues",
	"SendMessage", "SendMessageBatch", "ReceiveMessage", "ChangeMessageVisibility",
	"DeleteMessage", "DeleteMessageBatch", "PurgeQueue", "DeleteQueue",
}

// counters are the statistics, kept with atomics on the hot path.
type counters struct {
	ops map[string]*atomic.Int64 // fixed after init

	mu       sync.Mutex
	otherOps map[string]int
	injected map[string]int

	faults, batches, entries, entriesFailed, accepted, dedup, delivered, deleted, maxConc, maxHeld atomic.Int64
}

func (c *counters) init() {
	c.ops = make(map[string]*atomic.Int64, len(knownOps))
	for _, op := range knownOps {
		c.ops[op] = new(atomic.Int64)
	}
	c.otherOps = map[string]int{}
	c.injected = map[string]int{}
}

func (c *counters) call(op string) {
	if n, ok := c.ops[op]; ok {
		n.Add(1)
		return
	}
	c.mu.Lock()
	c.otherOps[op]++
	c.mu.Unlock()
}

func (c *counters) inject(kinds ...string) {
	c.mu.Lock()
	for _, k := range kinds {
		c.injected[k]++
	}
	c.mu.Unlock()
}

func (c *counters) concurrency(n int64) { raise(&c.maxConc, n) }

func (c *counters) held(n int64) { raise(&c.maxHeld, n) }

// raise sets m to n when n is larger.
func raise(m *atomic.Int64, n int64) {
	for {
		v := m.Load()
		if n <= v || m.CompareAndSwap(v, n) {
			return
		}
	}
}

func (c *counters) snapshot() CallStats {
	st := CallStats{
		Calls:          map[string]int{},
		Faults:         int(c.faults.Load()),
		Batches:        int(c.batches.Load()),
		Entries:        int(c.entries.Load()),
		EntriesFailed:  int(c.entriesFailed.Load()),
		Accepted:       int(c.accepted.Load()),
		Deduplicated:   int(c.dedup.Load()),
		Delivered:      int(c.delivered.Load()),
		Deleted:        int(c.deleted.Load()),
		MaxConcurrency: int(c.maxConc.Load()),
		MaxHeld:        int(c.maxHeld.Load()),
	}
	for op, n := range c.ops {
		if v := n.Load(); v != 0 {
			st.Calls[op] = int(v)
		}
	}
	c.mu.Lock()
	for op, n := range c.otherOps {
		st.Calls[op] = n
	}
	st.Injected = maps.Clone(c.injected)
	c.mu.Unlock()
	return st
}

func (c *counters) reset() {
	for _, n := range c.ops {
		n.Store(0)
	}
	for _, n := range []*atomic.Int64{&c.faults, &c.batches, &c.entries, &c.entriesFailed, &c.accepted, &c.dedup, &c.delivered, &c.deleted, &c.maxConc, &c.maxHeld} {
		n.Store(0)
	}
	c.mu.Lock()
	clear(c.otherOps)
	clear(c.injected)
	c.mu.Unlock()
}

// now reads the server's clock.
func (s *Server) now() time.Time {
	if s.opts.clock != nil {
		return s.opts.clock()
	}
	return time.Now()
}

// newMessageID returns a fresh message id shaped like SQS's (a UUID).
func (s *Server) newMessageID() string {
	n := s.msgSeq.Add(1)
	return uuidLike(n)
}

func uuidLike(n uint64) string {
	const hexdigits = "0123456789abcdef"
	b := []byte("00000000-0000-4000-8000-000000000000")
	for i := len(b) - 1; i >= 0 && n > 0; i-- {
		if b[i] == '-' {
			continue
		}
		if i == 14 || i == 19 { // keep the version and variant digits
			continue
		}
		b[i] = hexdigits[n&0xf]
		n >>= 4
	}
	return string(b)
}

// itoa is strconv.Itoa, shorter.
func itoa(n int) string { return strconv.Itoa(n) }
