package sqstest

import (
	"context"
	"fmt"
	"maps"
	"math/rand"
	"slices"
	"strings"
	"time"
)

// DropMode says whether and when a fault drops the connection.
type DropMode int

const (
	// NoDrop answers normally.
	NoDrop DropMode = iota
	// DropBeforeProcessing closes the connection without handling the
	// request and without answering: nothing is stored. The client sees a
	// transport error.
	DropBeforeProcessing
	// DropAfterProcessing handles the request (messages are stored), then
	// closes the connection without answering: the client sees a transport
	// error and cannot know whether the call took effect.
	DropAfterProcessing
)

// String returns the constant's name.
func (d DropMode) String() string {
	switch d {
	case NoDrop:
		return "NoDrop"
	case DropBeforeProcessing:
		return "DropBeforeProcessing"
	case DropAfterProcessing:
		return "DropAfterProcessing"
	}
	return "DropMode(?)"
}

// EntryFailure is an injected failure of one batch entry, answered in the
// batch response's Failed list.
type EntryFailure struct {
	Code        string // for example "InternalError" or "InvalidParameterValue"
	Message     string
	SenderFault bool
}

// Fault is a rule that injects a failure into the calls it matches. The zero
// value of each field means "not this kind of failure"; a rule may combine
// Release and Latency with one of Code, FailEntries or Drop; Hang stands
// alone.
type Fault struct {
	// Op is the operation the rule applies to, such as "SendMessageBatch"
	// or the STS operations "AssumeRole" and "GetCallerIdentity"; "" matches
	// every SQS operation (STS calls only match rules that name them, so
	// that SQS-wide faults and outages leave credentials alone).
	Op string
	// Queue is the name of the queue the rule applies to (the last segment
	// of the call's QueueUrl, or its QueueName); "" matches every call.
	Queue string

	// Latency is waited before the call is handled or failed, on top of the
	// server's base latency. The wait ends early when the client goes away
	// or the server closes; the call is then not handled.
	Latency time.Duration

	// Code fails the whole call with this error code without handling it.
	// Shape names ("QueueDoesNotExist", "KmsThrottled") and legacy codes
	// ("AWS.SimpleQueueService.NonExistentQueue", "KMS.ThrottlingException")
	// both work; the SDK then reports the legacy code as ErrorCode. Common
	// choices: "RequestThrottled", "ThrottlingException",
	// "InternalError", "ServiceUnavailable", "AccessDenied",
	// "InvalidClientTokenId", "KmsThrottled", "QueueDoesNotExist".
	Code string
	// Status is the HTTP status sent with Code. Zero means the status SQS
	// uses for the code (for example 400 for most client errors, 403 for
	// RequestThrottled and AccessDenied, 500 for InternalError, 503 for
	// ServiceUnavailable). A Status without a Code sends a code that fits
	// the status (429 TooManyRequestsException, 500 InternalError, …).
	// Statuses from 500 up are marked as the receiver's fault.
	Status int
	// Message is the error message sent with Code; "" means SQS's usual
	// message for the code.
	Message string

	// FailEntries decides the fate of batch entry i (with batch entry id
	// id) of a SendMessageBatch or DeleteMessageBatch call: a non-nil
	// failure is answered in Failed and the entry is not processed; nil lets
	// the entry through. For SendMessage, a failure of entry 0 (id "")
	// fails the whole call with its code. On a FIFO queue, an injected
	// failure that is not the sender's fault also fails the batch's later
	// entries of the same message group (with the same failure), so the
	// messages of a group that the server accepts keep their order.
	FailEntries func(i int, id string) *EntryFailure

	// WrongMD5 answers a SendMessageBatch call's successful entries with
	// a wrong MD5OfMessageBody (and MD5OfMessageAttributes, when there are
	// attributes), as a corrupted answer would; the messages are stored.
	// A client that checks the digests sees the mismatch.
	WrongMD5 bool

	// Drop closes the connection instead of answering. When Drop is set,
	// Code is not used.
	Drop DropMode

	// Hang holds the call and never answers it, like an endpoint that
	// accepts the connection and then goes silent (a black-holed VPC
	// endpoint, a firewall that drops packets): the connection stays open
	// until the client gives up (its deadline or context ends, or it
	// closes the connection) or the server closes, and is then closed
	// without an answer. Nothing is stored. When Hang is set, every other
	// kind of failure of the rule is unused. Server.Held counts the calls
	// it holds.
	Hang bool
	// Release holds the call until the channel is closed, then handles it
	// as the rest of the rule says (Latency, Code, FailEntries, Drop; none
	// of them: an ordinary answer): a queue that answers late, without the
	// test waiting in real time. A client that gives up first, or the
	// server closing, ends the call without an answer and nothing is
	// stored. Server.Held counts the calls it holds.
	Release <-chan struct{}

	// Probability applies the rule to this share of the calls it matches,
	// drawn from the server's generator (see WithSeed). 0 and 1 (and
	// anything outside (0, 1)) mean every matching call.
	Probability float64
	// Times applies the rule to the next Times calls it is applied to, after
	// which it removes itself. 0 keeps it until it is removed.
	Times int
}

// faultRule is an installed Fault.
type faultRule struct {
	Fault
	left int
}

// AddFault installs a fault rule and returns a function that removes it
// (calling it more than once is harmless). Rules are tried in the order they
// were added; the first that matches a call and passes its Probability draw
// is applied, and only that one.
//
// AddFault panics, as for a programming error, when f.Op names no operation
// the server implements (a misspelt Op would never match, and a test would
// pass without the fault it meant to inject), or Times or Latency is
// negative.
func (s *Server) AddFault(f Fault) (remove func()) {
	if _, sqsOp := ops[f.Op]; f.Op != "" && !sqsOp && !stsActions[f.Op] {
		known := append(slices.Sorted(maps.Keys(ops)), slices.Sorted(maps.Keys(stsActions))...)
		panic(fmt.Sprintf("sqstest: AddFault: unknown operation %q; want \"\" (every SQS operation) or one of %s", f.Op, strings.Join(known, ", ")))
	}
	if f.Times < 0 || f.Latency < 0 {
		panic(fmt.Sprintf("sqstest: AddFault: Times (%d) and Latency (%v) must not be negative", f.Times, f.Latency))
	}
	r := &faultRule{Fault: f, left: f.Times}
	s.fmu.Lock()
	s.faults = append(s.faults, r)
	s.nfaults.Store(int32(len(s.faults)))
	s.fmu.Unlock()
	return func() {
		s.fmu.Lock()
		defer s.fmu.Unlock()
		s.removeRuleLocked(r)
	}
}

func (s *Server) removeRuleLocked(r *faultRule) {
	for i, x := range s.faults {
		if x == r {
			s.faults = append(s.faults[:i:i], s.faults[i+1:]...)
			break
		}
	}
	s.nfaults.Store(int32(len(s.faults)))
}

// ClearFaults removes every fault rule and ends an outage.
func (s *Server) ClearFaults() {
	s.fmu.Lock()
	s.faults = nil
	s.nfaults.Store(0)
	s.fmu.Unlock()
	s.SetOutage(false)
}

// SetOutage starts (true) or ends (false) an outage. During an outage every
// call fails with ServiceUnavailable (HTTP 503) and nothing is stored.
// SetOutage(false) also ends an outage started by Outage.
func (s *Server) SetOutage(on bool) {
	s.outage.Store(on)
	if !on {
		s.outageUntil.Store(0)
	}
}

// Outage makes every call fail with ServiceUnavailable (HTTP 503) for d from
// now, as told by the server's clock (see WithClock).
func (s *Server) Outage(d time.Duration) {
	s.outageUntil.Store(s.now().Add(d).UnixNano())
}

// inOutage reports whether an outage is on.
func (s *Server) inOutage() bool {
	if s.outage.Load() {
		return true
	}
	until := s.outageUntil.Load()
	return until != 0 && s.now().UnixNano() < until
}

// pickFault returns the fault to apply to a call, or nil. A rule with an
// empty Op matches every SQS operation; STS operations match only the rules
// that name them (qname is "" for them, so rules naming a queue never do).
func (s *Server) pickFault(op, qname string) *Fault {
	if s.nfaults.Load() == 0 {
		return nil
	}
	s.fmu.Lock()
	defer s.fmu.Unlock()
	for _, r := range s.faults {
		if r.Op != op && (r.Op != "" || stsActions[op]) || r.Queue != "" && r.Queue != qname {
			continue
		}
		if p := r.Probability; p > 0 && p < 1 && s.rng.Float64() >= p {
			continue
		}
		f := r.Fault
		if r.Times > 0 {
			r.left--
			if r.left <= 0 {
				s.removeRuleLocked(r)
			}
		}
		return &f
	}
	return nil
}

// reseed restarts the fault generator from the server's seed.
func (s *Server) reseed() {
	s.fmu.Lock()
	s.rng = rand.New(rand.NewSource(s.opts.seed))
	s.fmu.Unlock()
}

// hold applies a rule's Hang or Release: it holds the call, counted in
// Held, and reports whether to go on with it (false: the client went away,
// the server is closing, or the rule hangs; the caller then drops the
// connection without an answer).
func (s *Server) hold(ctx context.Context, f *Fault) bool {
	if !f.Hang && f.Release == nil {
		return true
	}
	kind := "Release"
	if f.Hang {
		kind = "Hang"
	}
	s.stats.inject(kind)
	n := s.held.Add(1)
	defer s.held.Add(-1)
	s.stats.held(n)
	if f.Hang {
		select {
		case <-ctx.Done():
		case <-s.done:
		}
		return false
	}
	select {
	case <-f.Release:
		return true
	case <-ctx.Done():
	case <-s.done:
	}
	return false
}

// Held returns how many calls Hang and Release rules hold now, unanswered.
func (s *Server) Held() int { return int(s.held.Load()) }
