// errors.go holds every sentinel error and error type of the package and the
// dead-letter record, each saying where it shows up.

package sqshook

import (
	"errors"
	"fmt"
	"strings"
)

// Sentinel errors. Each is documented with where it shows up; match them with
// errors.Is.
var (
	// ErrClosed is returned by Publish, TryPublish, Consume, Flush, SetHooks
	// and Replay after Close has been called.
	ErrClosed = errors.New("sqshook: closed")

	// ErrInvalidHook is wrapped by every validation error from ParseHooks,
	// ValidateHooks and Hook.Validate.
	ErrInvalidHook = errors.New("sqshook: invalid hook")

	// ErrInvalidQueueURL is wrapped by errors from ParseQueueURL and QueueARN.
	ErrInvalidQueueURL = errors.New("sqshook: invalid queue URL")

	// ErrInvalidPolicy is wrapped by errors from the policy helpers when a
	// policy document, principal or ARN is malformed.
	ErrInvalidPolicy = errors.New("sqshook: invalid policy")

	// ErrBufferFull is wrapped by the errors of Publish and TryPublish when a
	// hook's copy found the hook or the dispatcher full and the overflow rule
	// dead-lettered it (see WithOverflowWait).
	ErrBufferFull = errors.New("sqshook: buffer full")

	// ErrInvalidEvent is wrapped by Publish's error for an event without a type
	// or body; no hook receives such an event.
	ErrInvalidEvent = errors.New("sqshook: invalid event")

	// ErrUnknownHook is returned by Dispatcher.Check for a hook id that is not in
	// the dispatcher's hook list.
	ErrUnknownHook = errors.New("sqshook: unknown hook")

	// ErrInvalidBody is wrapped by every error from DecodeBody and
	// DecodeBodyLimit: the message body is not an event sqshook could have
	// written (not JSON, not base64 of JSON or of gzip, corrupt gzip data), or
	// the event is larger than the decoding cap.
	ErrInvalidBody = errors.New("sqshook: invalid message body")

	// ErrInvalidTenantID is wrapped by the errors of the methods of a Tenant
	// whose id breaks the rule of tenant ids (see ValidateTenantID), of
	// RemoveTenant for such an id, and of ValidateTenantID.
	ErrInvalidTenantID = errors.New("sqshook: invalid tenant id")

	// ErrTenantRemoved is wrapped by the *DeliveryError that Publish and
	// TryPublish return for a copy whose tenant was removed (RemoveTenant,
	// or SetHooks with no hooks) while the call was under way: the copy is
	// dead-lettered with ReasonHookRemoved.
	ErrTenantRemoved = errors.New("sqshook: tenant removed")

	// ErrStoreUnavailable is wrapped by the error of a Publish or
	// PublishTx whose event the PostgreSQL store (WithPostgres) could not
	// record for certain (the database unreachable, the transaction
	// aborted, ctx ended). A Publish whose connection broke after the
	// database received its statement may have been recorded all the same
	// (the commit's answer was lost), and is then delivered: publishing
	// the event again with the same Event.ID may deliver it twice, which
	// consumers tell by event_id (FIFO queues deduplicate it). A failed
	// PublishTx records nothing unless the caller's transaction commits.
	ErrStoreUnavailable = errors.New("sqshook: event store unavailable")

	// ErrSchemaVersion is returned by New with WithPostgres when the
	// database's schema is not at PostgresSchemaVersion (run
	// MigratePostgres or "sqshook migrate"), and by MigratePostgres for a
	// database newer than this package.
	ErrSchemaVersion = errors.New("sqshook: PostgreSQL schema version mismatch")

	// ErrNoPostgres is returned by PublishTx, and wrapped by Replay's
	// error, on a dispatcher without WithPostgres.
	ErrNoPostgres = errors.New("sqshook: PublishTx needs WithPostgres")

	// ErrReplayAttributes is wrapped by Replay's error when an event of
	// the window has no room for the replay mark (AttrReplay): it has 8
	// attributes already, or one of that name. Nothing is replayed.
	ErrReplayAttributes = errors.New("sqshook: no room for the replay attribute")
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
	// ReasonBufferFull: the hook, its tenant or the dispatcher held all it
	// may, and the overflow rule dead-lettered the copy (WithOverflowWait).
	ReasonBufferFull Reason = "buffer_full"
	// ReasonShutdown: Close's context ended before the event was delivered.
	ReasonShutdown Reason = "shutdown"
	// ReasonHookRemoved: the copy's hook was removed before it was
	// delivered. RemoveTenant with WithPurge dead-letters the copies its
	// tenant's hooks still held; a Publish that raced the removal of its
	// tenant dead-letters the copies the removed hooks could no longer
	// take. With a spool (WithSpool): a copy found in the spool at New
	// belongs to a hook that is no longer configured (or no longer
	// enabled); for a named tenant's hook, one its SetHooks did not
	// configure, whose tenant was removed, or that was not configured
	// within WithResumeWait. With WithPostgres: a copy in the database of a
	// hook that no instance of the fleet has configured for WithResumeWait.
	ReasonHookRemoved Reason = "hook_removed"
)

// Codes of configuration errors that come with no AWS error code. They
// appear in DeadLetter.Code, DeliveryError.Code and HookStats.LastErrorCode;
// the message says what the SDK reported. Such events are dead-lettered as
// ReasonRejected at once: retrying cannot help until the configuration is
// fixed.
const (
	// CodeCredentials: the SDK found no usable credentials (none in the
	// default chain for a "resource" hook, empty static keys, …).
	CodeCredentials = "sqshook.Credentials"
	// CodeEndpoint: the SQS endpoint could not be resolved (an unknown
	// region, a host that DNS says does not exist).
	CodeEndpoint = "sqshook.Endpoint"
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
	Bytes  int    // measured size, for ReasonTooLarge; a lower bound when the body was refused before (or while) it was encoded
	Max    int    // the limit, for ReasonTooLarge
	Detail string // the rule that was broken, for humans
}

// Error says which rule the message broke, naming the field.
func (e *GuardError) Error() string {
	if e.Reason == ReasonTooLarge {
		return fmt.Sprintf("sqshook: %s: %s: bytes=%d max=%d", e.Reason, e.Field, e.Bytes, e.Max)
	}
	return fmt.Sprintf("sqshook: %s: %s: %s", e.Reason, e.Field, e.Detail)
}

// DeadLetter is an event that was not delivered to a hook's queue.
type DeadLetter struct {
	// Tenant is the tenant whose hook it is: "" for the default tenant.
	Tenant      string
	HookID      string
	Event       Event // as published; Event.ID is set
	Reason      Reason
	Code        string // the SQS error code, when there is one
	Message     string // the SQS error message or the rule that was broken
	SenderFault bool
	Attempts    int   // SendMessageBatch attempts made for this event
	Err         error // a *DeliveryError

	// Seq is the event's place in the order the hook accepted events: 1
	// for the first event after the hook was configured (or changed), 2 for
	// the next, and so on across all groups.
	Seq uint64
	// GroupID is the event's FIFO message group, for hooks whose queue is
	// FIFO. The group's events with a lower Seq were sent before this
	// one; those with a higher Seq continue to be delivered after it, so
	// the dead letter marks the gap in the group's order.
	GroupID string

	ref storeRef // settled in the spool once reported; 0: not spooled
}

// DeliveryError says why an event was not delivered to one hook. Dead
// letters carry it, and Publish and TryPublish return it (joined, one per
// hook) for copies they dead-letter at once:
//
//	var de *sqshook.DeliveryError
//	if errors.As(err, &de) && de.Reason == sqshook.ReasonTooLarge {
//		// the event does not fit SQS's message size limit
//	}
type DeliveryError struct {
	Tenant      string // "" for the default tenant
	HookID      string
	EventID     string
	EventType   string
	Reason      Reason
	Code        string
	Message     string
	SenderFault bool
	Err         error // the underlying error, if any
}

// Error names the tenant (unless it is the default one), the hook, the
// event and the reason, then the SQS code and
// message when there are any.
func (e *DeliveryError) Error() string {
	var b strings.Builder
	b.WriteString("sqshook: ")
	if e.Tenant != "" {
		fmt.Fprintf(&b, "tenant %q: ", e.Tenant)
	}
	fmt.Fprintf(&b, "hook %q: event %s (%s) not delivered: %s", e.HookID, e.EventID, e.EventType, e.Reason)
	if e.Code != "" {
		b.WriteString(": " + e.Code)
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Unwrap returns the underlying error.
func (e *DeliveryError) Unwrap() error { return e.Err }

// ReasonCorrupt is the reason of a dead letter whose spool record is
// damaged; the dead letter carries what could be read of it. Only a spool
// produces it.
const ReasonCorrupt Reason = "corrupt"
