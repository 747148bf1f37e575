// sigv4.go owns the lean path's SigV4 signature: the Authorization header
// of the one request shape the lean path sends (POST to the endpoint the
// SDK resolved, no query, the awsJson1_0 headers and, with session
// credentials, the security token), computed as aws/signer/v4 computes it
// but with the derived signing key cached per secret, date, region and
// service and the canonical request and string to sign built in a buffer
// on the stack. Credentials stay the SDK's: the signer is given what the
// SDK client's provider retrieved.

package sqshook

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/smithy-go/encoding/httpbinding"
)

// sigv4Scope is what the signature of every request to one target shares.
type sigv4Scope struct {
	host    string // the Host header sent and signed (a default port stripped, as the SDK's signer does)
	uri     string // the canonical URI
	service string
	region  string
}

// newSigv4Scope returns the scope of requests to u, signed for service in
// region, or false when such a request is not of the shape sigv4Signer
// signs (a query, an opaque URL).
func newSigv4Scope(u *url.URL, service, region string) (*sigv4Scope, bool) {
	if u.RawQuery != "" || u.Opaque != "" || u.Host == "" {
		return nil, false
	}
	uri := u.EscapedPath()
	if uri == "" {
		uri = "/"
	}
	return &sigv4Scope{host: sigv4Host(u), uri: httpbinding.EscapePath(uri, false), service: service, region: region}, true
}

// sigv4Host is the Host header of a request to u: u's host without an
// empty port (as net/http sends it) and without the scheme's default port
// (as the SDK's signer rewrites it).
func sigv4Host(u *url.URL) string {
	host := u.Host
	if strings.LastIndex(host, ":") > strings.LastIndex(host, "]") {
		host = strings.TrimSuffix(host, ":")
	}
	colon := strings.IndexByte(host, ':')
	if colon < 0 {
		return host
	}
	var port string
	switch i := strings.Index(host, "]:"); {
	case i >= 0:
		port = host[i+2:]
	case strings.Contains(host, "]"):
		return host
	default:
		port = host[colon+1:]
	}
	scheme := strings.ToLower(u.Scheme)
	if port == "" || !(scheme == "http" && port == "80" || scheme == "https" && port == "443") {
		return host
	}
	if i := strings.IndexByte(host, ']'); i >= 0 {
		return strings.TrimPrefix(host[:i], "[")
	}
	return host[:colon]
}

var sigv4Bufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// sigv4Signer signs the lean path's requests. It is safe for concurrent
// use.
type sigv4Signer struct {
	key atomic.Pointer[sigv4Key] // the last key derived
}

// sigv4Key is a derived signing key and what it was derived from.
type sigv4Key struct {
	secret, date, region, service string
	key                           [sha256.Size]byte
}

// signingKey returns the signing key of secret on date (YYYYMMDD) for
// region and service, derived once and reused while they stay the same.
func (s *sigv4Signer) signingKey(secret, date, region, service string) *[sha256.Size]byte {
	if k := s.key.Load(); k != nil && k.secret == secret && k.date == date && k.region == region && k.service == service {
		return &k.key
	}
	k := &sigv4Key{secret: secret, date: date, region: region, service: service}
	mac := func(key []byte, data string) []byte {
		h := hmac.New(sha256.New, key)
		h.Write([]byte(data))
		return h.Sum(nil)
	}
	copy(k.key[:], mac(mac(mac(mac([]byte("AWS4"+secret), date), region), service), "aws4_request"))
	s.key.Store(k)
	return &k.key
}

// Signed headers and their fixed values, in canonical order.
const (
	sigv4Algorithm   = "AWS4-HMAC-SHA256"
	sigv4ContentType = "application/x-amz-json-1.0"
	sigv4Target      = "AmazonSQS.SendMessageBatch"
	sigv4QueryMode   = "true"
)

// sigv4SignedHeaders are the SignedHeaders of a request with and without
// a body ([length > 0]) and a session token ([token]).
var sigv4SignedHeaders = [2][2]string{
	{"content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode", "content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amzn-query-mode"},
	{"content-length;content-type;host;x-amz-date;x-amz-target;x-amzn-query-mode", "content-length;content-type;host;x-amz-date;x-amz-security-token;x-amz-target;x-amzn-query-mode"},
}

// sigv4Signature is a signed request's headers: X-Amz-Date and
// Authorization, in one allocation.
type sigv4Signature struct {
	vals [2]string // X-Amz-Date, Authorization
}

// sign returns the X-Amz-Date and Authorization headers of a request to
// sc of contentLength bytes whose payload has the SHA-256 payloadHash,
// signed with creds at t (and carrying creds.SessionToken in
// X-Amz-Security-Token when it is set); what aws/signer/v4's SignHTTP
// writes for that request.
func (s *sigv4Signer) sign(sc *sigv4Scope, creds aws.Credentials, t time.Time, contentLength int64, payloadHash *[sha256.Size]byte) *sigv4Signature {
	var dateBuf [16]byte
	amzDate := sigv4AppendTime(dateBuf[:0], t.UTC())
	date := amzDate[:8]

	// A pooled buffer rather than one on the stack: sending goroutines
	// start with small stacks, and a large frame here made them grow.
	buf := sigv4Bufs.Get().(*[]byte)
	defer sigv4Bufs.Put(buf)
	b := (*buf)[:0]
	defer func() {
		if cap(b) <= 4<<10 {
			*buf = b[:0]
		}
	}()
	// The canonical request.
	b = append(b, "POST\n"...)
	b = append(b, sc.uri...)
	b = append(b, "\n\n"...)
	if contentLength > 0 {
		b = append(b, "content-length:"...)
		b = strconv.AppendInt(b, contentLength, 10)
		b = append(b, '\n')
	}
	b = append(b, "content-type:"+sigv4ContentType+"\nhost:"...)
	b = append(b, sigv4StripExcessSpaces(sc.host)...)
	b = append(b, "\nx-amz-date:"...)
	b = append(b, amzDate...)
	if creds.SessionToken != "" {
		b = append(b, "\nx-amz-security-token:"...)
		b = append(b, strings.TrimSpace(sigv4StripExcessSpaces(creds.SessionToken))...)
	}
	signed := sigv4SignedHeaders[b2i(contentLength > 0)][b2i(creds.SessionToken != "")]
	b = append(b, "\nx-amz-target:"+sigv4Target+"\nx-amzn-query-mode:"+sigv4QueryMode+"\n\n"...)
	b = append(b, signed...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, payloadHash[:])
	canonical := sha256.Sum256(b)

	// The string to sign, after HMAC's inner pad (see sigv4HMAC).
	key := s.signingKey(creds.SecretAccessKey, string(date), sc.region, sc.service)
	b = append(b[:0], make([]byte, sha256.BlockSize)...)
	b = append(b, sigv4Algorithm+"\n"...)
	b = append(b, amzDate...)
	b = append(b, '\n')
	scope := len(b)
	b = append(b, date...)
	b = append(b, '/')
	b = append(b, sc.region...)
	b = append(b, '/')
	b = append(b, sc.service...)
	b = append(b, "/aws4_request"...)
	scopeEnd := len(b)
	b = append(b, '\n')
	b = hex.AppendEncode(b, canonical[:])
	sig := sigv4HMAC(key, b)

	// Both headers in one string.
	out := make([]byte, 0, len(amzDate)+len(sigv4Algorithm)+len(" Credential=/")+len(creds.AccessKeyID)+
		(scopeEnd-scope)+len(", SignedHeaders=")+len(signed)+len(", Signature=")+2*sha256.Size)
	out = append(out, amzDate...)
	out = append(out, sigv4Algorithm+" Credential="...)
	out = append(out, creds.AccessKeyID...)
	out = append(out, '/')
	out = append(out, b[scope:scopeEnd]...)
	out = append(out, ", SignedHeaders="...)
	out = append(out, signed...)
	out = append(out, ", Signature="...)
	out = hex.AppendEncode(out, sig[:])
	all := string(out)
	return &sigv4Signature{vals: [2]string{all[:len(amzDate)], all[len(amzDate):]}}
}

// setHeaders sets the signature's headers (and, for session credentials,
// the security token) on h.
func (g *sigv4Signature) setHeaders(h http.Header, creds aws.Credentials) {
	h["X-Amz-Date"] = g.vals[0:1:1]
	h["Authorization"] = g.vals[1:2:2]
	if creds.SessionToken != "" {
		h["X-Amz-Security-Token"] = []string{creds.SessionToken}
	}
}

// sigv4HMAC returns HMAC-SHA256 of a message under key: b holds
// sha256.BlockSize bytes of room, then the message; b is overwritten.
func sigv4HMAC(key *[sha256.Size]byte, b []byte) [sha256.Size]byte {
	for i := range sha256.BlockSize {
		b[i] = 0x36
	}
	for i, k := range key {
		b[i] ^= k
	}
	inner := sha256.Sum256(b)
	var outer [sha256.BlockSize + sha256.Size]byte
	for i := range sha256.BlockSize {
		outer[i] = 0x5c
	}
	for i, k := range key {
		outer[i] ^= k
	}
	copy(outer[sha256.BlockSize:], inner[:])
	return sha256.Sum256(outer[:])
}

// sigv4AppendTime appends t in SigV4's basic format, 20060102T150405Z.
func sigv4AppendTime(b []byte, t time.Time) []byte {
	y, mo, d := t.Date()
	if y < 1000 || y > 9999 {
		return t.AppendFormat(b, "20060102T150405Z")
	}
	h, mi, s := t.Clock()
	two := func(b []byte, v int) []byte { return append(b, byte('0'+v/10), byte('0'+v%10)) }
	b = two(two(b, y/100), y%100)
	b = two(two(b, int(mo)), d)
	b = append(b, 'T')
	b = two(two(two(b, h), mi), s)
	return append(b, 'Z')
}

// sigv4StripExcessSpaces trims the spaces around s and folds runs of
// spaces inside it into one, as the SDK's signer does to header values.
func sigv4StripExcessSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' && i > 0 && s[i-1] == ' ' {
			continue
		}
		b = append(b, s[i])
	}
	return string(b)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
