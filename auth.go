package sqshook

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
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

// Environment variables read by ResolveEndpoint, in order.
const (
	EnvEndpointSQS = "AWS_ENDPOINT_URL_SQS"
	EnvEndpoint    = "AWS_ENDPOINT_URL"
)

// ClientOptions configures a ClientPool. The zero value is ready to use:
// AWS's endpoints (or the endpoint from the environment), a shared transport
// with DefaultMaxIdleConnsPerHost idle connections per host, and the default
// credential chain for "resource" hooks.
type ClientOptions struct {
	// Endpoint overrides the SQS endpoint for every client (an emulator, a
	// proxy or a VPC endpoint). Empty means ResolveEndpoint("").
	Endpoint string

	// MaxIdleConnsPerHost sizes the shared HTTP transport so that every
	// in-flight call can reuse a connection. 0 means
	// DefaultMaxIdleConnsPerHost. Ignored when HTTPClient is set.
	MaxIdleConnsPerHost int

	// HTTPClient, when set, is used by every client as is.
	HTTPClient aws.HTTPClient

	// LoadDefaultConfig loads the server's own AWS configuration for
	// "resource" hooks. Nil means config.LoadDefaultConfig. It is called at
	// most once per pool after a success; a test seam.
	LoadDefaultConfig func(ctx context.Context) (aws.Config, error)
}

// ResolveEndpoint returns endpoint if it is not empty, else the value of
// AWS_ENDPOINT_URL_SQS, else AWS_ENDPOINT_URL, else "" (AWS's own endpoints).
func ResolveEndpoint(endpoint string) string {
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
// A ClientPool is safe for concurrent use. Its zero value is not usable; call
// NewClientPool.
type ClientPool struct {
	endpoint   string
	httpClient aws.HTTPClient
	transport  *http.Transport // the pool's own; nil when ClientOptions.HTTPClient is used
	loadConfig func(ctx context.Context) (aws.Config, error)

	mu      sync.Mutex
	clients map[clientKey]*sqs.Client

	cfgMu      sync.Mutex // serialises loading the default configuration
	defaultCfg *aws.Config
}

// clientKey identifies a client. It holds a digest of the secret, never the
// secret itself.
type clientKey struct {
	region, auth, keyID string
	secret              [sha256.Size]byte
}

// NewClientPool returns a pool configured by opts.
func NewClientPool(opts ClientOptions) *ClientPool {
	p := &ClientPool{
		endpoint:   ResolveEndpoint(opts.Endpoint),
		httpClient: opts.HTTPClient,
		loadConfig: opts.LoadDefaultConfig,
		clients:    make(map[clientKey]*sqs.Client),
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

// Client returns the shared client for h's region and credentials. "keys"
// hooks get static credentials wrapped in aws.NewCredentialsCache; "resource"
// hooks get the server's own identity from the default credential chain
// (environment, shared config, web identity, container or instance role).
// Errors never contain the secret.
func (p *ClientPool) Client(ctx context.Context, h Hook) (*sqs.Client, error) {
	key := clientKey{region: h.SQSRegion, auth: h.SQSAuthType}
	switch h.SQSAuthType {
	case AuthKeys:
		key.keyID = h.SQSKey
		key.secret = sha256.Sum256([]byte(h.SQSSecret))
	case AuthResource:
	default:
		return nil, fmt.Errorf("%w: hook %q: sqs_auth_type: unknown auth type %q", ErrInvalidHook, h.ID, h.SQSAuthType)
	}
	if h.SQSRegion == "" {
		return nil, fmt.Errorf("%w: hook %q: sqs_region: required", ErrInvalidHook, h.ID)
	}

	p.mu.Lock()
	c, ok := p.clients[key]
	p.mu.Unlock()
	if ok {
		return c, nil
	}

	var cfg aws.Config
	if h.SQSAuthType == AuthResource {
		base, err := p.defaultConfig(ctx)
		if err != nil {
			return nil, err
		}
		cfg = base.Copy()
	} else {
		cfg = aws.Config{
			Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(h.SQSKey, h.SQSSecret, "")),
		}
	}
	cfg.Region = h.SQSRegion
	cfg.HTTPClient = p.httpClient
	cfg.Retryer = func() aws.Retryer { return aws.NopRetryer{} }
	cfg.RetryMaxAttempts = 1
	endpoint := p.endpoint
	c = sqs.NewFromConfig(cfg, func(o *sqs.Options) {
		if endpoint != "" {
			o.BaseEndpoint = aws.String(endpoint)
		}
	})

	p.mu.Lock()
	defer p.mu.Unlock()
	if existing, ok := p.clients[key]; ok {
		return existing, nil
	}
	p.clients[key] = c
	return c, nil
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
		return aws.Config{}, fmt.Errorf("sqshook: loading the server's AWS configuration for \"resource\" hooks: %w", err)
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

// Len returns the number of distinct clients built so far.
func (p *ClientPool) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.clients)
}
