package sqstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// request holds the input of every operation; each uses its own fields.
type request struct {
	QueueUrl                    string
	QueueName                   string
	QueueNamePrefix             string
	MaxResults                  *int
	Attributes                  map[string]string
	AttributeNames              []string
	MessageSystemAttributeNames []string
	MessageAttributeNames       []string
	MaxNumberOfMessages         *int
	VisibilityTimeout           *int
	WaitTimeSeconds             *int
	ReceiptHandle               string
	Entries                     []requestEntry

	// SendMessage.
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]Attribute
	MessageSystemAttributes map[string]Attribute
	MessageGroupId          *string
	MessageDeduplicationId  *string
}

// requestEntry is an entry of SendMessageBatch or DeleteMessageBatch.
type requestEntry struct {
	sendEntry
	ReceiptHandle string
}

// opFunc handles one operation. It returns the response, or an error, or
// neither when the call is to go unanswered.
type opFunc func(s *Server, ctx context.Context, req *request, f *Fault) (any, *apiError)

var ops map[string]opFunc

func init() {
	ops = map[string]opFunc{
		"CreateQueue":             (*Server).opCreateQueue,
		"GetQueueUrl":             (*Server).opGetQueueURL,
		"GetQueueAttributes":      (*Server).opGetQueueAttributes,
		"SetQueueAttributes":      (*Server).opSetQueueAttributes,
		"ListQueues":              (*Server).opListQueues,
		"SendMessage":             (*Server).opSendMessage,
		"SendMessageBatch":        (*Server).opSendMessageBatch,
		"ReceiveMessage":          (*Server).opReceiveMessage,
		"ChangeMessageVisibility": (*Server).opChangeMessageVisibility,
		"DeleteMessage":           (*Server).opDeleteMessage,
		"DeleteMessageBatch":      (*Server).opDeleteMessageBatch,
		"PurgeQueue":              (*Server).opPurgeQueue,
		"DeleteQueue":             (*Server).opDeleteQueue,
	}
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// enter registers a handler; it reports false once the server is closing.
func (s *Server) enter() bool {
	s.hmu.Lock()
	defer s.hmu.Unlock()
	if s.closing {
		return false
	}
	s.handlers.Add(1)
	return true
}

func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.enter() {
		s.writeError(w, newError("ServiceUnavailable", "The server is closing."))
		return
	}
	defer s.handlers.Done()
	s.stats.concurrency(s.active.Add(1))
	defer s.active.Add(-1)

	buf := bufPool.Get().(*bytes.Buffer)
	buf.Reset()
	defer bufPool.Put(buf)
	if _, err := buf.ReadFrom(http.MaxBytesReader(w, r.Body, maxRequestBytes)); err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			s.writeError(w, newError("RequestEntityTooLarge", ""))
		}
		return
	}

	op, ok := strings.CutPrefix(r.Header.Get("X-Amz-Target"), "AmazonSQS.")
	if r.Method != http.MethodPost || !ok {
		s.writeError(w, newError("UnknownOperationException", fmt.Sprintf("Expected POST with header X-Amz-Target: AmazonSQS.<Operation>, got %s with %q.", r.Method, r.Header.Get("X-Amz-Target"))))
		return
	}
	s.stats.call(op)
	handle, known := ops[op]
	if !known {
		s.writeError(w, newError("UnknownOperationException", "The operation "+op+" is not supported."))
		return
	}
	var req request
	if err := json.Unmarshal(buf.Bytes(), &req); err != nil {
		s.writeError(w, newError("SerializationException", "The request body is not valid JSON for "+op+": "+err.Error()))
		return
	}
	qname := req.QueueName
	if req.QueueUrl != "" {
		qname = queueName(req.QueueUrl)
	}

	ctx := r.Context()
	if !s.wait(ctx, s.opts.latency) {
		// The client went away or the server is closing: never let an
		// unanswered call look like an empty success.
		dropConnection(w)
		return
	}
	if s.inOutage() {
		s.stats.faults.Add(1)
		s.stats.inject("Outage")
		s.writeError(w, newError("ServiceUnavailable", ""))
		return
	}
	f := s.pickFault(op, qname)
	if f != nil {
		s.stats.faults.Add(1)
		if !s.applyFaultBefore(ctx, w, f) {
			return
		}
	}

	out, apiErr := handle(s, ctx, &req, f)
	if out == nil && apiErr == nil || f != nil && f.Drop == DropAfterProcessing {
		dropConnection(w)
		return
	}
	if apiErr != nil {
		s.writeError(w, apiErr)
		return
	}
	s.writeJSON(w, http.StatusOK, out)
}

// applyFaultBefore applies the parts of a fault that come before handling;
// it reports whether to go on and handle the call.
func (s *Server) applyFaultBefore(ctx context.Context, w http.ResponseWriter, f *Fault) bool {
	if !s.hold(ctx, f) {
		dropConnection(w)
		return false
	}
	if f.Latency > 0 {
		s.stats.inject("Latency")
		if !s.wait(ctx, f.Latency) {
			dropConnection(w)
			return false
		}
	}
	switch f.Drop {
	case DropBeforeProcessing:
		s.stats.inject("DropBeforeProcessing")
		dropConnection(w)
		return false
	case DropAfterProcessing:
		s.stats.inject("DropAfterProcessing")
		return true
	}
	if f.Code != "" || f.Status != 0 {
		code := f.Code
		if code == "" {
			code = codeForStatus(f.Status)
		}
		e := newError(code, f.Message)
		if f.Status != 0 {
			e.status = f.Status
			e.sender = f.Status < 500
		}
		s.stats.inject(e.query)
		s.writeError(w, e)
		return false
	}
	return true
}

// wait waits d unless the client goes away or the server closes; it reports
// whether the wait ran its course.
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
	case <-s.done:
		return false
	}
}

// dropConnection closes the connection without a response.
func dropConnection(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	// Not HTTP/1: abort the stream instead.
	panic(http.ErrAbortHandler)
}

func (s *Server) writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		body = []byte("{}")
		status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", "application/x-amz-json-1.0")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-Requestid", uuidLike(s.reqSeq.Add(1)))
	w.WriteHeader(status)
	w.Write(body)
}

// writeError sends an error as SQS does over the JSON protocol: the shape in
// the body's __type, the legacy code and fault in X-Amzn-Query-Error.
func (s *Server) writeError(w http.ResponseWriter, e *apiError) {
	fault := "Sender"
	if !e.sender {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", e.query+";"+fault)
	s.writeJSON(w, e.status, struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{"com.amazonaws.sqs#" + e.shape, e.msg})
}

// queueOf returns the queue a call names by QueueUrl.
func (s *Server) queueOf(req *request) (*queue, *apiError) {
	if req.QueueUrl == "" {
		return nil, newError("MissingParameter", "The request must contain the parameter QueueUrl.")
	}
	q := s.queue(req.QueueUrl)
	if q == nil {
		return nil, newError("QueueDoesNotExist", "")
	}
	return q, nil
}

var empty = struct{}{}

func (s *Server) opCreateQueue(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	name := req.QueueName
	if name == "" {
		return nil, newError("MissingParameter", "The request must contain the parameter QueueName.")
	}
	if !validQueueName(name) {
		return nil, newError("InvalidParameterValue", "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length.")
	}
	fifo := strings.HasSuffix(name, ".fifo")
	if req.Attributes["FifoQueue"] == "true" && !fifo {
		return nil, newError("InvalidParameterValue", "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.")
	}
	if e := checkQueueAttributes(req.Attributes, fifo, true); e != nil {
		return nil, e
	}
	q, e := s.createQueue(name, req.Attributes, true)
	if e != nil {
		return nil, e
	}
	return map[string]string{"QueueUrl": q.url}, nil
}

func (s *Server) opGetQueueURL(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	if req.QueueName == "" {
		return nil, newError("MissingParameter", "The request must contain the parameter QueueName.")
	}
	s.qmu.RLock()
	q := s.queues[req.QueueName]
	s.qmu.RUnlock()
	if q == nil {
		return nil, newError("QueueDoesNotExist", "")
	}
	return map[string]string{"QueueUrl": q.url}, nil
}

// queueAttributeNames are the attributes GetQueueAttributes knows.
var queueAttributeNames = []string{
	"ApproximateNumberOfMessages", "ApproximateNumberOfMessagesDelayed", "ApproximateNumberOfMessagesNotVisible",
	"ContentBasedDeduplication", "CreatedTimestamp", "DeduplicationScope", "DelaySeconds", "FifoQueue",
	"FifoThroughputLimit", "KmsDataKeyReusePeriodSeconds", "KmsMasterKeyId", "LastModifiedTimestamp",
	"MaximumMessageSize", "MessageRetentionPeriod", "Policy", "QueueArn", "ReceiveMessageWaitTimeSeconds",
	"RedriveAllowPolicy", "RedrivePolicy", "SqsManagedSseEnabled", "VisibilityTimeout",
}

// settableAttributes are the attributes CreateQueue and SetQueueAttributes
// accept, with the range of the numeric ones.
var settableAttributes = map[string][2]int{
	"DelaySeconds":                  {0, 900},
	"MaximumMessageSize":            {MinMessageBytes, MaxMessageBytes},
	"MessageRetentionPeriod":        {60, 1209600},
	"ReceiveMessageWaitTimeSeconds": {0, 20},
	"VisibilityTimeout":             {0, 43200},
	"KmsDataKeyReusePeriodSeconds":  {60, 86400},
	"Policy":                        {}, "RedrivePolicy": {}, "RedriveAllowPolicy": {},
	"KmsMasterKeyId": {}, "SqsManagedSseEnabled": {},
	"FifoQueue": {}, "ContentBasedDeduplication": {}, "DeduplicationScope": {}, "FifoThroughputLimit": {},
}

var fifoOnlyAttributes = map[string]bool{
	"FifoQueue": true, "ContentBasedDeduplication": true, "DeduplicationScope": true, "FifoThroughputLimit": true,
}

// checkQueueAttributes validates attributes for CreateQueue (creating) or
// SetQueueAttributes.
func checkQueueAttributes(attrs map[string]string, fifo, creating bool) *apiError {
	for k, v := range attrs {
		rng, ok := settableAttributes[k]
		if !ok || fifoOnlyAttributes[k] && !fifo || k == "FifoQueue" && !creating {
			return newError("InvalidAttributeName", "Unknown Attribute "+k+".")
		}
		if rng != [2]int{} {
			n, err := strconv.Atoi(v)
			if err != nil || n < rng[0] || n > rng[1] {
				return newError("InvalidAttributeValue", fmt.Sprintf("Invalid value for the parameter %s. Reason: must be an integer from %d to %d.", k, rng[0], rng[1]))
			}
		}
		switch k {
		case "FifoQueue", "ContentBasedDeduplication", "SqsManagedSseEnabled":
			if v != "true" && v != "false" {
				return newError("InvalidAttributeValue", "Invalid value for the parameter "+k+".")
			}
		case "DeduplicationScope":
			if v != "queue" && v != "messageGroup" {
				return newError("InvalidAttributeValue", "Invalid value for the parameter DeduplicationScope.")
			}
		case "FifoThroughputLimit":
			if v != "perQueue" && v != "perMessageGroupId" {
				return newError("InvalidAttributeValue", "Invalid value for the parameter FifoThroughputLimit.")
			}
		case "Policy", "RedrivePolicy", "RedriveAllowPolicy":
			if v != "" && !json.Valid([]byte(v)) {
				return newError("InvalidAttributeValue", "Invalid value for the parameter "+k+". Reason: not valid JSON.")
			}
		}
	}
	return nil
}

func (s *Server) opGetQueueAttributes(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	for _, n := range req.AttributeNames {
		if n != "All" && !slices.Contains(queueAttributeNames, n) {
			return nil, newError("InvalidAttributeName", "Unknown Attribute "+n+".")
		}
	}
	return map[string]map[string]string{"Attributes": q.attributes(req.AttributeNames)}, nil
}

// attributes returns the queue attributes asked for.
func (q *queue) attributes(names []string) map[string]string {
	q.mu.Lock()
	defer q.mu.Unlock()
	now := q.srv.now()
	all := make(map[string]string, len(q.attrs)+6)
	for k, v := range q.attrs {
		all[k] = v
	}
	visible, inflight, delayed := q.countsLocked(now)
	all["ApproximateNumberOfMessages"] = itoa(visible)
	all["ApproximateNumberOfMessagesNotVisible"] = itoa(inflight)
	all["ApproximateNumberOfMessagesDelayed"] = itoa(delayed)
	all["CreatedTimestamp"] = strconv.FormatInt(q.created.Unix(), 10)
	all["LastModifiedTimestamp"] = strconv.FormatInt(q.modified.Unix(), 10)
	all["QueueArn"] = q.arn
	out := map[string]string{}
	for _, n := range names {
		if n == "All" {
			return all
		}
		if v, ok := all[n]; ok {
			out[n] = v
		}
	}
	return out
}

func (s *Server) opSetQueueAttributes(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	if e := checkQueueAttributes(req.Attributes, q.fifo, false); e != nil {
		return nil, e
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	for k, v := range req.Attributes {
		q.attrs[k] = v
	}
	q.modified = s.now()
	q.configureLocked()
	return empty, nil
}

func (s *Server) opListQueues(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	max := 1000
	if req.MaxResults != nil {
		if *req.MaxResults < 1 || *req.MaxResults > 1000 {
			return nil, newError("InvalidParameterValue", "Value for parameter MaxResults is invalid. Reason: must be between 1 and 1000.")
		}
		max = *req.MaxResults
	}
	s.qmu.RLock()
	var urls []string
	for name, q := range s.queues {
		if strings.HasPrefix(name, req.QueueNamePrefix) {
			urls = append(urls, q.url)
		}
	}
	s.qmu.RUnlock()
	slices.Sort(urls)
	if len(urls) > max {
		urls = urls[:max]
	}
	return struct {
		QueueUrls []string `json:",omitempty"`
	}{urls}, nil
}

func (s *Server) opSendMessage(_ context.Context, req *request, f *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	if f != nil && f.FailEntries != nil {
		if ef := f.FailEntries(0, ""); ef != nil {
			s.stats.inject("FailEntries")
			ae := newError(ef.Code, ef.Message)
			ae.sender = ef.SenderFault
			return nil, ae
		}
	}
	entry := sendEntry{
		MessageBody:             req.MessageBody,
		DelaySeconds:            req.DelaySeconds,
		MessageAttributes:       req.MessageAttributes,
		MessageSystemAttributes: req.MessageSystemAttributes,
		MessageGroupId:          req.MessageGroupId,
		MessageDeduplicationId:  req.MessageDeduplicationId,
	}
	now := s.now()
	q.mu.Lock()
	defer q.mu.Unlock()
	if fail := q.checkLocked(&entry); fail != nil {
		return nil, newError(fail.Code, fail.Message)
	}
	return q.acceptLocked(&entry, now), nil
}

// checkBatch applies the whole-call rules of batch requests.
func checkBatch(entries []requestEntry) *apiError {
	switch {
	case len(entries) == 0:
		return newError("EmptyBatchRequest", "There should be at least one SendMessageBatchRequestEntry in the request.")
	case len(entries) > MaxBatchEntries:
		return newError("TooManyEntriesInBatchRequest", fmt.Sprintf("Maximum number of entries per request are %d. You have sent %d.", MaxBatchEntries, len(entries)))
	}
	seen := make(map[string]bool, len(entries))
	for _, e := range entries {
		if !validEntryID(e.Id) {
			return newError("InvalidBatchEntryId", "A batch entry id can only contain alphanumeric characters, hyphens and underscores. It can be at most 80 letters long.")
		}
		if seen[e.Id] {
			return newError("BatchEntryIdsNotDistinct", "Id "+e.Id+" repeated.")
		}
		seen[e.Id] = true
	}
	return nil
}

// batchResult is the response of SendMessageBatch and DeleteMessageBatch.
type batchResult[T any] struct {
	Successful []T
	Failed     []entryFailure
}

func (s *Server) opSendMessageBatch(_ context.Context, req *request, f *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	if e := checkBatch(req.Entries); e != nil {
		return nil, e
	}
	total := 0
	for i := range req.Entries {
		total += req.Entries[i].size()
	}
	if total > s.opts.maxBatchBytes {
		return nil, newError("BatchRequestTooLong", fmt.Sprintf("Batch requests cannot be longer than %d bytes. You have sent %d bytes.", s.opts.maxBatchBytes, total))
	}
	s.stats.batches.Add(1)
	s.stats.entries.Add(int64(len(req.Entries)))

	out := batchResult[sendResult]{Successful: []sendResult{}, Failed: []entryFailure{}}
	injected := injectedFailures(f, req.Entries)
	now := s.now()
	// stopped holds, on FIFO queues, the groups whose entry failed without
	// the sender's fault: their later entries fail the same way, so the
	// messages a group gets accepted keep their order.
	var stopped map[string]*EntryFailure
	q.mu.Lock()
	for i := range req.Entries {
		entry := &req.Entries[i].sendEntry
		if q.fifo && entry.MessageGroupId != nil && stopped[*entry.MessageGroupId] != nil {
			ef := stopped[*entry.MessageGroupId]
			out.Failed = append(out.Failed, entryFailure{entry.Id, ef.Code, ef.Message, ef.SenderFault})
			continue
		}
		if injected != nil && injected[i] != nil {
			ef := injected[i]
			out.Failed = append(out.Failed, entryFailure{entry.Id, ef.Code, ef.Message, ef.SenderFault})
			if q.fifo && !ef.SenderFault && entry.MessageGroupId != nil {
				if stopped == nil {
					stopped = make(map[string]*EntryFailure)
				}
				stopped[*entry.MessageGroupId] = ef
			}
			continue
		}
		if fail := q.checkLocked(entry); fail != nil {
			out.Failed = append(out.Failed, *fail)
			continue
		}
		out.Successful = append(out.Successful, q.acceptLocked(entry, now))
	}
	q.mu.Unlock()
	if injected != nil {
		s.stats.inject("FailEntries")
	}
	if f != nil && f.WrongMD5 {
		for i := range out.Successful {
			r := &out.Successful[i]
			r.MD5OfMessageBody = md5Hex("wrong:" + r.MD5OfMessageBody)
			if r.MD5OfMessageAttributes != "" {
				r.MD5OfMessageAttributes = md5Hex("wrong:" + r.MD5OfMessageAttributes)
			}
		}
		s.stats.inject("WrongMD5")
	}
	s.stats.entriesFailed.Add(int64(len(out.Failed)))
	return out, nil
}

// injectedFailures asks a fault's FailEntries about each entry (without
// holding any lock, so it may call the server's methods). It returns nil if
// no entry is to fail.
func injectedFailures(f *Fault, entries []requestEntry) []*EntryFailure {
	if f == nil || f.FailEntries == nil {
		return nil
	}
	var out []*EntryFailure
	for i, e := range entries {
		if ef := f.FailEntries(i, e.Id); ef != nil {
			if out == nil {
				out = make([]*EntryFailure, len(entries))
			}
			out[i] = ef
		}
	}
	return out
}

func (s *Server) opReceiveMessage(ctx context.Context, req *request, _ *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	spec := receiveSpec{max: 1, attrNames: req.MessageAttributeNames}
	spec.sysNames = append(append(spec.sysNames, req.AttributeNames...), req.MessageSystemAttributeNames...)
	if n := req.MaxNumberOfMessages; n != nil {
		if *n < 1 || *n > 10 {
			return nil, newError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter MaxNumberOfMessages is invalid. Reason: Must be between 1 and 10, if provided.", *n))
		}
		spec.max = *n
	}
	q.mu.Lock()
	spec.visibility = q.cfg.visibility
	wait := q.cfg.wait
	q.mu.Unlock()
	if v := req.VisibilityTimeout; v != nil {
		if *v < 0 || *v > 43200 {
			return nil, newError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200, if provided.", *v))
		}
		spec.visibility = time.Duration(*v) * time.Second
	}
	if w := req.WaitTimeSeconds; w != nil {
		if *w < 0 || *w > 20 {
			return nil, newError("InvalidParameterValue", fmt.Sprintf("Value %d for parameter WaitTimeSeconds is invalid. Reason: Must be >= 0 and <= 20, if provided.", *w))
		}
		wait = time.Duration(*w) * time.Second
	}

	deadline := time.Now().Add(wait)
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		q.mu.Lock()
		msgs, next := q.receiveLocked(spec, s.now())
		left := time.Until(deadline)
		var woken <-chan struct{}
		if len(msgs) == 0 && !q.gone && left > 0 {
			woken = q.waitChanLocked()
		}
		q.mu.Unlock()
		if woken == nil {
			s.stats.delivered.Add(int64(len(msgs)))
			return struct {
				Messages []receivedMessage `json:",omitempty"`
			}{msgs}, nil
		}
		// Wake up for a message becoming visible, too (on the real clock).
		if !next.IsZero() && s.opts.clock == nil {
			left = min(left, max(time.Until(next), time.Millisecond))
		}
		if timer == nil {
			timer = time.NewTimer(left)
		} else {
			timer.Reset(left)
		}
		select {
		case <-woken:
		case <-timer.C:
		case <-ctx.Done():
			return nil, nil // the client went away: no answer
		case <-s.done:
			return struct{}{}, nil
		}
	}
}

func (s *Server) opChangeMessageVisibility(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	if req.VisibilityTimeout == nil || *req.VisibilityTimeout < 0 || *req.VisibilityTimeout > 43200 {
		return nil, newError("InvalidParameterValue", "Value for parameter VisibilityTimeout is invalid. Reason: Must be between 0 and 43200.")
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if e := q.changeVisibilityLocked(req.ReceiptHandle, time.Duration(*req.VisibilityTimeout)*time.Second, s.now()); e != nil {
		return nil, e
	}
	return empty, nil
}

func (s *Server) opDeleteMessage(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if fail := q.deleteLocked(req.ReceiptHandle); fail != nil {
		return nil, newError(fail.Code, fail.Message)
	}
	return empty, nil
}

type deleteResult struct{ Id string }

func (s *Server) opDeleteMessageBatch(_ context.Context, req *request, f *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	if e := checkBatch(req.Entries); e != nil {
		return nil, e
	}
	out := batchResult[deleteResult]{Successful: []deleteResult{}, Failed: []entryFailure{}}
	injected := injectedFailures(f, req.Entries)
	q.mu.Lock()
	for i, entry := range req.Entries {
		if injected != nil && injected[i] != nil {
			ef := injected[i]
			out.Failed = append(out.Failed, entryFailure{entry.Id, ef.Code, ef.Message, ef.SenderFault})
			continue
		}
		if fail := q.deleteLocked(entry.ReceiptHandle); fail != nil {
			fail.Id = entry.Id
			out.Failed = append(out.Failed, *fail)
			continue
		}
		out.Successful = append(out.Successful, deleteResult{entry.Id})
	}
	q.mu.Unlock()
	if injected != nil {
		s.stats.inject("FailEntries")
	}
	return out, nil
}

func (s *Server) opPurgeQueue(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	q, e := s.queueOf(req)
	if e != nil {
		return nil, e
	}
	q.mu.Lock()
	q.purgeLocked()
	q.mu.Unlock()
	return empty, nil
}

func (s *Server) opDeleteQueue(_ context.Context, req *request, _ *Fault) (any, *apiError) {
	if _, e := s.queueOf(req); e != nil {
		return nil, e
	}
	s.DeleteQueue(req.QueueUrl)
	return empty, nil
}
