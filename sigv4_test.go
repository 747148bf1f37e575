// sigv4_test.go proves the lean path's SigV4 signer against the SDK's
// (aws/signer/v4): the same headers, byte for byte, for every endpoint
// kind, credential kind, time and body.

package sqshook

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// sigv4Endpoints are queue endpoints of every kind the SDK resolves (and
// overrides), with the region they sign for.
var sigv4Endpoints = []struct{ url, region string }{
	{"https://sqs.us-east-1.amazonaws.com/", "us-east-1"},
	{"https://sqs.us-east-1.amazonaws.com", "us-east-1"},
	{"https://sqs-fips.us-east-1.amazonaws.com/", "us-east-1"},
	{"https://sqs-fips.us-gov-west-1.amazonaws.com/", "us-gov-west-1"},
	{"https://sqs.us-gov-east-1.amazonaws.com/", "us-gov-east-1"},
	{"https://sqs.us-east-2.api.aws/", "us-east-2"},
	{"https://sqs-fips.us-east-1.api.aws/", "us-east-1"},
	{"https://vpce-0123456789abcdef0-abcdefgh.sqs.eu-west-1.vpce.amazonaws.com/", "eu-west-1"},
	{"https://sqs.cn-north-1.amazonaws.com.cn/", "cn-north-1"},
	{"https://sqs.cn-northwest-1.api.amazonwebservices.com.cn/", "cn-northwest-1"},
	{"https://sqs.us-iso-east-1.c2s.ic.gov/", "us-iso-east-1"},
	{"https://sqs.ap-southeast-5.amazonaws.com:443/", "ap-southeast-5"},
	{"http://sqs.eu-central-2.amazonaws.com:80/", "eu-central-2"},
	{"http://127.0.0.1:4566/", "us-east-1"},
	{"http://localhost:9324/", "elasticmq"},
	{"http://[::1]:4566/", "us-east-1"},
	{"https://[::1]:443/", "us-east-1"},
	{"https://proxy.example.com:8443/sqs/", "eu-west-3"},
	{"https://proxy.example.com/a%2Fb/with space/é/", "eu-west-3"},
}

// sigv4Compare signs one request to endpoint with the SDK's signer and
// one with s, and returns how they differ ("" when they do not).
func sigv4Compare(t testing.TB, s *sigv4Signer, endpoint, region string, creds aws.Credentials, now time.Time, body []byte) string {
	tg := &leanTarget{url: endpoint, userAgent: "aws-sdk-go-v2/1.0 ua/2.1 os/linux lang/go#1.26 m/E", signName: "sqs", signRegion: region}
	if err := tg.prepare(); err != nil {
		t.Fatalf("%s: %v", endpoint, err)
	}
	sc, ok := newSigv4Scope(&tg.u, tg.signName, tg.signRegion)
	if !ok {
		t.Fatalf("%s: the lean signer does not cover it", endpoint)
	}
	sum := sha256.Sum256(body)
	want, err1 := tg.request(context.Background(), http.NoBody, int64(len(body)))
	got, err2 := tg.request(context.Background(), http.NoBody, int64(len(body)))
	if err1 != nil || err2 != nil {
		t.Fatal(err1, err2)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, want, hex.EncodeToString(sum[:]), "sqs", region, now); err != nil {
		t.Fatal(err)
	}
	signLean(s, sc, got, creds, &sum, now)
	var diffs []string
	if want.Host != got.Host {
		diffs = append(diffs, fmt.Sprintf("Host %q, SDK's %q", got.Host, want.Host))
	}
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range want.Header {
			yield(k)
		}
		for k := range got.Header {
			if _, ok := want.Header[k]; !ok {
				yield(k)
			}
		}
	}) {
		if !slices.Equal(want.Header[k], got.Header[k]) {
			diffs = append(diffs, fmt.Sprintf("%s %q, SDK's %q", k, got.Header[k], want.Header[k]))
		}
	}
	return strings.Join(diffs, "; ")
}

// TestSigV4MatchesSDK: random credentials with and without a session
// token, times around midnight and anywhere else, every endpoint kind and
// random bodies give the SDK's headers byte for byte, with one signer (so
// that its cached key is reused and replaced) across all of them; and the
// lean path signs requests to every one of those endpoints itself.
func TestSigV4MatchesSDK(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	var s sigv4Signer
	str := func(n int, alphabet string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		return string(b)
	}
	const b64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="
	midnight := time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)
	secret := str(40, b64)
	for i := range 2000 {
		e := sigv4Endpoints[i%len(sigv4Endpoints)]
		if i%50 == 0 {
			secret = str(40, b64) // rotated: the same key id below, another secret
		}
		creds := aws.Credentials{AccessKeyID: "AKIA" + str(16, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"), SecretAccessKey: secret}
		if i%7 == 0 {
			creds.AccessKeyID = "AKIAFIXED"
		}
		switch i % 4 {
		case 1:
			creds.AccessKeyID = "ASIA" + creds.AccessKeyID[4:]
			creds.SessionToken = str(400+r.IntN(800), b64)
		case 2:
			creds.SessionToken = " tok  en " + str(10, b64) + "   "
		}
		var now time.Time
		switch i % 3 {
		case 0: // across midnight, in order: the key of the day before, then the new day's
			now = midnight.Add(time.Duration(i/3%40-20) * time.Second / 4)
		case 1:
			now = time.Unix(r.Int64N(5e9), r.Int64N(1e9))
		default:
			now = time.Now().In(time.FixedZone("X", 5*3600+1800))
		}
		body := []byte(str(r.IntN(3000), `{}[]":,abc \u00e9`))
		if d := sigv4Compare(t, &s, e.url, e.region, creds, now, body); d != "" {
			t.Fatalf("%s at %s (token %t): %s", e.url, now, creds.SessionToken != "", d)
		}
	}
	for _, e := range sigv4Endpoints {
		tg := &leanTarget{url: e.url, userAgent: "ua", signName: "sqs", signRegion: e.region}
		if err := tg.prepare(); err != nil || tg.scope == nil {
			t.Errorf("%s: the lean path would sign with the SDK's signer (%v)", e.url, err)
		}
	}
}

// TestSigV4KeyCache: the derived key is reused for the same secret, date,
// region and service, and derived again when any of them changes.
func TestSigV4KeyCache(t *testing.T) {
	var s sigv4Signer
	k1 := s.signingKey("secret", "20261231", "us-east-1", "sqs")
	if k2 := s.signingKey("secret", "20261231", "us-east-1", "sqs"); k2 != k1 {
		t.Error("the same key was derived twice")
	}
	for _, c := range [][4]string{
		{"secret2", "20261231", "us-east-1", "sqs"},
		{"secret", "20270101", "us-east-1", "sqs"},
		{"secret", "20261231", "us-east-2", "sqs"},
		{"secret", "20261231", "us-east-1", "sns"},
	} {
		if k := s.signingKey(c[0], c[1], c[2], c[3]); *k == *k1 {
			t.Errorf("%v: the key of another scope", c)
		}
	}
}

// FuzzSigV4: the lean signer gives the SDK's headers for any credentials,
// time, region, body and endpoint it covers.
func FuzzSigV4(f *testing.F) {
	f.Add("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "", "us-east-1", int64(1767225599), "https://sqs.us-east-1.amazonaws.com/", []byte(`{"Entries":[]}`))
	f.Add("ASIAEXAMPLE", "s", "  a  b ", "cn-north-1", int64(1767225600), "https://sqs.cn-north-1.amazonaws.com.cn:443/x y/", []byte{})
	f.Add("AKID", "secret", "token", "us-gov-west-1", int64(-1), "http://[::1]:80/", []byte("x"))
	var s sigv4Signer
	f.Fuzz(func(t *testing.T, akid, secret, token, region string, unix int64, endpoint string, body []byte) {
		tg := &leanTarget{url: endpoint, userAgent: "ua", signName: "sqs", signRegion: region}
		if tg.prepare() != nil {
			return
		}
		if _, ok := newSigv4Scope(&tg.u, "sqs", region); !ok {
			return
		}
		now := time.Unix(unix%(1<<40), 0)
		creds := aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret, SessionToken: token}
		if d := sigv4Compare(t, &s, endpoint, region, creds, now, body); d != "" {
			t.Fatalf("%s at %s: %s", endpoint, now, d)
		}
	})
}
