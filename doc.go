// Package sqshook delivers a chat server's events to its customers' Amazon
// SQS queues, configured as event hooks in the format Stream Chat documents
// (hook_type "sqs", a queue URL and region, an auth type and an event_types
// filter).
//
// The server describes its hooks as JSON ([ParseHooks]) or Go values, creates
// a [Dispatcher] with [New] and calls [Dispatcher.Publish] for every event.
// For each enabled hook whose [Filter] matches the event type, the dispatcher
// queues a copy (bounded in events and bytes), packs copies into
// SendMessageBatch calls of up to [MaxBatchEntries] entries, sends up to
// [DefaultMaxInFlight] calls at a time per hook ([WithMaxInFlight]), retries
// what failed transiently with exponential back-off and jitter, and hands
// everything it could not deliver to a dead-letter callback
// ([WithDeadLetter]) with a [Reason]. Every event is either acknowledged by
// SQS or dead-lettered: at every moment and for every hook, matched =
// delivered + dead-lettered + pending (see [Stats]).
//
// [Dispatcher.SetHooks] replaces the hook list while events flow;
// [Dispatcher.Flush] waits for delivery and [Dispatcher.Close] drains and
// stops, like http.Server.Shutdown. The sqstest package is an in-process SQS
// endpoint for tests.
//
// # Tenants and overflow
//
// A server with many apps publishes through [Dispatcher.Tenant], a handle
// bound where the server authenticated the app: [Tenant.Publish] reaches
// that tenant's hooks only, [Tenant.SetHooks] replaces only its list, and
// its "role" hooks assume their roles with its own ExternalId
// ([WithTenantExternalID]). Tenant ids are 1 to [MaxTenantIDLen] bytes of
// ASCII letters, digits and _+=,.@:/- ([ValidateTenantID]).
// [Dispatcher.RemoveTenant] returns once every copy the tenant's hooks held
// is delivered or dead-lettered, or, with [WithPurge], dead-letters those
// not yet sent. A server with one app never mentions tenants:
// the Dispatcher's own methods act on the default tenant "". What a hook, a
// tenant and the dispatcher hold is bounded; a copy that finds no room is
// dead-lettered at once by default, so one customer's down queue never
// stalls Publish ([WithOverflowWait], [OverflowWait]); with a spool it spills
// to disk instead. A tenant's hooks together have at most its share of
// calls in flight ([WithTenantMaxInFlight], a quarter of the connections
// per host), so one customer's hanging queues cannot take the connections
// every tenant shares. [HookStats] report each hook's [Health]; a failing
// hook (whose calls fail, or go unanswered for [WithSlowCall]) probes at a
// low rate until it recovers.
//
// # Auth
//
// A hook's sqs_auth_type says whose credentials sign its calls:
//
//   - [AuthKeys] ("keys"): the hook's own access key and secret. The secret
//     never appears in logs, errors or fmt output ([Hook.Redacted]).
//   - [AuthResource] ("resource"): the server's own AWS identity, from the
//     default credential chain; the customer allows it with a queue policy
//     ([ResourcePolicy]). Every customer then allows the same principal.
//   - [AuthRole] ("role"): a role in the customer's account (sqs_role_arn),
//     assumed by the server's identity with an ExternalId the server assigns
//     to the customer ([WithExternalID], [TrustPolicy]), so one customer
//     cannot make the server send into another's queue.
//     [WithRoleAuthOnly] refuses the other two.
//
// A [ClientPool] builds and shares the SDK clients; [Dispatcher.Check] and
// [CheckHook] try a hook's access without publishing an event.
//
// # Messages
//
// Before an event is queued, the size guard ([SizeGuard]) applies SQS's
// rules: the body (raw JSON by default, or base64 or gzip+base64, see
// [Encoding]) must fit the per-message limit, characters SQS refuses inside
// JSON strings are escaped as \uXXXX, and FIFO fields are checked
// ([GroupStrategy], [GroupByChannel]). Consumers read any encoding back with
// [DecodeBody]. Each message carries the event id (the [AttrEventID]
// attribute, and the deduplication id on FIFO queues) so consumers can drop
// the rare duplicate of at-least-once delivery.
//
// # Durability
//
// Without a spool everything the dispatcher holds is in memory: a crash of
// the process loses it, and a Close that runs out of time dead-letters it
// ([ReasonShutdown]). [WithSpool] records each event on local disk before
// Publish returns (package spool: group commit by default, or an fsync per
// event, or none), settles each hook's copy when SQS acknowledges it or its
// dead letter is reported, and resumes what is pending at the next [New]:
// nothing accepted is lost to a crash, and a copy in flight at the crash may
// be delivered twice with the same event id. A copy for a full hook waits on
// disk and is read back in its order when the hook has room.
//
// # Policies
//
// The policy helpers write the JSON a customer attaches to the queue or to a
// role ([ResourcePolicy], [PermissionPolicy], [TrustPolicy],
// [RolePermissionPolicy]), read one back ([ParsePolicy]) and check it without
// calling AWS ([Allows], [AllowsRequest], [IdentityAllows]).
//
// # Errors
//
// The sentinels [ErrClosed], [ErrBufferFull], [ErrInvalidEvent],
// [ErrInvalidHook], [ErrInvalidQueueURL], [ErrInvalidPolicy] and
// [ErrUnknownHook] are matched with errors.Is. An event that was not
// delivered carries a [*DeliveryError] (in its [DeadLetter], and in the error
// of [Dispatcher.Publish] for copies dead-lettered at once); hook validation
// returns a [*ValidationError] listing every [Problem]; the size guard
// returns a [*GuardError].
//
// # Observability
//
// [Dispatcher.Stats] returns per-hook counters ([HookStats]); [WithLogger]
// sets the structured logger. [WithMeterProvider] and [WithTracerProvider]
// report OpenTelemetry metrics and a span per SendMessageBatch call (off,
// and free, without them); [Dispatcher.HealthHandler] serves the state as
// JSON on the server's admin mux.
package sqshook
