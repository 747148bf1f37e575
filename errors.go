package sqshook

import (
	"errors"
	"fmt"
)

// Sentinel errors. Each is documented with where it shows up; match them with
// errors.Is.
var (
	// ErrClosed is returned by Publish, TryPublish, Consume, Flush and SetHooks
	// after Close has been called.
	ErrClosed = errors.New("sqshook: closed")

	// ErrInvalidHook is wrapped by every validation error from ParseHooks,
	// ValidateHooks and Hook.Validate.
	ErrInvalidHook = errors.New("sqshook: invalid hook")

	// ErrInvalidQueueURL is wrapped by errors from ParseQueueURL and QueueARN.
	ErrInvalidQueueURL = errors.New("sqshook: invalid queue URL")

	// ErrInvalidPolicy is wrapped by errors from the policy helpers when a
	// policy document, principal or ARN is malformed.
	ErrInvalidPolicy = errors.New("sqshook: invalid policy")
)

// Reason says why an event was not delivered. It appears in dead letters, in
// size guard errors and in the per-reason counters of Stats.
type Reason string

// The reasons an event can be dead-lettered for.
const (
	// ReasonTooLarge: the encoded message is larger than the per-message limit.
	ReasonTooLarge Reason = "too_large"
	// ReasonInvalidContents: the body holds characters SQS does not accept and
	// that cannot be escaped (invalid UTF-8, or outside a JSON string).
	ReasonInvalidContents Reason = "invalid_contents"
	// ReasonInvalidField: a message field (FIFO group id, deduplication id,
	// attribute) breaks an SQS rule.
	ReasonInvalidField Reason = "invalid_field"
	// ReasonRejected: SQS refused the message for good (sender fault, access
	// denied, missing queue, invalid parameter).
	ReasonRejected Reason = "rejected"
	// ReasonRetriesExhausted: transient failures went on past the retry budget.
	ReasonRetriesExhausted Reason = "retries_exhausted"
	// ReasonBufferFull: the hook's queue was full and the caller did not wait.
	ReasonBufferFull Reason = "buffer_full"
	// ReasonShutdown: Close's context ended before the event was delivered.
	ReasonShutdown Reason = "shutdown"
)

// GuardError is returned by the size guard (SizeGuard.Prepare and the FIFO
// field checks) when a message cannot be sent as it is. It carries the reason
// and, for size errors, the numbers:
//
//	var ge *sqshook.GuardError
//	if errors.As(err, &ge) && ge.Reason == sqshook.ReasonTooLarge {
//		log.Printf("event is %d bytes, limit %d", ge.Bytes, ge.Max)
//	}
type GuardError struct {
	Reason Reason // ReasonTooLarge, ReasonInvalidContents or ReasonInvalidField
	Field  string // "body", "MessageGroupId", "MessageDeduplicationId", "MessageAttributes[name]", …
	Bytes  int    // measured size, for ReasonTooLarge
	Max    int    // the limit, for ReasonTooLarge
	Detail string // the rule that was broken, for humans
}

func (e *GuardError) Error() string {
	if e.Reason == ReasonTooLarge {
		return fmt.Sprintf("sqshook: %s: %s: bytes=%d max=%d", e.Reason, e.Field, e.Bytes, e.Max)
	}
	return fmt.Sprintf("sqshook: %s: %s: %s", e.Reason, e.Field, e.Detail)
}
