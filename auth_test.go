// auth_test.go tests the endpoint rules of client building.

package sqshook_test

import (
	"strings"
	"testing"

	"github.com/sqshook/sqshook"
)

func TestCheckEndpoint(t *testing.T) {
	cases := []struct {
		endpoint  string
		cleartext bool
		want      string // "" : accepted
	}{
		{"", false, ""},
		{"https://sqs.eu-west-1.amazonaws.com", false, ""},
		{"https://vpce-0a1b2c3d.sqs.us-east-1.vpce.amazonaws.com", false, ""},
		{"http://127.0.0.1:4566", false, ""},
		{"http://localhost:9324", false, ""},
		{"http://[::1]:9324", false, ""},
		{"http://10.0.0.5:4566", false, "http is allowed only on loopback addresses"},
		{"http://sqs.internal.example.com", false, "http is allowed only on loopback addresses"},
		{"http://127.0.0.1.nip.io:4566", false, "http is allowed only on loopback addresses"},
		{"http://10.0.0.5:4566", true, ""},
		{"https://user:secret@proxy.example.com", false, "must not carry user info"},
		{"https://proxy.example.com/?x=1", false, "must not have a query or fragment"},
		{"https://proxy.example.com/#frag", false, "must not have a query or fragment"},
		{"ftp://proxy.example.com", false, "scheme must be https"},
		{"proxy.example.com:443", false, "not an absolute URL"},
		{"/relative", false, "not an absolute URL"},
	}
	for _, c := range cases {
		err := sqshook.CheckEndpoint(c.endpoint, c.cleartext)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("CheckEndpoint(%q, %v) = %v, want nil", c.endpoint, c.cleartext, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("CheckEndpoint(%q, %v) = %v, want an error containing %q", c.endpoint, c.cleartext, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the URL's password", err)
		}
	}
}

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
