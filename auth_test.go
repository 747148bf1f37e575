// auth_test.go tests the endpoints clients send to: New refuses cleartext
// endpoints off loopback, and a client sends where its queue URL says.

package sqshook_test

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"

	"github.com/sqshook/sqshook"
)

// Credentials are never signed onto a cleartext connection to another
// host: New refuses such endpoints, from options and from the environment,
// unless the loudly named option allows them.
func TestNewRefusesCleartextEndpoints(t *testing.T) {
	h := hookFor("h", "q")
	if _, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithEndpoint("http://10.1.2.3:4566")); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("New with a cleartext LAN endpoint: %v", err)
	}
	t.Setenv(sqshook.EnvEndpointSQS, "http://sqs.example.com")
	if _, err := sqshook.New([]sqshook.Hook{h}); err == nil || !strings.Contains(err.Error(), "sqs.example.com") {
		t.Errorf("New with a cleartext endpoint from %s: %v", sqshook.EnvEndpointSQS, err)
	}
	t.Setenv(sqshook.EnvEndpointSQS, "")
	co := sqshook.ClientOptions{STSEndpoint: "http://sts.example.com"}
	if _, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithClientOptions(co)); err == nil || !strings.Contains(err.Error(), "sts.example.com") {
		t.Errorf("New with a cleartext STS endpoint: %v", err)
	}
	d, err := sqshook.New([]sqshook.Hook{h}, sqshook.WithEndpoint("http://10.1.2.3:4566"), sqshook.WithInsecureCleartextEndpoint())
	if err != nil {
		t.Fatalf("New with WithInsecureCleartextEndpoint: %v", err)
	}
	d.Close(t.Context())
	pool := sqshook.NewClientPool(sqshook.ClientOptions{Endpoint: "http://10.1.2.3:4566"})
	if _, err := pool.Client(t.Context(), h); err == nil || !strings.Contains(err.Error(), "loopback") {
		t.Errorf("ClientPool.Client with a cleartext endpoint: %v", err)
	}
}

// recordingClient records the host of every request and fails it.
type recordingClient struct {
	mu    sync.Mutex
	hosts []string
}

func (r *recordingClient) Do(req *http.Request) (*http.Response, error) {
	r.mu.Lock()
	r.hosts = append(r.hosts, req.URL.Host)
	r.mu.Unlock()
	return nil, errors.New("recorded")
}

func (r *recordingClient) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	h := r.hosts
	r.hosts = nil
	return h
}

// TestClientSendsWhereTheQueueURLSays: each accepted queue URL form reaches
// the endpoint it names — FIPS and dual-stack through the SDK's endpoint
// options, an interface VPC endpoint through its own host — and nothing
// else does: standard and legacy URLs go to the region's standard
// endpoint, a URL that is not an SQS URL never reaches its host, and an
// endpoint override wins over every form.
func TestClientSendsWhereTheQueueURLSays(t *testing.T) {
	t.Setenv(sqshook.EnvEndpointSQS, "")
	t.Setenv(sqshook.EnvEndpoint, "")
	const vpce = "vpce-0a1b2c3d4e5f60718-abcd1234.sqs.us-east-1.vpce.amazonaws.com"
	cases := []struct {
		url, region, want string
	}{
		{"https://sqs.us-east-1.amazonaws.com/123456789012/q", "us-east-1", "sqs.us-east-1.amazonaws.com"},
		{"https://sqs-fips.us-east-1.amazonaws.com/123456789012/q", "us-east-1", "sqs-fips.us-east-1.amazonaws.com"},
		{"https://sqs-fips.ca-central-1.amazonaws.com/123456789012/q", "ca-central-1", "sqs-fips.ca-central-1.amazonaws.com"},
		{"https://sqs.us-east-1.api.aws/123456789012/q", "us-east-1", "sqs.us-east-1.api.aws"},
		{"https://sqs-fips.us-east-1.api.aws/123456789012/q", "us-east-1", "sqs-fips.us-east-1.api.aws"},
		{"https://" + vpce + "/123456789012/q", "us-east-1", vpce},
		{"https://VPCE-0A1B2C3D4E5F60718-ABCD1234-us-east-1a.sqs.us-east-1.vpce.amazonaws.com/123456789012/q", "us-east-1", "vpce-0a1b2c3d4e5f60718-abcd1234-us-east-1a.sqs.us-east-1.vpce.amazonaws.com"},
		{"https://sqs.cn-north-1.amazonaws.com.cn/123456789012/q", "cn-north-1", "sqs.cn-north-1.amazonaws.com.cn"},
		{"https://sqs.us-gov-west-1.amazonaws.com/123456789012/q", "us-gov-west-1", "sqs.us-gov-west-1.amazonaws.com"},
		{"https://queue.amazonaws.com/123456789012/q", "us-east-1", "sqs.us-east-1.amazonaws.com"},
		{"https://us-west-2.queue.amazonaws.com/123456789012/q", "us-west-2", "sqs.us-west-2.amazonaws.com"},
		// Not accepted: the host is never contacted.
		{"https://evil.example.com/123456789012/q", "us-east-1", "sqs.us-east-1.amazonaws.com"},
		{"https://vpce-0a1b2c3d.sqs.us-east-1.vpce.evil.example.com/123456789012/q", "us-east-1", "sqs.us-east-1.amazonaws.com"},
	}
	rec := &recordingClient{}
	pool := sqshook.NewClientPool(sqshook.ClientOptions{HTTPClient: rec})
	override := sqshook.NewClientPool(sqshook.ClientOptions{HTTPClient: rec, Endpoint: "https://proxy.example.net"})
	send := func(p *sqshook.ClientPool, h sqshook.Hook) []string {
		t.Helper()
		c, err := p.Client(context.Background(), h)
		if err != nil {
			t.Fatalf("Client(%s): %v", h.SQSQueueURL, err)
		}
		_, _ = c.SendMessageBatch(context.Background(), &sqs.SendMessageBatchInput{
			QueueUrl: aws.String(h.SQSQueueURL),
			Entries:  []types.SendMessageBatchRequestEntry{{Id: aws.String("0"), MessageBody: aws.String("{}")}},
		})
		return rec.take()
	}
	for _, c := range cases {
		h := sqshook.Hook{ID: "h", Enabled: true, HookType: "sqs", SQSQueueURL: c.url, SQSRegion: c.region,
			SQSAuthType: sqshook.AuthKeys, SQSKey: "AKIAENDPOINTTEST0000", SQSSecret: "secret"}
		if got := send(pool, h); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s: requests went to %v; want exactly one to %s", c.url, got, c.want)
		}
		if got := send(override, h); len(got) != 1 || got[0] != "proxy.example.net" {
			t.Errorf("%s with an endpoint override: requests went to %v; want exactly one to proxy.example.net", c.url, got)
		}
	}
}
