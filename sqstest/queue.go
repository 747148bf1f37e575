package sqstest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
)

// queue is one queue. Its mutex guards everything but the fields set at
// creation.
type queue struct {
	srv  *Server
	name string
	url  string
	arn  string
	fifo bool

	mu       sync.Mutex
	attrs    map[string]string
	created  time.Time
	modified time.Time
	cfg      queueConfig

	records     []*stored          // every accepted message, when recording
	count       int                // accepted messages
	live        []*stored          // not yet deleted, in order
	liveDeleted int                // deleted ones still in live
	byID        map[uint64]*stored // live messages by seq
	seq         uint64             // last message seq of the queue
	dedup       map[string]dedupEntry
	dedupAdds   int
	notify      chan struct{} // closed when messages arrive; nil when nobody waits
	gone        bool          // deleted
}

// queueConfig holds the attributes the server enforces, parsed.
type queueConfig struct {
	maxMessage   int
	delay        time.Duration
	visibility   time.Duration
	wait         time.Duration
	contentDedup bool
	groupScope   bool // DeduplicationScope messageGroup
}

// stored is a message in a queue.
type stored struct {
	msg       Message
	seq       uint64
	visibleAt time.Time
	receives  int
	firstRecv time.Time
	deleted   bool
}

type dedupEntry struct {
	id  string
	seq string
	at  time.Time
}

func newQueue(s *Server, name string, attrs map[string]string) *queue {
	now := s.now()
	q := &queue{
		srv:      s,
		name:     name,
		url:      s.QueueURL(name),
		arn:      "arn:aws:sqs:" + Region + ":" + AccountID + ":" + name,
		fifo:     strings.HasSuffix(name, ".fifo") || attrs["FifoQueue"] == "true",
		created:  now,
		modified: now,
		byID:     map[uint64]*stored{},
		dedup:    map[string]dedupEntry{},
		attrs: map[string]string{
			"DelaySeconds":                  "0",
			"MaximumMessageSize":            itoa(DefaultMaxMessageBytes),
			"MessageRetentionPeriod":        "345600",
			"ReceiveMessageWaitTimeSeconds": "0",
			"VisibilityTimeout":             "30",
		},
	}
	if q.fifo {
		q.attrs["FifoQueue"] = "true"
		q.attrs["ContentBasedDeduplication"] = "false"
		q.attrs["DeduplicationScope"] = "queue"
		q.attrs["FifoThroughputLimit"] = "perQueue"
	}
	for k, v := range attrs {
		q.attrs[k] = v
	}
	if q.fifo {
		q.attrs["FifoQueue"] = "true"
	}
	q.configureLocked()
	return q
}

// configureLocked parses the enforced attributes; values that do not parse
// leave SQS's defaults in force.
func (q *queue) configureLocked() {
	num := func(name string, def int) int {
		if n, err := strconv.Atoi(q.attrs[name]); err == nil && n >= 0 {
			return n
		}
		return def
	}
	q.cfg = queueConfig{
		maxMessage:   num("MaximumMessageSize", DefaultMaxMessageBytes),
		delay:        time.Duration(num("DelaySeconds", 0)) * time.Second,
		visibility:   time.Duration(num("VisibilityTimeout", 30)) * time.Second,
		wait:         time.Duration(num("ReceiveMessageWaitTimeSeconds", 0)) * time.Second,
		contentDedup: q.fifo && q.attrs["ContentBasedDeduplication"] == "true",
		groupScope:   q.fifo && q.attrs["DeduplicationScope"] == "messageGroup",
	}
	if q.cfg.maxMessage == 0 {
		q.cfg.maxMessage = DefaultMaxMessageBytes
	}
}

func (q *queue) resetLocked() {
	q.records = nil
	q.count = 0
	q.live = nil
	q.liveDeleted = 0
	q.byID = map[uint64]*stored{}
	q.dedup = map[string]dedupEntry{}
	q.dedupAdds = 0
}

// wakeLocked wakes the long polls of the queue.
func (q *queue) wakeLocked() {
	if q.notify != nil {
		close(q.notify)
		q.notify = nil
	}
}

// waitChan returns a channel closed when messages arrive.
func (q *queue) waitChanLocked() <-chan struct{} {
	if q.notify == nil {
		q.notify = make(chan struct{})
	}
	return q.notify
}

// sendEntry is one message to send, from SendMessage or a batch entry.
type sendEntry struct {
	Id                      string
	MessageBody             *string
	DelaySeconds            *int
	MessageAttributes       map[string]Attribute
	MessageSystemAttributes map[string]Attribute
	MessageGroupId          *string
	MessageDeduplicationId  *string
}

// sendResult is a successful send.
type sendResult struct {
	Id                     string `json:"Id,omitempty"`
	MessageId              string
	MD5OfMessageBody       string
	MD5OfMessageAttributes string `json:",omitempty"`
	SequenceNumber         string `json:",omitempty"`
}

// entryFailure is a failed batch entry.
type entryFailure struct {
	Id          string
	Code        string
	Message     string
	SenderFault bool
}

// size is the size SQS counts for a message: the body plus the names, data
// types and values of its message attributes.
func (e *sendEntry) size() int {
	n := 0
	if e.MessageBody != nil {
		n = len(*e.MessageBody)
	}
	for k, a := range e.MessageAttributes {
		n += len(k) + len(a.DataType) + len(a.StringValue) + len(a.BinaryValue)
	}
	return n
}

// checkLocked applies SQS's rules to one message for the queue.
func (q *queue) checkLocked(e *sendEntry) *entryFailure {
	fail := func(code, msg string) *entryFailure {
		return &entryFailure{Id: e.Id, Code: code, Message: msg, SenderFault: true}
	}
	if e.MessageBody == nil {
		return fail("MissingParameter", "The request must contain the parameter MessageBody.")
	}
	body := *e.MessageBody
	if body == "" {
		return fail("InvalidParameterValue", "One or more parameters are invalid. Reason: Message must be at least one character long.")
	}
	if i := firstIllegal(body); i >= 0 {
		return fail("InvalidMessageContents", fmt.Sprintf("Invalid binary character '#x%X' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF", []rune(body[i:])[0]))
	}
	if msg := checkAttributes(e.MessageAttributes); msg != "" {
		return fail("InvalidParameterValue", msg)
	}
	if size := e.size(); size > q.cfg.maxMessage {
		return fail("InvalidParameterValue", fmt.Sprintf("One or more parameters are invalid. Reason: Message must be shorter than %d bytes.", q.cfg.maxMessage))
	}
	if e.DelaySeconds != nil {
		if d := *e.DelaySeconds; d < 0 || d > 900 {
			return fail("InvalidParameterValue", fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: DelaySeconds must be >= 0 and <= 900.", d))
		}
	}
	if e.MessageGroupId != nil {
		if msg := checkFIFOID("MessageGroupId", *e.MessageGroupId); msg != "" {
			return fail("InvalidParameterValue", msg)
		}
	}
	if e.MessageDeduplicationId != nil {
		if !q.fifo {
			return fail("InvalidParameterValue", "The request include parameter MessageDeduplicationId that is not valid for this queue type")
		}
		if msg := checkFIFOID("MessageDeduplicationId", *e.MessageDeduplicationId); msg != "" {
			return fail("InvalidParameterValue", msg)
		}
	}
	if q.fifo {
		if e.MessageGroupId == nil {
			return fail("MissingParameter", "The request must contain the parameter MessageGroupId.")
		}
		if e.DelaySeconds != nil && *e.DelaySeconds != 0 {
			return fail("InvalidParameterValue", fmt.Sprintf("Value %d for parameter DelaySeconds is invalid. Reason: The request include parameter that is not valid for this queue type.", *e.DelaySeconds))
		}
		if e.MessageDeduplicationId == nil && !q.cfg.contentDedup {
			return fail("InvalidParameterValue", "The queue should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly")
		}
	}
	return nil
}

// acceptLocked stores a checked message, or recognises a FIFO duplicate.
func (q *queue) acceptLocked(e *sendEntry, now time.Time) sendResult {
	s := q.srv
	body := *e.MessageBody
	res := sendResult{
		Id:                     e.Id,
		MD5OfMessageBody:       md5Hex(body),
		MD5OfMessageAttributes: MD5OfMessageAttributes(e.MessageAttributes),
	}
	m := Message{
		Body:                   body,
		MD5OfBody:              res.MD5OfMessageBody,
		MD5OfMessageAttributes: res.MD5OfMessageAttributes,
		Attributes:             e.MessageAttributes,
		ReceivedAt:             now,
	}
	if e.MessageGroupId != nil {
		m.GroupID = *e.MessageGroupId
	}
	delay := q.cfg.delay
	if e.DelaySeconds != nil {
		m.DelaySeconds = *e.DelaySeconds
		delay = time.Duration(*e.DelaySeconds) * time.Second
	}
	var dedupKey string
	if q.fifo {
		if e.MessageDeduplicationId != nil {
			m.DedupID = *e.MessageDeduplicationId
		} else {
			sum := sha256.Sum256([]byte(body))
			m.DedupID = hex.EncodeToString(sum[:])
		}
		dedupKey = m.DedupID
		if q.cfg.groupScope {
			dedupKey = m.GroupID + "\x00" + m.DedupID
		}
		if d, ok := q.dedup[dedupKey]; ok && now.Sub(d.at) < DedupWindow {
			s.stats.dedup.Add(1)
			res.MessageId, res.SequenceNumber = d.id, d.seq
			return res
		}
	}
	q.seq++
	m.MessageID = s.newMessageID()
	res.MessageId = m.MessageID
	if q.fifo {
		m.SequenceNumber = fmt.Sprintf("%020d", q.seq)
		res.SequenceNumber = m.SequenceNumber
		q.dedup[dedupKey] = dedupEntry{id: m.MessageID, seq: m.SequenceNumber, at: now}
		q.sweepDedupLocked(now)
	}
	q.count++
	s.stats.accepted.Add(1)
	if s.opts.onAccept != nil {
		s.opts.onAccept(q.name, m)
	}
	if s.opts.record {
		st := &stored{msg: m, seq: q.seq, visibleAt: now.Add(delay)}
		q.records = append(q.records, st)
		q.live = append(q.live, st)
		q.byID[st.seq] = st
		q.wakeLocked()
	}
	return res
}

// sweepDedupLocked forgets expired deduplication ids now and then.
func (q *queue) sweepDedupLocked(now time.Time) {
	q.dedupAdds++
	if q.dedupAdds < 4096 {
		return
	}
	q.dedupAdds = 0
	for k, d := range q.dedup {
		if now.Sub(d.at) >= DedupWindow {
			delete(q.dedup, k)
		}
	}
}

// receipt makes the receipt handle of the latest receive of st.
func (q *queue) receipt(st *stored) string {
	raw := q.name + "\x00" + strconv.FormatUint(st.seq, 10) + "\x00" + strconv.Itoa(st.receives)
	return "AQEB" + base64.RawURLEncoding.EncodeToString([]byte(raw))
}

// parseReceipt decodes a receipt handle of this queue.
func (q *queue) parseReceipt(h string) (seq uint64, receives int, ok bool) {
	rest, found := strings.CutPrefix(h, "AQEB")
	if !found {
		return 0, 0, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return 0, 0, false
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 || parts[0] != q.name {
		return 0, 0, false
	}
	seq, err1 := strconv.ParseUint(parts[1], 10, 64)
	receives, err2 := strconv.Atoi(parts[2])
	return seq, receives, err1 == nil && err2 == nil
}

// receivedMessage is a message in a ReceiveMessage response.
type receivedMessage struct {
	MessageId              string
	ReceiptHandle          string
	MD5OfBody              string
	Body                   string
	Attributes             map[string]string    `json:",omitempty"`
	MessageAttributes      map[string]Attribute `json:",omitempty"`
	MD5OfMessageAttributes string               `json:",omitempty"`
}

// receiveSpec is what a ReceiveMessage call asks for.
type receiveSpec struct {
	max        int
	visibility time.Duration
	attrNames  []string // message attribute names or patterns
	sysNames   []string // system attribute names
}

// receiveLocked takes up to max visible messages, hiding them for the
// visibility timeout. It also returns when the next hidden message becomes
// visible (zero if none).
func (q *queue) receiveLocked(spec receiveSpec, now time.Time) (out []receivedMessage, next time.Time) {
	var blocked map[string]bool // FIFO groups with a message in flight
	for _, st := range q.live {
		if len(out) == spec.max {
			break
		}
		if st.deleted {
			continue
		}
		if q.fifo && blocked[st.msg.GroupID] {
			continue
		}
		if st.visibleAt.After(now) {
			if next.IsZero() || st.visibleAt.Before(next) {
				next = st.visibleAt
			}
			if q.fifo && st.receives > 0 {
				if blocked == nil {
					blocked = map[string]bool{}
				}
				blocked[st.msg.GroupID] = true
			}
			continue
		}
		st.receives++
		if st.receives == 1 {
			st.firstRecv = now
		}
		st.visibleAt = now.Add(spec.visibility)
		out = append(out, q.deliver(st, spec))
	}
	return out, next
}

// deliver renders a message for ReceiveMessage.
func (q *queue) deliver(st *stored, spec receiveSpec) receivedMessage {
	m := &st.msg
	rm := receivedMessage{
		MessageId:     m.MessageID,
		ReceiptHandle: q.receipt(st),
		MD5OfBody:     m.MD5OfBody,
		Body:          m.Body,
	}
	if len(m.Attributes) > 0 && len(spec.attrNames) > 0 {
		picked := map[string]Attribute{}
		for name, a := range m.Attributes {
			if matchAttrName(name, spec.attrNames) {
				picked[name] = a
			}
		}
		if len(picked) == len(m.Attributes) {
			rm.MessageAttributes, rm.MD5OfMessageAttributes = m.Attributes, m.MD5OfMessageAttributes
		} else if len(picked) > 0 {
			rm.MessageAttributes, rm.MD5OfMessageAttributes = picked, MD5OfMessageAttributes(picked)
		}
	}
	if len(spec.sysNames) > 0 {
		all := map[string]string{
			"SenderId":                         AccountID,
			"SentTimestamp":                    strconv.FormatInt(m.ReceivedAt.UnixMilli(), 10),
			"ApproximateReceiveCount":          strconv.Itoa(st.receives),
			"ApproximateFirstReceiveTimestamp": strconv.FormatInt(st.firstRecv.UnixMilli(), 10),
		}
		if m.GroupID != "" {
			all["MessageGroupId"] = m.GroupID
		}
		if q.fifo {
			all["SequenceNumber"] = m.SequenceNumber
			all["MessageDeduplicationId"] = m.DedupID
		}
		rm.Attributes = map[string]string{}
		for _, n := range spec.sysNames {
			if n == "All" {
				rm.Attributes = all
				break
			}
			if v, ok := all[n]; ok {
				rm.Attributes[n] = v
			}
		}
	}
	return rm
}

// matchAttrName reports whether a message attribute name is asked for:
// "All" and ".*" ask for all, "prefix.*" for the names starting "prefix.".
func matchAttrName(name string, patterns []string) bool {
	for _, p := range patterns {
		switch {
		case p == "All" || p == ".*":
			return true
		case strings.HasSuffix(p, ".*"):
			if strings.HasPrefix(name, p[:len(p)-1]) {
				return true
			}
		case p == name:
			return true
		}
	}
	return false
}

// deleteLocked deletes the message of a receipt handle. A handle of an
// earlier receive of a message that was received again is accepted but
// deletes nothing, as SQS warns it may; a handle of a deleted message is
// accepted.
func (q *queue) deleteLocked(handle string) *entryFailure {
	seq, receives, ok := q.parseReceipt(handle)
	if !ok {
		return &entryFailure{Code: "ReceiptHandleIsInvalid", Message: fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", handle), SenderFault: true}
	}
	st := q.byID[seq]
	if st == nil || st.receives != receives {
		return nil
	}
	q.removeLocked(st)
	q.srv.stats.deleted.Add(1)
	return nil
}

// removeLocked takes a message out of the queue.
func (q *queue) removeLocked(st *stored) {
	st.deleted = true
	delete(q.byID, st.seq)
	q.liveDeleted++
	if q.liveDeleted > 64 && q.liveDeleted > len(q.live)/2 {
		kept := q.live[:0]
		for _, x := range q.live {
			if !x.deleted {
				kept = append(kept, x)
			}
		}
		clear(q.live[len(kept):])
		q.live = kept
		q.liveDeleted = 0
	}
}

// purgeLocked deletes every message of the queue.
func (q *queue) purgeLocked() {
	for _, st := range q.live {
		st.deleted = true
	}
	q.live = nil
	q.liveDeleted = 0
	q.byID = map[uint64]*stored{}
}

// changeVisibilityLocked sets the visibility timeout of a received message.
func (q *queue) changeVisibilityLocked(handle string, timeout time.Duration, now time.Time) *apiError {
	seq, receives, ok := q.parseReceipt(handle)
	if !ok {
		return newError("ReceiptHandleIsInvalid", fmt.Sprintf("The input receipt handle %q is not a valid receipt handle.", handle))
	}
	st := q.byID[seq]
	if st == nil || st.receives != receives {
		return newError("InvalidParameterValue", fmt.Sprintf("Value %s for parameter ReceiptHandle is invalid. Reason: Message does not exist or is not available for visibility timeout change.", handle))
	}
	if !st.visibleAt.After(now) {
		return newError("MessageNotInflight", "")
	}
	st.visibleAt = now.Add(timeout)
	if timeout == 0 {
		q.wakeLocked()
	}
	return nil
}

// counts returns the numbers of visible, in-flight and delayed messages.
func (q *queue) countsLocked(now time.Time) (visible, inflight, delayed int) {
	for _, st := range q.live {
		switch {
		case st.deleted:
		case !st.visibleAt.After(now):
			visible++
		case st.receives > 0:
			inflight++
		default:
			delayed++
		}
	}
	return
}
