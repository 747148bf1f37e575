// check.go tries a hook's access without publishing an event (CheckHook,
// Dispatcher.Check): the queue's attributes, its policy and a marked test
// message, with a diagnosis for every failure.

package sqshook

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsarn "github.com/aws/aws-sdk-go-v2/aws/arn"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
)

// CheckStatus is the outcome of a hook check: CheckOK or CheckError.
type CheckStatus string

// The statuses of a CheckResult.
const (
	// CheckOK: the queue answered. The queue's attributes were read, or they
	// could not be read but the test message was accepted. Warnings may
	// still point out problems.
	CheckOK CheckStatus = "ok"
	// CheckError: the hook cannot deliver as configured; CheckResult.Error
	// says why.
	CheckError CheckStatus = "error"
)

// TestEventType is the event type of the test message that a check sends
// (CheckOptions.SendTestMessage): the body's "type" and the value of the
// "event_type" message attribute. Consumers may drop such messages.
const TestEventType = "sqshook.test"

// DefaultCheckTimeout bounds a whole check (every call it makes) when
// CheckOptions.Timeout is 0.
const DefaultCheckTimeout = 10 * time.Second

// QueueInfo is what a check learned about the queue from
// GetQueueAttributes. Fields the queue did not report are zero.
type QueueInfo struct {
	// ARN is the queue's ARN (QueueArn); when the attributes could not be
	// read, the ARN derived from the queue URL, if it is an AWS one.
	ARN string `json:"arn,omitempty"`
	// FIFO: the queue is a FIFO queue (FifoQueue, or a name ending in ".fifo").
	FIFO bool `json:"fifo"`
	// ContentBasedDeduplication is the FIFO queue's setting.
	ContentBasedDeduplication bool `json:"content_based_deduplication,omitempty"`
	// MaximumMessageSize is the queue's per-message limit in bytes.
	MaximumMessageSize int `json:"maximum_message_size,omitempty"`
	// RedrivePolicy is the queue's redrive policy (JSON), "" without a
	// dead-letter queue.
	RedrivePolicy string `json:"redrive_policy,omitempty"`
	// DeadLetterTargetARN is the dead-letter queue named by RedrivePolicy.
	DeadLetterTargetARN string `json:"dead_letter_target_arn,omitempty"`
	// Policy is the queue's resource policy (JSON), "" without one.
	Policy string `json:"policy,omitempty"`
	// KMSMasterKeyID is the KMS key of server-side encryption with KMS.
	KMSMasterKeyID string `json:"kms_master_key_id,omitempty"`
	// SQSManagedSSE: server-side encryption with SQS-owned keys is on.
	SQSManagedSSE bool `json:"sqs_managed_sse,omitempty"`
}

// CheckResult is the report of a hook check. It never holds the hook's
// secret, so it can be shown to the customer or logged as JSON as it is.
//
// What it shows is what the customer needs: what the customer gave (the
// queue URL, the role ARN, the last four characters of the access key id),
// what the queue reported (Queue), the server's principal that the queue
// policy must allow ("resource" auth), and the category of each failure
// (see PublicError) with its SQS error code. It does not show what AWS or
// the network said: AWS's message (which names the caller's IAM identity
// and account), the server's network (resolver, proxy, addresses) or how
// the server gets its own credentials. That detail goes to the server's
// log (CheckOptions.Logger).
type CheckResult struct {
	// Status is CheckOK or CheckError.
	Status CheckStatus `json:"status"`
	// Error says, for people, why the check failed: the hook is invalid, the
	// access key or secret is wrong, the queue does not exist, access is
	// denied for a named action, the network failed (its category, such as
	// "network: connection refused"), the server's own credentials are not
	// available, or the check timed out.
	Error string `json:"error,omitempty"`
	// Code is the SQS error code behind Error, when there is one (such as
	// "AccessDenied" or "AWS.SimpleQueueService.NonExistentQueue").
	Code string `json:"code,omitempty"`
	// Duration is how long the check took.
	Duration time.Duration `json:"duration"`
	// Queue is what the check learned about the queue.
	Queue QueueInfo `json:"queue"`
	// Principal is the server's principal that the queue policy was checked
	// for ("resource" auth only): CheckOptions.Principal or the discovered one.
	Principal string `json:"principal,omitempty"`
	// Warnings are problems that do not stop delivery now but lose or
	// refuse events in some cases (a queue size limit below the hook's, no
	// dead-letter queue, a queue policy that does not allow the server, …).
	Warnings []string `json:"warnings,omitempty"`
	// TestMessageID is the SQS MessageId of the test message, when one was
	// sent and accepted.
	TestMessageID string `json:"test_message_id,omitempty"`
	// Step names the step that failed: "validate", "assume_role" ("role"
	// hooks), "get_queue_attributes" or "send_test_message"; "" when the
	// check passed.
	Step string `json:"step,omitempty"`
}

// Check steps, as CheckResult.Step names them.
const (
	StepValidate           = "validate"
	StepAssumeRole         = "assume_role"
	StepGetQueueAttributes = "get_queue_attributes"
	StepSendTestMessage    = "send_test_message"
)

// CheckOptions tunes a check. The zero value checks the hook with a client
// built from its own settings, against AWS's endpoints (or the endpoint from
// the environment), for DefaultMaxMessageBytes, without a test message.
type CheckOptions struct {
	// MaxMessageBytes is the hook's per-message limit, which the queue's
	// MaximumMessageSize should not be below. 0 means DefaultMaxMessageBytes
	// (for Dispatcher.Check: the dispatcher's limit); at most
	// MaxMessageBytesLimit.
	MaxMessageBytes int

	// SendTestMessage sends one message to the queue, marked as a test: the
	// JSON body {"type": "sqshook.test", ...} and the message attribute
	// event_type=sqshook.test (see TestEventType). Its MessageId is reported
	// in CheckResult.TestMessageID. It proves that sqs:SendMessage is
	// allowed, which with "resource" auth is often the only action a queue
	// policy grants.
	SendTestMessage bool

	// CustomGroupIDs tells the check that the caller sets Event.GroupID on
	// its events.
	CustomGroupIDs bool
	// NoGroupStrategy tells the check that the dispatcher has no FIFO group
	// strategy (WithGroupStrategy(nil)). A FIFO queue then gets a warning
	// unless CustomGroupIDs is set: events without Event.GroupID would be
	// dead-lettered. Dispatcher.Check sets it from the dispatcher's options.
	NoGroupStrategy bool

	// Principal is the server's AWS principal for "resource" auth: an IAM
	// role, user or root ARN, or an account ID, as the queue policy would
	// name it. The queue policy is evaluated (with Allows) for it. Empty
	// means discover it with sts:GetCallerIdentity (see DiscoverPrincipal);
	// a failed discovery is a warning, not an error. Ignored for "keys".
	Principal string

	// STS is the client that discovers the principal. Nil means an STS
	// client built from the server's own AWS configuration (the same one
	// "resource" hooks send with) in the hook's region.
	STS STSAPI

	// Client is the SQS client to check with. Nil means one built from the
	// hook (its region and credentials) by a ClientPool using Endpoint.
	// Ignored by Dispatcher.Check, which uses the dispatcher's client.
	Client SQSAPI

	// Endpoint overrides the SQS endpoint, as ClientOptions.Endpoint does
	// (empty: AWS_ENDPOINT_URL_SQS, AWS_ENDPOINT_URL or AWS's own). It is
	// also what validation accepts queue URLs on (see ValidateOptions), so
	// set it to the emulator's address also when Client is set. Ignored by
	// Dispatcher.Check, which uses the dispatcher's endpoint.
	Endpoint string

	// Timeout bounds the whole check. 0 means DefaultCheckTimeout.
	Timeout time.Duration

	// ExternalID is the ExternalId the server assigned to a "role" hook's
	// customer (see WithExternalID); the check assumes the role with it.
	// Dispatcher.Check fills it from the dispatcher's options.
	ExternalID string
	// STSEndpoint overrides the STS endpoint, as ClientOptions.STSEndpoint
	// does. Ignored by Dispatcher.Check, which uses the dispatcher's.
	STSEndpoint string
	// MultiTenant says that the server delivers several customers' hooks
	// with one identity: "resource" hooks then get a warning about the
	// cross-tenant risk (see AuthRole). Dispatcher.Check sets it for
	// dispatchers configured with WithMultiTenant or serving several
	// tenants.
	MultiTenant bool

	// Logger receives the detail of each failure that the result
	// describes by its category only (what AWS or the network said,
	// without the hook's secret), one Info record per failed step. Nil
	// means slog.Default(); Dispatcher.Check and Tenant.CheckHook use the
	// dispatcher's logger (WithLogger).
	Logger *slog.Logger
}

// CheckHook checks that the hook h can deliver, as Stream's check_sqs does,
// and reports what it found; it never returns a Go error, every failure is
// in the result, described for people, without the hook's secret.
//
// The steps: validate h (every problem is reported in Error); read the
// queue's attributes (GetQueueAttributes, "All") into CheckResult.Queue; warn
// when the queue's MaximumMessageSize is below the hook's limit, when the
// queue has no dead-letter queue, when a FIFO queue will get one message
// group per event type, and, for "resource" auth, when the queue policy does
// not allow, denies, or may not allow the server's principal sqs:SendMessage
// (see Allows), or the queue has no policy; then, if asked, send a test
// message. When the attributes cannot be read because access is denied but
// the test message is accepted, the check passes with a warning: a queue
// policy that grants only sqs:SendMessage (as ResourcePolicy writes it) is
// enough to deliver.
//
// Failures are classified: "bad access key or secret" (InvalidClientTokenId,
// SignatureDoesNotMatch, UnrecognizedClientException), "access denied for
// <action>", "no such queue", "network: …" (the category of the network
// failure, see PublicError), "timed out" (ctx or opts.Timeout ended
// first). AWS's messages and the network's detail are logged
// (opts.Logger), not shown. The check makes at most three calls (STS,
// GetQueueAttributes, SendMessage) and no retries.
// Cancelling ctx stops it. CheckHook is safe for concurrent use.
func CheckHook(ctx context.Context, h Hook, opts CheckOptions) CheckResult {
	start := time.Now()
	// One pool serves the SQS client (unless the caller gave one) and the
	// STS client, so that closing its idle connections leaves nothing open.
	pool := NewClientPool(ClientOptions{
		Endpoint: opts.Endpoint, STSEndpoint: opts.STSEndpoint,
		ExternalID: func(Hook) string { return opts.ExternalID },
	})
	defer pool.CloseIdleConnections()
	env := checkEnv{
		endpoint: pool.Endpoint(),
		maxBytes: DefaultMaxMessageBytes,
		client:   opts.Client,
		pool:     pool,
		logger:   opts.Logger,

		externalID: opts.ExternalID,
	}
	if env.logger == nil {
		env.logger = slog.Default()
	}
	res := env.run(ctx, h, opts)
	res.Duration = time.Since(start)
	return res
}

// Check runs CheckHook for the hook with the given id, with the dispatcher's
// own SQS client for it, its endpoint and, when opts.MaxMessageBytes is 0,
// its per-message limit (opts.Client and opts.Endpoint are ignored). A
// disabled hook is checked too, with a warning. The STS client that
// discovers the principal, unless opts.STS is set, uses the server
// configuration of the dispatcher's client pool.
//
// The error is non-nil only when the check could not be run: an id not in
// the hook list (ErrUnknownHook), or a closed dispatcher (ErrClosed). Every
// problem of the hook itself is in the result. Check is safe for concurrent
// use and does not disturb delivery.
func (d *Dispatcher) Check(ctx context.Context, hookID string, opts CheckOptions) (CheckResult, error) {
	return d.check(ctx, "", hookID, opts)
}

func (d *Dispatcher) check(ctx context.Context, tenant, hookID string, opts CheckOptions) (CheckResult, error) {
	start := time.Now()
	if d.closed.Load() {
		return CheckResult{}, ErrClosed
	}
	var (
		h      Hook
		found  bool
		client SQSAPI
	)
	d.mu.Lock()
	if t := d.lookupTenant(tenant); t != nil {
		for _, x := range t.hooks {
			if x.ID == hookID {
				h, found = x.Clone(), true
				break
			}
		}
		for _, p := range t.snap.Load().pipes {
			if p.hook.ID == hookID {
				client = p.client
			}
		}
	}
	d.mu.Unlock()
	if !found {
		return CheckResult{}, fmt.Errorf("%w: %q", ErrUnknownHook, hookID)
	}
	return d.checkHook(ctx, tenant, h, client, opts, start), nil
}

// checkHook checks h, a hook of the tenant, with the dispatcher's clients
// (client, when the hook has a pipeline) and the tenant's ExternalId.
func (d *Dispatcher) checkHook(ctx context.Context, tenant string, h Hook, client SQSAPI, opts CheckOptions, start time.Time) CheckResult {
	pool := d.pool
	if pool == nil {
		// The dispatcher's clients come from WithClientFunc; a pool of our
		// own serves the STS client only.
		co := d.cfg.clientOptions
		ext := d.externalIDOf(tenant)
		co.Endpoint, co.ExternalID = d.cfg.endpoint, func(Hook) string { return ext }
		pool = NewClientPool(co)
		defer pool.CloseIdleConnections()
	}
	if d.cfg.groupStrategy == nil {
		opts.NoGroupStrategy = true
	}
	opts.MultiTenant = opts.MultiTenant || d.multiTenant(tenant)
	opts.ExternalID = d.externalIDOf(tenant)
	env := checkEnv{
		endpoint:  d.cfg.endpoint,
		maxBytes:  d.cfg.guard.Limit(),
		client:    client,
		clientFor: d.cfg.clientFor,
		pool:      pool,
		logger:    opts.Logger,
		tenant:    tenant,

		externalID: opts.ExternalID,
	}
	if env.logger == nil {
		env.logger = d.cfg.logger
	}
	res := env.run(ctx, h, opts)
	if d.pool != nil && d.closed.Load() {
		// Close ran meanwhile and may have missed this check's connections.
		d.pool.CloseIdleConnections()
	}
	res.Duration = time.Since(start)
	return res
}

// checkEnv is where a check gets its clients and defaults from.
type checkEnv struct {
	endpoint  string // the endpoint in force, for validation
	maxBytes  int    // the limit when CheckOptions.MaxMessageBytes is 0
	client    SQSAPI // nil: clientFor, else pool.Client
	clientFor func(context.Context, Hook) (SQSAPI, error)
	pool      *ClientPool // builds SQS clients and the STS client's configuration
	// externalID is the ExternalId "role" hooks are checked with: the one
	// of the hook's tenant.
	externalID string
	logger     *slog.Logger // gets the detail of failures
	tenant     string       // the hook's tenant, for the log
}

// checkRun holds the state of one check.
type checkRun struct {
	h    Hook
	opts CheckOptions
	res  CheckResult
	env  *checkEnv
}

// logFailure logs the detail of a failure at step that the result
// describes by its category only: what AWS or the network said, without
// the hook's secret.
func (r *checkRun) logFailure(step string, err error) {
	l := r.env.logger
	if l == nil || err == nil || !l.Enabled(context.Background(), slog.LevelInfo) {
		return
	}
	attrs := make([]slog.Attr, 0, 5)
	if r.env.tenant != "" {
		attrs = append(attrs, tenantAttr(r.env.tenant))
	}
	attrs = append(attrs, slog.String("hook_id", r.h.scrub(r.h.ID)), slog.String("step", step))
	if code, _ := PublicError(err); code != "" {
		attrs = append(attrs, slog.String("code", code))
	}
	attrs = append(attrs, slog.String("error", r.h.scrub(err.Error())))
	l.LogAttrs(context.Background(), slog.LevelInfo, "sqshook: hook check failed", attrs...)
}

func (r *checkRun) warn(format string, args ...any) {
	r.res.Warnings = append(r.res.Warnings, fmt.Sprintf(format, args...))
}

// fail records a failure that has no SQS error code.
func (r *checkRun) fail(format string, args ...any) {
	r.res.Status = CheckError
	r.res.Code = ""
	r.res.Error = fmt.Sprintf(format, args...)
}

func (env *checkEnv) run(ctx context.Context, h Hook, opts CheckOptions) CheckResult {
	r := &checkRun{h: h, opts: opts, res: CheckResult{Status: CheckOK}, env: env}
	env.check(ctx, r)
	r.scrub()
	return r.res
}

func (env *checkEnv) check(ctx context.Context, r *checkRun) {
	h, opts := r.h, r.opts

	var v validator
	v.hook("hook", h, ValidateOptions{Endpoint: env.endpoint, ExternalID: func(Hook) string { return opts.ExternalID }})
	if opts.MaxMessageBytes < 0 || opts.MaxMessageBytes > MaxMessageBytesLimit {
		v.add("options.max_message_bytes", fmt.Sprintf("%d is outside 1..%d (0 means the default)", opts.MaxMessageBytes, MaxMessageBytesLimit))
	}
	if opts.Timeout < 0 {
		v.add("options.timeout", "must not be negative")
	}
	if err := v.err(); err != nil {
		var parts []string
		for _, p := range v.problems {
			parts = append(parts, p.String())
		}
		r.fail("invalid hook: %s", strings.Join(parts, "; "))
		r.res.Step = StepValidate
		return
	}
	limit := opts.MaxMessageBytes
	if limit == 0 {
		limit = env.maxBytes
	}
	timeout := opts.Timeout
	if timeout == 0 {
		timeout = DefaultCheckTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	if !h.Enabled {
		r.warn("hook is disabled: it receives no events until it is enabled")
	}
	// What the URL says, until the attributes say more.
	r.res.Queue.FIFO = strings.HasSuffix(h.SQSQueueURL, ".fifo")
	if arn, err := QueueARN(h.SQSQueueURL); err == nil {
		r.res.Queue.ARN = arn
	}

	if h.SQSAuthType == AuthResource && opts.MultiTenant {
		r.warn(`"resource" auth in a multi-tenant server: every customer's queue policy allows the same server principal, so a customer who registers another customer's queue URL receives nothing but makes this server send that customer's events there; use "role" auth with an ExternalId per customer`)
	}
	if h.SQSAuthType == AuthRole && !env.assumeRole(ctx, r) {
		return
	}

	client, err := env.sqsClient(ctx, h)
	if err != nil {
		r.logFailure("build_client", err)
		r.fail("cannot build the SQS client: %s", checkCause(ctx, h.scrubError(err)))
		return
	}

	out, err := client.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{
		QueueUrl:       aws.String(h.SQSQueueURL),
		AttributeNames: []types.QueueAttributeName{types.QueueAttributeNameAll},
	})
	if err == nil {
		r.queueInfo(out.Attributes, limit)
		if h.SQSAuthType == AuthResource {
			if principal := env.principal(ctx, r); principal != "" {
				r.policyWarnings(principal)
			}
		}
	} else {
		denied := r.classify(ctx, err, "sqs:GetQueueAttributes")
		r.res.Step = StepGetQueueAttributes
		if denied && h.SQSAuthType == AuthResource {
			if principal := env.principal(ctx, r); principal != "" {
				r.res.Error += "; the queue policy must allow " + principal
			}
		}
		if !denied || !opts.SendTestMessage {
			if denied && h.SQSAuthType == AuthResource {
				r.res.Error += `; a queue policy for "resource" auth often allows only sqs:SendMessage: check again with a test message, or let the policy allow sqs:GetQueueAttributes too`
			}
			return
		}
		// Reading the attributes is denied; the test message decides.
		r.res.Status, r.res.Error, r.res.Code, r.res.Step = CheckOK, "", "", ""
		r.warn("cannot read the queue's attributes (access denied for sqs:GetQueueAttributes): its size limit, dead-letter queue, FIFO settings and policy were not checked")
	}

	if opts.SendTestMessage {
		id, err := sendTestMessage(ctx, client, h, r.res.Queue.FIFO)
		if err != nil {
			r.res.Step = StepSendTestMessage
			if r.classify(ctx, err, "sqs:SendMessage") && r.res.Principal != "" {
				r.res.Error += "; the queue policy must allow " + r.res.Principal
			}
			return
		}
		r.res.TestMessageID = id
	}
}

// assumeRole retrieves a "role" hook's credentials (STS AssumeRole with the
// ExternalId) and reports whether that worked.
func (env *checkEnv) assumeRole(ctx context.Context, r *checkRun) bool {
	key, err := env.pool.roleKeyOf(r.h, env.externalID)
	var creds *aws.CredentialsCache
	if err == nil {
		creds, err = env.pool.roleCredentials(ctx, r.h.SQSRegion, key)
	}
	if err == nil {
		_, err = creds.Retrieve(ctx)
	}
	if err == nil {
		return true
	}
	r.res.Step = StepAssumeRole
	r.res.Status = CheckError
	r.logFailure(StepAssumeRole, err)
	err = r.h.scrubError(err)
	d := describe(err)
	var apiErr smithy.APIError
	if isContextErr(ctx, err) || d.class == classServerCredentials || !errors.As(err, &apiErr) {
		r.fail("cannot assume role %s: %s", r.h.SQSRoleARN, checkCause(ctx, err))
		r.res.Step = StepAssumeRole
		return false
	}
	code := apiErr.ErrorCode()
	r.res.Code = code
	switch {
	case isAccessDenied(code):
		r.res.Error = fmt.Sprintf("cannot assume role %s (%s): %s", r.h.SQSRoleARN, code, trustHint(r.opts.ExternalID))
	case checkAuthCodes[code]:
		r.res.Error = fmt.Sprintf("bad credentials: STS does not accept the server's own credentials (%s)", code)
	case transientCodes[code]:
		r.res.Error = fmt.Sprintf("STS is unavailable or throttling (%s); try again later", code)
	default:
		r.res.Error = fmt.Sprintf("cannot assume role %s (%s: %s)", r.h.SQSRoleARN, code, d.text)
	}
	return false
}

// sqsClient returns the client to check with.
func (env *checkEnv) sqsClient(ctx context.Context, h Hook) (SQSAPI, error) {
	switch {
	case env.client != nil:
		return env.client, nil
	case env.clientFor != nil:
		return env.clientFor(ctx, h)
	}
	c, err := env.pool.client(ctx, h, env.externalID)
	if err != nil {
		return nil, err
	}
	return c, nil
}

// stsClient returns the STS client that discovers the principal: the
// server's own configuration, in the hook's region, over the pool's HTTP
// client, with a single attempt.
func (env *checkEnv) stsClient(ctx context.Context, h Hook) (STSAPI, error) {
	return env.pool.stsClient(ctx, h.SQSRegion)
}

// queueInfo fills Queue from the attributes and adds the warnings they call
// for.
func (r *checkRun) queueInfo(attrs map[string]string, limit int) {
	q := &r.res.Queue
	if arn := attrs[string(types.QueueAttributeNameQueueArn)]; arn != "" {
		q.ARN = arn
	}
	q.FIFO = q.FIFO || attrs[string(types.QueueAttributeNameFifoQueue)] == "true"
	q.ContentBasedDeduplication = attrs[string(types.QueueAttributeNameContentBasedDeduplication)] == "true"
	q.RedrivePolicy = attrs[string(types.QueueAttributeNameRedrivePolicy)]
	q.Policy = attrs[string(types.QueueAttributeNamePolicy)]
	q.KMSMasterKeyID = attrs[string(types.QueueAttributeNameKmsMasterKeyId)]
	q.SQSManagedSSE = attrs[string(types.QueueAttributeNameSqsManagedSseEnabled)] == "true"

	if s, ok := attrs[string(types.QueueAttributeNameMaximumMessageSize)]; ok {
		n, err := strconv.Atoi(s)
		switch {
		case err != nil || n <= 0:
			r.warn("queue reports MaximumMessageSize %q, which is not a number of bytes; the size limit was not checked", s)
		default:
			q.MaximumMessageSize = n
			if n < limit {
				r.warn("queue MaximumMessageSize is %d bytes, below the hook's limit of %d bytes: SQS will reject events of %d to %d bytes; raise the queue's MaximumMessageSize to %d or lower the hook's limit to %d",
					n, limit, n+1, limit, limit, n)
			}
		}
	}

	if q.RedrivePolicy == "" {
		r.warn("queue has no dead-letter queue (no RedrivePolicy): messages that consumers fail to process are received again and again until the retention period ends, then lost; attach a dead-letter queue")
	} else {
		var rp struct {
			DeadLetterTargetArn string `json:"deadLetterTargetArn"`
		}
		if err := json.Unmarshal([]byte(q.RedrivePolicy), &rp); err != nil || rp.DeadLetterTargetArn == "" {
			r.warn("queue RedrivePolicy names no deadLetterTargetArn: the dead-letter queue could not be identified")
		}
		q.DeadLetterTargetARN = rp.DeadLetterTargetArn
	}

	if q.FIFO && r.opts.NoGroupStrategy && !r.opts.CustomGroupIDs {
		r.warn("FIFO queue without a group strategy: events without Event.GroupID will be dead-lettered (invalid_field MessageGroupId); set Event.GroupID on every event or configure WithGroupStrategy (GroupByChannel keeps each channel's order)")
	}

	if parts, err := ParseQueueARN(q.ARN); err == nil && parts.Region != r.h.SQSRegion {
		r.warn("queue ARN %s is in region %s but the hook's sqs_region is %s", q.ARN, parts.Region, r.h.SQSRegion)
	}
}

// principal returns the server's principal for "resource" auth:
// CheckOptions.Principal, or the one STS reports. It records it in the
// result; a failed discovery is a warning, and the result is "".
func (env *checkEnv) principal(ctx context.Context, r *checkRun) string {
	principal := r.opts.Principal
	if principal == "" {
		client := r.opts.STS
		var err error
		if client == nil {
			client, err = env.stsClient(ctx, r.h)
		}
		if err == nil {
			principal, err = DiscoverPrincipal(ctx, client)
		}
		if err != nil {
			r.logFailure("discover_principal", err)
			r.warn("cannot discover the server's AWS principal (%s); set CheckOptions.Principal to have the queue policy checked", checkCause(ctx, r.h.scrubError(err)))
			return ""
		}
	}
	r.res.Principal = principal
	return principal
}

// policyWarnings evaluates the queue policy (read from the attributes) for
// the server's principal and warns about what would refuse its messages.
func (r *checkRun) policyWarnings(principal string) {
	q := &r.res.Queue
	if q.ARN == "" {
		r.warn("queue ARN unknown: the queue policy was not checked for %s", principal)
		return
	}
	queueAccount := ""
	if parts, err := ParseQueueARN(q.ARN); err == nil {
		queueAccount = parts.AccountID
	}
	principalAcct := principalAccount(principal)
	sameAccount := queueAccount != "" && principalAcct == queueAccount
	crossAccount := queueAccount != "" && principalAcct != "" && !sameAccount

	if q.Policy == "" {
		if crossAccount {
			r.warn("queue has no policy: only identities in the queue's own account %s whose IAM policies allow sqs:SendMessage can send, and the server's principal %s is in account %s; attach a queue policy that allows it (see ResourcePolicy)",
				queueAccount, principal, principalAcct)
		} else {
			r.warn("queue has no policy: only identities in the queue's own account whose IAM policies allow sqs:SendMessage can send; a server in another account needs a queue policy that allows it (see ResourcePolicy)")
		}
	} else {
		evaluated := principal
		if full := policyRoleWithPath(q.Policy, principal); full != "" {
			evaluated = full // the same role: role names are unique in an account
		}
		d, err := Allows([]byte(q.Policy), evaluated, "sqs:SendMessage", q.ARN)
		switch {
		case err != nil && strings.Contains(principal, ":federated-user/"):
			r.warn("cannot evaluate the queue policy for the federated user %s, which is not an IAM principal; send a test message to be sure", principal)
		case err != nil:
			r.warn("cannot evaluate the queue policy for %s: %s", principal, policyUnwrap(err))
		case d == DecisionExplicitDeny:
			r.warn("queue policy explicitly denies %s sqs:SendMessage on %s: every event will be refused with AccessDenied", evaluated, q.ARN)
		case d == DecisionImplicitDeny && sameAccount:
			r.warn("queue policy does not allow %s sqs:SendMessage on %s (implicit deny); the principal is in the queue's account, so only its own IAM policies can allow it", evaluated, q.ARN)
		case d == DecisionImplicitDeny:
			r.warn("queue policy does not allow %s sqs:SendMessage on %s (implicit deny): every event will be refused with AccessDenied; see ResourcePolicy", evaluated, q.ARN)
		case d == DecisionUndecided:
			r.warn("cannot decide whether the queue policy allows %s sqs:SendMessage on %s: a statement that applies has conditions (or NotPrincipal, or policy variables) that are not evaluated here; send a test message to be sure", evaluated, q.ARN)
		}
	}

	if crossAccount {
		switch key := q.KMSMasterKeyID; {
		case key == "alias/aws/sqs" || strings.HasSuffix(key, ":alias/aws/sqs"):
			r.warn("queue is encrypted with the AWS managed key aws/sqs, which another account cannot use: the server's principal %s cannot send; use SQS-managed encryption or a customer managed key", principal)
		case key != "":
			r.warn("queue is encrypted with the KMS key %s: its key policy must allow %s kms:GenerateDataKey and kms:Decrypt", key, principal)
		}
	}
}

// policyRoleWithPath returns the full ARN of the role principal when the
// policy names that role with a path (…:role/<path>/<name>) and principal
// names it without one, as PrincipalFromARN does; else "".
func policyRoleWithPath(policyJSON, principal string) string {
	pr, problem := policyParseIAMPrincipal(principal)
	if problem != "" || pr.roleName == "" || !strings.HasSuffix(pr.arn, ":role/"+pr.roleName) {
		return ""
	}
	doc, err := ParsePolicy([]byte(policyJSON))
	if err != nil {
		return ""
	}
	for _, st := range doc.Statement {
		for _, p := range []*Principal{st.Principal, st.NotPrincipal} {
			if p == nil {
				continue
			}
			for _, v := range p.AWS {
				q, problem := policyParseIAMPrincipal(v)
				if problem == "" && q.roleName == pr.roleName && q.partition == pr.partition &&
					q.account == pr.account && q.arn != pr.arn {
					return q.arn
				}
			}
		}
	}
	return ""
}

// principalAccount returns the account of a principal ARN or account ID.
func principalAccount(principal string) string {
	if policyIsAccountID(principal) {
		return principal
	}
	if a, err := awsarn.Parse(principal); err == nil && policyIsAccountID(a.AccountID) {
		return a.AccountID
	}
	return ""
}

// testMessage is the body of the test message.
type testMessage struct {
	Type      string `json:"type"`
	ID        string `json:"id"`
	HookID    string `json:"hook_id,omitempty"`
	CreatedAt string `json:"created_at"`
	Message   string `json:"message"`
}

// sendTestMessage sends one message marked as a test and returns its
// MessageId.
func sendTestMessage(ctx context.Context, client SQSAPI, h Hook, fifo bool) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("sqshook: test message id: %w", err)
	}
	id := "sqshook-test-" + hex.EncodeToString(b[:])
	body, err := json.Marshal(testMessage{
		Type:      TestEventType,
		ID:        id,
		HookID:    h.ID,
		CreatedAt: time.Now().UTC().Format(time.RFC3339Nano),
		Message:   "test message sent by a check of this event hook; safe to delete",
	})
	if err != nil {
		return "", fmt.Errorf("sqshook: test message: %w", err)
	}
	in := &sqs.SendMessageInput{
		QueueUrl:    aws.String(h.SQSQueueURL),
		MessageBody: aws.String(string(body)),
		MessageAttributes: map[string]types.MessageAttributeValue{
			AttrEventType: {DataType: aws.String("String"), StringValue: aws.String(TestEventType)},
			AttrEventID:   {DataType: aws.String("String"), StringValue: aws.String(id)},
		},
	}
	if fifo {
		in.MessageGroupId = aws.String(TestEventType)
		in.MessageDeduplicationId = aws.String(id)
	}
	out, err := client.SendMessage(ctx, in)
	if err != nil {
		return "", err
	}
	return aws.ToString(out.MessageId), nil
}

// Error codes a check explains.
var (
	checkAuthCodes = map[string]bool{
		"InvalidClientTokenId": true, "SignatureDoesNotMatch": true, "UnrecognizedClientException": true,
		"InvalidAccessKeyId": true, "IncompleteSignature": true, "MissingAuthenticationToken": true,
		"InvalidSignatureException": true, "AuthFailure": true,
	}
	checkExpiredCodes = map[string]bool{
		"ExpiredToken": true, "ExpiredTokenException": true, "RequestExpired": true, "TokenRefreshRequired": true,
	}
	checkNoQueueCodes = map[string]bool{
		"QueueDoesNotExist": true, "AWS.SimpleQueueService.NonExistentQueue": true,
	}
)

func isAccessDenied(code string) bool {
	return code == "AccessDenied" || code == "AccessDeniedException" || code == "AWS.SimpleQueueService.AccessDenied"
}

func isKMSCode(code string) bool {
	return strings.HasPrefix(code, "KMS.") || strings.HasPrefix(code, "Kms")
}

// classify records a failed call in the result: the status, the SQS code and
// a message for people, which names the category of the failure and not
// what AWS or the network said (that is logged). It reports whether access
// to action was denied.
func (r *checkRun) classify(ctx context.Context, err error, action string) (denied bool) {
	r.res.Status = CheckError
	r.logFailure(action, err)
	err = r.h.scrubError(err) // before redaction, which could cut a secret in pieces
	d := describe(err)
	var apiErr smithy.APIError
	if !isContextErr(ctx, err) && d.class != classServerCredentials && errors.As(err, &apiErr) {
		code := apiErr.ErrorCode()
		switch {
		case checkAuthCodes[code]:
			if r.h.SQSAuthType == AuthKeys {
				r.res.Error = fmt.Sprintf("bad access key or secret: AWS does not accept the credentials of access key %s (%s)", maskKey(r.h.SQSKey), code)
			} else {
				r.res.Error = fmt.Sprintf("bad credentials: AWS does not accept the server's own credentials (%s)", code)
			}
		case checkExpiredCodes[code]:
			r.res.Error = fmt.Sprintf("expired credentials: AWS refused %s (%s)", action, code)
		case isAccessDenied(code):
			r.res.Error = fmt.Sprintf("access denied for %s on %s (%s)", action, r.queueName(), code)
			switch r.h.SQSAuthType {
			case AuthKeys:
				r.res.Error += fmt.Sprintf(": the IAM policy of access key %s and the queue policy must allow it", maskKey(r.h.SQSKey))
			case AuthRole:
				r.res.Error += ": the role's permission policy and the queue policy must allow it"
			}
			denied = true
		case checkNoQueueCodes[code]:
			r.res.Error = fmt.Sprintf("no such queue: %s does not exist in region %s (check the URL, the region and the account)", r.h.SQSQueueURL, r.h.SQSRegion)
		case transientCodes[code]:
			r.res.Error = fmt.Sprintf("SQS is unavailable or throttling (%s) for %s; try again later", code, action)
		case isKMSCode(code):
			r.res.Error = fmt.Sprintf("the queue's KMS key refused %s (%s); the key policy must allow the sender kms:GenerateDataKey and kms:Decrypt", action, code)
		default:
			r.res.Error = fmt.Sprintf("%s failed: %s: %s", action, code, d.text)
		}
		r.res.Code = code
		return denied
	}
	r.res.Code = ""
	r.res.Error = fmt.Sprintf("%s (calling %s)", checkCause(ctx, err), action)
	return false
}

func (r *checkRun) queueName() string {
	if r.res.Queue.ARN != "" {
		return r.res.Queue.ARN
	}
	return r.h.SQSQueueURL
}

func isContextErr(ctx context.Context, err error) bool {
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || ctx.Err() != nil
}

// checkCause describes an error that has no SQS error code, by its
// category (see PublicError): a timeout or cancellation of the check, the
// server's own credentials, a network failure. AWS's message and the
// network's detail are not in it; the caller logs them (logFailure).
func checkCause(ctx context.Context, err error) string {
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded):
		return "timed out: no answer before the check's deadline"
	case errors.Is(err, context.Canceled) || ctx.Err() != nil:
		return "canceled: the check's context was canceled"
	}
	d := describe(err)
	if d.code != "" {
		return d.text + " (" + d.code + ")"
	}
	return d.text
}

// scrub removes the hook's secret from everything the result says, and
// shortens its access key id as Hook.Redacted does. Nothing above puts the
// secret in, but messages from AWS and the network are not ours.
func (r *checkRun) scrub() {
	clean := r.h.scrub
	r.res.Error = clean(r.res.Error)
	for i, w := range r.res.Warnings {
		r.res.Warnings[i] = clean(w)
	}
	q := &r.res.Queue
	q.Policy, q.RedrivePolicy = clean(q.Policy), clean(q.RedrivePolicy)
}
