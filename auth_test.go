// auth_test.go tests that New refuses cleartext endpoints off loopback.

package sqshook_test

import (
	"strings"
	"testing"

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
