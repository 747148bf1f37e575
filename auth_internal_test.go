// auth_internal_test.go tests the endpoint rule of client building.

package sqshook

import (
	"strings"
	"testing"
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
		err := checkEndpoint(c.endpoint, c.cleartext)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("checkEndpoint(%q, %v) = %v, want nil", c.endpoint, c.cleartext, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("checkEndpoint(%q, %v) = %v, want an error containing %q", c.endpoint, c.cleartext, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the URL's password", err)
		}
	}
}
