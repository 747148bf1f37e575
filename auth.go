// auth.go builds the SQS clients of hooks for the three auth types ("keys",
// "resource", "role") and shares them in a ClientPool, with the endpoint
// rules every client obeys.

package sqshook

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// SQSAPI is the part of *sqs.Client that sqshook calls, with the SDK's exact
// signatures, so an *sqs.Client satisfies it and tests can substitute their
// own implementation.
type SQSAPI interface {
	SendMessageBatch(ctx context.Context, params *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error)
	SendMessage(ctx context.Context, params *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	GetQueueAttributes(ctx context.Context, params *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var _ SQSAPI = (*sqs.Client)(nil)

// DefaultMaxIdleConnsPerHost is the number of idle connections per host the
// shared HTTP transport keeps when ClientOptions.MaxIdleConnsPerHost is 0.
const DefaultMaxIdleConnsPerHost = 64

// DefaultMaxConnsPerHost bounds the connections per host (idle and in use)
// of the shared HTTP transport when ClientOptions.MaxConnsPerHost is 0.
const DefaultMaxConnsPerHost = 256

// EnvEndpointSQS and EnvEndpoint are the environment variables read, in this
// order, when no endpoint is configured.
const (
	EnvEndpointSQS = "AWS_ENDPOINT_URL_SQS"
	EnvEndpoint    = "AWS_ENDPOINT_URL"
)

// ClientOptions configures a ClientPool. The zero value is ready to use:
// AWS's endpoints (or the endpoint from the environment), a shared transport
// with DefaultMaxIdleConnsPerHost idle connections per host, and the default
// credential chain for "resource" hooks. The shared transport is
// http.DefaultTransport's settings (proxies from the environment
// included) with connections of its own: HTTP/1.1, which SQS and STS
// speak, over TLS checked as net/http checks it, writing each request
// body from its buffer without a copy.
type ClientOptions struct {
	// Endpoint overrides the SQS endpoint for every client (an emulator, a
	// proxy or a VPC endpoint). Empty means the value of EnvEndpointSQS, else
	// of EnvEndpoint, else AWS's own endpoints.
	Endpoint string

	// MaxIdleConnsPerHost sizes the shared HTTP transport so that every
	// in-flight call can reuse a connection. 0 means
	// DefaultMaxIdleConnsPerHost. Ignored when HTTPClient is set.
	MaxIdleConnsPerHost int

	// MaxConnsPerHost bounds the connections per host, idle or in use, of
	// the shared HTTP transport: every hook of every tenant on one regional
	// endpoint shares them, and a call beyond the bound waits for a free
	// connection (within its call timeout). 0 means DefaultMaxConnsPerHost
	// (raised to MaxIdleConnsPerHost when that is larger); negative means
	// no bound. Ignored when HTTPClient is set. A Dispatcher keeps each
	// tenant's calls in flight below it (WithTenantMaxInFlight), so that
	// one tenant's hanging queues cannot hold every connection.
	MaxConnsPerHost int

	// HTTPClient, when set, is used by every client as is.
	HTTPClient aws.HTTPClient

	// LoadDefaultConfig loads the server's own AWS configuration for
	// "resource" and "role" hooks. Nil means config.LoadDefaultConfig. It is
	// called at most once per pool after a success; a test seam.
	LoadDefaultConfig func(ctx context.Context) (aws.Config, error)

	// ExternalID returns the ExternalId for a "role" hook (see
	// WithExternalID, which a Dispatcher passes on). Nil: "role" hooks get
	// no client.
	ExternalID func(Hook) string

	// STSEndpoint overrides the STS endpoint that "role" hooks assume their
	// role with (an emulator, or a VPC endpoint). Empty means the SDK's own
	// resolution (AWS_ENDPOINT_URL_STS, else AWS's regional endpoint).
	STSEndpoint string

	// RoleExpiryWindow is how long before they expire assumed-role
	// credentials are refreshed. 0 means DefaultRoleExpiryWindow.
	RoleExpiryWindow time.Duration

	// InsecureCleartextEndpoint allows http:// endpoints on hosts other
	// than loopback addresses: requests signed with the hooks' credentials
	// then cross the network unencrypted. An endpoint must otherwise be an
	// absolute http or https URL with a host, without user info, query or
	// fragment, and http only on a loopback address.
	InsecureCleartextEndpoint bool

	// SDKSendPath sends the SendMessageBatch calls of a Dispatcher's
	// pipelines through the SDK client's full middleware stack. The
	// default (false) is the lean path: the request encoded from the batch
	// into a reused buffer and sent without the stack, with the SDK's
	// credentials, SigV4 signer, endpoint resolution and error decoding,
	// and the MD5 digests of the response checked (those of the
	// attributes too, which the SDK does not check). Other calls, and the
	// clients Client returns, always use the SDK client.
	SDKSendPath bool
}

// connsPerHost is the bound on connections per host of the transport a
// pool built with o makes: MaxConnsPerHost, or by default
// DefaultMaxConnsPerHost (raised to MaxIdleConnsPerHost); 0 when there is
// none (a negative MaxConnsPerHost) or the pool makes no transport
// (HTTPClient is set). A Dispatcher keeps each tenant's calls in flight
// below it (WithTenantMaxInFlight).
func (o ClientOptions) connsPerHost() int {
	switch m := o.MaxConnsPerHost; {
	case o.HTTPClient != nil || m < 0:
		return 0
	case m > 0:
		return m
	}
	n := o.MaxIdleConnsPerHost
	if n <= 0 {
		n = DefaultMaxIdleConnsPerHost
	}
	return max(DefaultMaxConnsPerHost, n)
}

// checkEndpoint checks an endpoint override (SQS or STS). "" (AWS's own
// endpoints) is fine. Otherwise it must be an absolute http or https URL
// with a host, without user info, query or fragment; http only on a
// loopback address (localhost, 127.0.0.0/8, ::1), since every request
// carries a signature made with the hooks' credentials, unless
// allowCleartext says otherwise. The error names the rule.
func checkEndpoint(endpoint string, allowCleartext bool) error {
	if endpoint == "" {
		return nil
	}
	u, err := url.Parse(endpoint)
	switch {
	case err != nil || u.Host == "" || u.Opaque != "":
		return fmt.Errorf("endpoint %q: not an absolute URL like https://host[:port]", endpoint)
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("endpoint %q: scheme must be https (or http on a loopback address)", endpoint)
	case u.User != nil:
		return errors.New("endpoint: must not carry user info (credentials in the URL)")
	case u.RawQuery != "" || u.Fragment != "" || u.ForceQuery:
		return fmt.Errorf("endpoint %q: must not have a query or fragment", endpoint)
	case u.Scheme == "http" && !isLoopbackHost(u.Hostname()) && !allowCleartext:
		return fmt.Errorf("endpoint %q: http is allowed only on loopback addresses: requests signed with the hooks' credentials must not cross the network in cleartext (use https, or WithInsecureCleartextEndpoint if you must)", endpoint)
	}
	return nil
}

// DefaultRoleExpiryWindow is ClientOptions.RoleExpiryWindow's default.
// Assumed-role credentials last 15 minutes (stscreds' default), so they are
// renewed after about 10: calls never go out with credentials about to
// expire.
const DefaultRoleExpiryWindow = 5 * time.Minute

// resolveEndpoint returns endpoint if it is not empty, else the value of
// AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL, else "" (AWS's own endpoints).
func resolveEndpoint(endpoint string) string {
	if endpoint != "" {
		return endpoint
	}
	if e := os.Getenv(EnvEndpointSQS); e != "" {
		return e
	}
	return os.Getenv(EnvEndpoint)
}

// ClientPool builds SQS clients for hooks and shares them: one client per
// (region, credentials, endpoint), and one HTTP connection pool for all of
// them. Every client has the SDK's own retries turned off (one attempt):
// sqshook's retry layer is the only one, so retries never multiply.
//
// A Dispatcher's pool holds a client, and the assumed-role credentials it
// signs with, only while a pipeline uses it: the pipelines of a removed
// hook or tenant, and of a hook whose credentials changed, give theirs
// back once they have drained, and a client nobody uses is dropped at
// once, with the secret it holds. Clients returned by Client, and
// credentials returned by RoleCredentials, are kept for the pool's life.
//
// A ClientPool is safe for concurrent use. Its zero value is not usable; call
// NewClientPool.
//
// Every way of showing a pool (the fmt verbs, slog) shows its endpoints and
// how many clients it holds, never the credentials of those clients.
type ClientPool struct {
	salt        [32]byte // keys clientKey.cred
	endpointErr error    // a refused endpoint: every client fails with it
	endpoint    string
	stsEndpoint string
	externalID  func(Hook) string
	window      time.Duration
	httpClient  aws.HTTPClient
	transport   *http.Transport // the pool's own; nil when ClientOptions.HTTPClient is used
	loadConfig  func(ctx context.Context) (aws.Config, error)
	sdkSend     bool // ClientOptions.SDKSendPath

	mu          sync.Mutex
	clients     map[clientKey]*clientEntry
	roles       map[roleKey]*roleEntry
	clientsPeak int // the most clients held since the map was last made
	rolesPeak   int

	cfgMu      sync.Mutex // serialises loading the default configuration; not singleflight, which would fail every waiter with the first caller's canceled context
	defaultCfg *aws.Config
}

// clientKey identifies a client. It holds neither the secret nor the whole
// access key id: keyID is the shortened id that may be shown, and cred an
// HMAC-SHA256 of the whole id and the secret under the pool's own random
// salt (an unsalted digest of a secret can be looked up or confirmed).
type clientKey struct {
	region, auth, keyID string
	cred                [sha256.Size]byte
	role                roleKey
	endpoint            queueEndpoint
}

// clientEntry is a client the pool holds, and who uses it. An entry that
// is neither used nor pinned leaves the pool (see release).
type clientEntry struct {
	c      *sqs.Client
	lean   *leanClient // c with the lean SendMessageBatch; nil with ClientOptions.SDKSendPath
	users  int         // pipelines that acquired it and have not released it
	pinned bool        // returned by Client: kept for the pool's life
	role   *roleEntry  // the credentials of a "role" client, which it uses; nil for the others
}

// roleEntry is an assumed role's credentials the pool holds, and who uses
// them: the pool's clients for that role, each counted once.
type roleEntry struct {
	creds  *aws.CredentialsCache
	users  int  // client entries that sign with them
	pinned bool // returned by RoleCredentials: kept for the pool's life
}

// use says how long the pool keeps what a caller asks for.
type use int

const (
	useOnce    use = iota // share what the pool holds, else build one it does not keep (checks)
	useAcquire            // hold it until the caller releases it (a pipeline)
	usePin                // hold it for the pool's life (Client, RoleCredentials)
)

// queueEndpoint is where a queue URL says its requests go, when that is not
// the region's standard endpoint: AWS's FIPS or dual-stack endpoints (the
// SDK resolves them), or the host of an interface VPC endpoint.
type queueEndpoint struct {
	fips, dualStack bool
	vpceHost        string // "vpce-….sqs.<region>.vpce.amazonaws.com", lowercase
}

// queueEndpointOf reads the endpoint a queue URL names. Only URLs that
// ParseQueueURL accepts name one (a VPC endpoint host is validated there:
// never an arbitrary host); any other URL, and the legacy hosts, give the
// region's standard endpoint.
func queueEndpointOf(queueURL string) queueEndpoint {
	q, err := ParseQueueURL(queueURL)
	if err != nil {
		return queueEndpoint{}
	}
	e := queueEndpoint{fips: q.FIPS, dualStack: q.DualStack}
	if q.VPCEndpoint {
		host := queueURL[strings.Index(queueURL, "://")+3:]
		e.vpceHost = strings.ToLower(host[:strings.IndexByte(host, '/')])
	}
	return e
}

// apply sets the SDK's options for e.
func (e queueEndpoint) apply(o *sqs.Options) {
	if e.fips {
		o.EndpointOptions.UseFIPSEndpoint = aws.FIPSEndpointStateEnabled
	}
	if e.dualStack {
		o.EndpointOptions.UseDualStackEndpoint = aws.DualStackEndpointStateEnabled
	}
	if e.vpceHost != "" {
		o.BaseEndpoint = aws.String("https://" + e.vpceHost)
	}
}

// roleKey identifies an assumed role's credentials, shared by every hook
// (in any region) that assumes the same role with the same ExternalId.
type roleKey struct{ arn, externalID string }

// NewClientPool returns a pool configured by opts.
func NewClientPool(opts ClientOptions) *ClientPool {
	p := &ClientPool{
		endpoint:    resolveEndpoint(opts.Endpoint),
		stsEndpoint: opts.STSEndpoint,
		externalID:  opts.ExternalID,
		window:      opts.RoleExpiryWindow,
		httpClient:  opts.HTTPClient,
		loadConfig:  opts.LoadDefaultConfig,
		sdkSend:     opts.SDKSendPath,
		clients:     make(map[clientKey]*clientEntry),
		roles:       make(map[roleKey]*roleEntry),
	}
	if p.window <= 0 {
		p.window = DefaultRoleExpiryWindow
	}
	_, _ = rand.Read(p.salt[:]) // crypto/rand.Read never fails (it crashes the program instead)
	p.endpointErr = checkEndpoint(p.endpoint, opts.InsecureCleartextEndpoint)
	if p.endpointErr == nil {
		p.endpointErr = checkEndpoint(p.stsEndpoint, opts.InsecureCleartextEndpoint)
	}
	if p.endpointErr != nil {
		p.endpointErr = fmt.Errorf("sqshook: %w", p.endpointErr)
	}
	if p.httpClient == nil {
		n := opts.MaxIdleConnsPerHost
		if n <= 0 {
			n = DefaultMaxIdleConnsPerHost
		}
		// One transport for every client: one connection pool, sized for
		// the calls in flight.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = n
		t.MaxIdleConns = max(t.MaxIdleConns, n)
		t.MaxConnsPerHost = opts.connsPerHost()
		useLeanConns(t)
		p.transport = t
		p.httpClient = &http.Client{Transport: t}
	}
	if p.loadConfig == nil {
		p.loadConfig = func(ctx context.Context) (aws.Config, error) {
			return config.LoadDefaultConfig(ctx)
		}
	}
	return p
}

// Endpoint returns the endpoint override in force ("" for AWS's own).
func (p *ClientPool) Endpoint() string { return p.endpoint }

// Client returns the shared client for h's region and credentials, sending
// where h's queue URL says: a FIPS (sqs-fips.…) or dual-stack (….api.aws)
// URL makes the SDK use the FIPS or dual-stack endpoint of the region, and
// an interface VPC endpoint URL (vpce-….sqs.<region>.vpce.amazonaws.com)
// sends to that host; any other URL, the legacy hosts
// (queue.amazonaws.com, <region>.queue.amazonaws.com) included, to the
// region's standard endpoint. An endpoint override (ClientOptions.Endpoint)
// takes precedence over all of these. "keys"
// hooks get static credentials wrapped in aws.NewCredentialsCache; "resource"
// hooks get the server's own identity from the default credential chain
// (environment, shared config, web identity, container or instance role);
// "role" hooks get the credentials of their role, assumed by the server's
// own identity (see RoleCredentials). Errors never contain the secret.
// The pool keeps the client for its life (a Dispatcher's pipelines acquire
// and release theirs instead).
func (p *ClientPool) Client(ctx context.Context, h Hook) (*sqs.Client, error) {
	c, _, err := p.get(ctx, h, p.hookExternalID(h), usePin)
	return c, err
}

// hookExternalID is ClientOptions.ExternalID's answer for h, or "".
func (p *ClientPool) hookExternalID(h Hook) string {
	if p.externalID == nil {
		return ""
	}
	return p.externalID(h)
}

// client is Client with the ExternalId of a "role" hook given (the one the
// server assigned to the hook's tenant), for a one-off use such as a
// check: it shares the client a pipeline holds, else builds one that the
// pool does not keep.
func (p *ClientPool) client(ctx context.Context, h Hook, externalID string) (*sqs.Client, error) {
	c, _, err := p.get(ctx, h, externalID, useOnce)
	return c, err
}

// acquire is client for a pipeline: the pool holds the client until
// release is called (once or more; the first call counts). When the last
// user of a client releases it, the pool drops the client, and the
// assumed-role credentials no other client of the pool uses. The client
// sends its batches on the lean path (see leanClient) unless
// ClientOptions.SDKSendPath is set.
func (p *ClientPool) acquire(ctx context.Context, h Hook, externalID string) (c SQSAPI, release func(), err error) {
	e, release, err := p.getEntry(ctx, h, externalID, useAcquire)
	if err != nil {
		return nil, nil, err
	}
	if e.lean != nil {
		return e.lean, release, nil
	}
	return e.c, release, nil
}

// get returns the client for h, held as u says; release is non-nil for
// useAcquire only.
func (p *ClientPool) get(ctx context.Context, h Hook, externalID string, u use) (*sqs.Client, func(), error) {
	e, release, err := p.getEntry(ctx, h, externalID, u)
	if err != nil {
		return nil, nil, err
	}
	return e.c, release, nil
}

// getEntry is get's work: the pool's entry for h (a new one that the pool
// does not keep for useOnce).
func (p *ClientPool) getEntry(ctx context.Context, h Hook, externalID string, u use) (*clientEntry, func(), error) {
	if p.endpointErr != nil {
		return nil, nil, p.endpointErr
	}
	key := clientKey{region: h.SQSRegion, auth: h.SQSAuthType}
	if p.endpoint == "" {
		key.endpoint = queueEndpointOf(h.SQSQueueURL)
	}
	switch h.SQSAuthType {
	case AuthKeys:
		key.keyID = maskKey(h.SQSKey)
		mac := hmac.New(sha256.New, p.salt[:])
		mac.Write([]byte(h.SQSKey))
		mac.Write([]byte{0})
		mac.Write([]byte(h.SQSSecret))
		mac.Sum(key.cred[:0])
	case AuthResource:
	case AuthRole:
		var err error
		if key.role, err = p.roleKeyOf(h, externalID); err != nil {
			return nil, nil, err
		}
	default:
		return nil, nil, fmt.Errorf("%w: hook %q: sqs_auth_type: unknown auth type %q", ErrInvalidHook, h.ID, h.SQSAuthType)
	}
	if h.SQSRegion == "" {
		return nil, nil, fmt.Errorf("%w: hook %q: sqs_region: required", ErrInvalidHook, h.ID)
	}

	p.mu.Lock()
	if e, ok := p.clients[key]; ok {
		release := p.holdLocked(key, e, u)
		p.mu.Unlock()
		return e, release, nil
	}
	p.mu.Unlock()

	var cfg aws.Config
	var role *roleEntry // held for the new entry (nil for useOnce)
	switch h.SQSAuthType {
	case AuthResource:
		base, err := p.defaultConfig(ctx)
		if err != nil {
			return nil, nil, err
		}
		cfg = base.Copy()
	case AuthRole:
		ru := useAcquire // one user: the client entry made below
		if u == useOnce {
			ru = useOnce
		}
		creds, r, err := p.roleCreds(ctx, h.SQSRegion, key.role, ru)
		if err != nil {
			return nil, nil, err
		}
		cfg, role = aws.Config{Credentials: creds}, r
	default:
		cfg = aws.Config{
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(h.SQSKey, h.SQSSecret, "")),
		}
	}
	cfg.Region = h.SQSRegion
	cfg.HTTPClient = p.httpClient
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.RetryMaxAttempts = 1
	endpoint, queueEndpoint := p.endpoint, key.endpoint
	c := sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
			return
		}
		queueEndpoint.apply(o)
	})

	p.mu.Lock()
	defer p.mu.Unlock()
	e, ok := p.clients[key]
	switch {
	case ok: // built meanwhile by another caller: share it
		if role != nil {
			p.dropRoleUserLocked(key.role, role)
		}
	case u == useOnce:
		return &clientEntry{c: c}, nil, nil
	default:
		e = &clientEntry{c: c, role: role}
		if !p.sdkSend {
			e.lean = newLeanClient(c)
		}
		p.clients[key] = e
		p.clientsPeak = max(p.clientsPeak, len(p.clients))
	}
	return e, p.holdLocked(key, e, u), nil
}

// holdLocked records a use of e; p.mu is held. For useAcquire it returns
// the release function, which gives the use back once however often it is
// called.
func (p *ClientPool) holdLocked(key clientKey, e *clientEntry, u use) func() {
	switch u {
	case usePin:
		e.pinned = true
	case useAcquire:
		e.users++
		var once sync.Once
		return func() { once.Do(func() { p.release(key, e) }) }
	}
	return nil
}

// release gives back a use of e: an entry that nobody uses any more leaves
// the pool, and so do its role's credentials when no other client uses
// them.
func (p *ClientPool) release(key clientKey, e *clientEntry) {
	p.mu.Lock()
	defer p.mu.Unlock()
	e.users--
	if e.users > 0 || e.pinned {
		return
	}
	if p.clients[key] == e {
		delete(p.clients, key)
		p.clients = shrink(p.clients, &p.clientsPeak)
	}
	if e.role != nil {
		p.dropRoleUserLocked(key.role, e.role)
		e.role = nil
	}
}

// dropRoleUserLocked gives back a client's use of a role's credentials;
// p.mu is held.
func (p *ClientPool) dropRoleUserLocked(key roleKey, r *roleEntry) {
	r.users--
	if r.users <= 0 && !r.pinned && p.roles[key] == r {
		delete(p.roles, key)
		p.roles = shrink(p.roles, &p.rolesPeak)
	}
}

// shrinkMin is the smallest peak of entries after which shrink copies a
// map.
const shrinkMin = 64

// shrink returns m, or a copy of it when removals have left it at a
// quarter of the most it held since it was made (*peak, which it then
// resets): a Go map keeps the room of removed entries, and the pool's
// would otherwise stay as large as they ever were. Each copy follows at
// least three times as many removals as it copies entries.
func shrink[K comparable, V any](m map[K]V, peak *int) map[K]V {
	if *peak < shrinkMin || len(m)*4 > *peak {
		return m
	}
	n := make(map[K]V, len(m))
	maps.Copy(n, m)
	*peak = len(n)
	return n
}

// entries returns the number of clients and of assumed roles the pool
// holds.
func (p *ClientPool) entries() (clients, roles int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients), len(p.roles)
}

// roleKeyOf returns the role and ExternalId a "role" hook assumes.
func (p *ClientPool) roleKeyOf(h Hook, externalID string) (roleKey, error) {
	if h.SQSAuthType != AuthRole || h.SQSRoleARN == "" {
		return roleKey{}, fmt.Errorf("%w: hook %q: not a \"role\" hook with an sqs_role_arn", ErrInvalidHook, h.ID)
	}
	key := roleKey{arn: h.SQSRoleARN, externalID: externalID}
	if key.externalID == "" {
		return roleKey{}, fmt.Errorf("%w: hook %q: sqs_auth_type: \"role\" needs the ExternalId the server assigns (WithExternalID); none is configured", ErrInvalidHook, h.ID)
	}
	return key, nil
}

// RoleCredentials returns the credentials of a "role" hook: its role
// (h.SQSRoleARN) assumed through STS AssumeRole by the server's own identity
// with the ExternalId of ClientOptions.ExternalID and the session name
// RoleSessionName(externalID), cached and renewed RoleExpiryWindow before
// they expire, one renewal at a time. Every hook with the same role and
// ExternalId shares them, and the pool keeps them for its life. Nothing is
// called until the credentials are first retrieved; an AssumeRole failure
// then fails that call (the SDK's signing step) with the STS error.
func (p *ClientPool) RoleCredentials(ctx context.Context, h Hook) (*aws.CredentialsCache, error) {
	key, err := p.roleKeyOf(h, p.hookExternalID(h))
	if err != nil {
		return nil, err
	}
	c, _, err := p.roleCreds(ctx, h.SQSRegion, key, usePin)
	return c, err
}

// roleCredentials returns the credentials of a role for a one-off use such
// as a check: those a client of the pool holds, else new ones the pool
// does not keep.
func (p *ClientPool) roleCredentials(ctx context.Context, region string, key roleKey) (*aws.CredentialsCache, error) {
	c, _, err := p.roleCreds(ctx, region, key, useOnce)
	return c, err
}

// roleCreds returns a role's credentials, held as u says: useAcquire
// counts one user in the returned entry (which dropRoleUserLocked gives
// back); the entry is nil for useOnce.
func (p *ClientPool) roleCreds(ctx context.Context, region string, key roleKey, u use) (*aws.CredentialsCache, *roleEntry, error) {
	hold := func(r *roleEntry) {
		switch u {
		case usePin:
			r.pinned = true
		case useAcquire:
			r.users++
		}
	}
	p.mu.Lock()
	if r, ok := p.roles[key]; ok {
		hold(r)
		p.mu.Unlock()
		if u == useOnce {
			return r.creds, nil, nil
		}
		return r.creds, r, nil
	}
	p.mu.Unlock()
	client, err := p.stsClient(ctx, region)
	if err != nil {
		return nil, nil, err
	}
	provider := stscreds.NewAssumeRoleProvider(client, key.arn, func(o *stscreds.AssumeRoleOptions) {
		o.ExternalID = aws.String(key.externalID)
		o.RoleSessionName = RoleSessionName(key.externalID)
	})
	c := aws.NewCredentialsCache(provider, func(o *aws.CredentialsCacheOptions) { o.ExpiryWindow = p.window })
	p.mu.Lock()
	defer p.mu.Unlock()
	r, ok := p.roles[key]
	switch {
	case u == useOnce && ok:
		return r.creds, nil, nil
	case u == useOnce:
		return c, nil, nil
	case !ok:
		r = &roleEntry{creds: c}
		p.roles[key] = r
		p.rolesPeak = max(p.rolesPeak, len(p.roles))
	}
	hold(r)
	return r.creds, r, nil
}

// trustHint says what a refused AssumeRole needs from the customer's role.
func trustHint(externalID string) string {
	return fmt.Sprintf("the role must exist and its trust policy must allow this server's principal sts:AssumeRole with the condition StringEquals sts:ExternalId %q (TrustPolicy and sqshook policy -auth role write it)", externalID)
}

// RoleSessionName is the session name sqshook assumes roles with:
// "sqshook-", the ExternalId (by default the tenant id, see
// WithTenantExternalID) with the characters a session name may not hold
// replaced by '-' and cut to 45 characters, then '-' and the first 10 hex
// digits of the SHA-256 of the exact ExternalId. It shows in the
// customer's CloudTrail, naming the sender and the tenant: the readable
// part says which tenant, and the digest tells apart the ExternalIds that
// it would confuse ("tenant:b", "tenant/b" and "tenant-b"; long ids that
// differ past the cut). The name is at most 64 characters of AWS's set
// [\w+=,.@-].
func RoleSessionName(externalID string) string {
	const maxReadable = 64 - len("sqshook-") - 1 - 10
	b := []byte(externalID[:min(len(externalID), maxReadable)])
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_+=,.@-", c) >= 0) {
			b[i] = '-'
		}
	}
	return "sqshook-" + string(b) + "-" + tenantDigest(externalID)
}

// stsClient returns an STS client with the server's own identity, in
// region (AWS's regional STS endpoint), over the pool's HTTP client, with
// one attempt per call: sqshook's retry layer is the only one.
func (p *ClientPool) stsClient(ctx context.Context, region string) (*sts.Client, error) {
	if p.endpointErr != nil {
		return nil, p.endpointErr
	}
	base, err := p.defaultConfig(ctx)
	if err != nil {
		return nil, err
	}
	cfg := base.Copy()
	if region != "" {
		cfg.Region = region
	}
	cfg.HTTPClient = p.httpClient
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.RetryMaxAttempts = 1
	endpoint := p.stsEndpoint
	return sts.NewFromConfig(cfg, func(o *sts.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	}), nil
}

func (p *ClientPool) defaultConfig(ctx context.Context) (aws.Config, error) {
	p.cfgMu.Lock()
	defer p.cfgMu.Unlock()
	if p.defaultCfg != nil {
		return *p.defaultCfg, nil
	}
	// A failure is not kept: the next call tries again (the caller's context
	// may have been the cause).
	cfg, err := p.loadConfig(ctx)
	if err != nil {
		return aws.Config{}, fmt.Errorf("sqshook: loading the server's AWS configuration for \"resource\" and \"role\" hooks: %w", err)
	}
	p.defaultCfg = &cfg
	return cfg, nil
}

// CloseIdleConnections closes the idle connections of the pool's own
// transport (not of a ClientOptions.HTTPClient). A Dispatcher calls it when
// it closes; the pool stays usable.
func (p *ClientPool) CloseIdleConnections() {
	if p.transport != nil {
		p.transport.CloseIdleConnections()
	}
}

// String describes the pool: its endpoints and the number of clients and
// assumed roles it holds. It shows no credentials.
func (p *ClientPool) String() string {
	if p == nil {
		return "sqshook.ClientPool(nil)"
	}
	p.mu.Lock()
	clients, roles := len(p.clients), len(p.roles)
	p.mu.Unlock()
	return fmt.Sprintf("sqshook.ClientPool{Endpoint:%q STSEndpoint:%q Clients:%d Roles:%d}", p.endpoint, p.stsEndpoint, clients, roles)
}

// Format implements fmt.Formatter: every verb shows String, so that no
// verb prints the pool's fields (its client keys among them).
func (p *ClientPool) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", p.String())
		return
	}
	io.WriteString(f, p.String())
}

// LogValue implements slog.LogValuer: the pool is logged as String shows it.
func (p *ClientPool) LogValue() slog.Value { return slog.StringValue(p.String()) }

// Len returns the number of clients the pool holds: those in use by a
// pipeline, and those Client returned.
func (p *ClientPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}
