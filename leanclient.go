// leanclient.go owns the lean SendMessageBatch path: the request body
// encoded by hand from the batch into a reused buffer, signed and sent
// without the SDK's middleware stack, the response checked for what
// settlement needs. The SDK keeps credentials, signing, endpoint
// resolution and the decoding of error responses.

package sqshook

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/bits"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/aws-sdk-go-v2/service/sqs/schemas"
	"github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// leanClient is an SQS client whose SendMessageBatch skips the SDK's
// per-call middleware stack; every other call is the SDK client's.
//
// What the SDK decides stays the SDK's: the first call (and every call
// until one succeeds) goes through the SDK client's own stack as far as the
// signed request (a probe that is never sent), which retrieves the
// credentials and resolves the endpoint exactly as the SDK does (FIPS,
// dual-stack, VPC endpoints, partitions, the endpoint override); the lean
// calls then send to that URL, signed with the SDK's SigV4 signer for the
// signing name and region the SDK chose, with the credentials the SDK
// client holds (a cache that refreshes them, assumed roles included).
// Error responses are decoded by the SDK's own protocol into the same
// error types and wrapping the SDK returns, so sqshook's classification is
// unchanged. A batch the lean encoder does not cover (list attribute
// values, system attributes, missing required members, per-call options)
// goes through the SDK client.
type leanClient struct {
	*sqs.Client

	creds  aws.CredentialsProvider
	http   aws.HTTPClient
	proto  smithyhttp.ClientProtocol
	signer *v4.Signer // for targets sigv4Signer does not cover
	sigv4  sigv4Signer

	mu     sync.Mutex
	target *leanTarget // nil until a probe succeeded
}

// leanTarget is where and how the SDK would send a SendMessageBatch call.
type leanTarget struct {
	url, userAgent       string
	signName, signRegion string
	headers              http.Header // the endpoint's own headers, if any

	u     url.URL     // url, parsed
	host  string      // the Host net/http sends to u
	ua    []string    // the User-Agent header
	scope *sigv4Scope // nil: the SDK's signer signs (see leanClient.probe)
}

// newLeanClient wraps c.
func newLeanClient(c *sqs.Client) *leanClient {
	o := c.Options()
	hc := o.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	return &leanClient{
		Client: c,
		creds:  o.Credentials,
		http:   hc,
		proto:  o.Protocol,
		signer: v4.NewSigner(),
	}
}

// sdkClient returns the SDK client behind c: c itself, or a leanClient's.
func sdkClient(c SQSAPI) SQSAPI {
	if l, ok := c.(*leanClient); ok {
		return l.Client
	}
	return c
}

var sendMessageBatchSchema = smithy.NewOperationSchema(schemas.SendMessageBatch, schemas.SendMessageBatchRequest, schemas.SendMessageBatchResult)

// errLeanProbe ends a probe call before it is sent.
var errLeanProbe = errors.New("sqshook: lean probe")

// leanProbe is a finalize middleware, last in its step: it records the
// signed request the SDK built and stops the call.
type leanProbe struct{ got *leanTarget }

func (*leanProbe) ID() string { return "SQSHookLeanProbe" }

func (p *leanProbe) HandleFinalize(_ context.Context, in middleware.FinalizeInput, _ middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, fmt.Errorf("sqshook: lean probe: unexpected request %T", in.Request)
	}
	name, region, ok := credentialScope(req.Header.Get("Authorization"))
	if !ok {
		return middleware.FinalizeOutput{}, middleware.Metadata{}, errors.New("sqshook: lean probe: the SDK's request is not signed with SigV4")
	}
	u := *req.URL
	u.RawQuery = ""
	t := &leanTarget{url: u.String(), userAgent: req.Header.Get("User-Agent"), signName: name, signRegion: region}
	for k, v := range req.Header {
		switch http.CanonicalHeaderKey(k) {
		case "Authorization", "X-Amz-Date", "X-Amz-Security-Token", "X-Amz-Content-Sha256", "User-Agent",
			"Content-Type", "Content-Length", "X-Amz-Target", "X-Amzn-Query-Mode",
			"Amz-Sdk-Invocation-Id", "Amz-Sdk-Request", "X-Amzn-Trace-Id":
			continue
		}
		if t.headers == nil {
			t.headers = http.Header{}
		}
		t.headers[k] = slices.Clone(v)
	}
	*p.got = *t
	return middleware.FinalizeOutput{}, middleware.Metadata{}, errLeanProbe
}

// credentialScope reads the signing name and region of a SigV4
// Authorization header ("AWS4-HMAC-SHA256 Credential=AKID/date/region/name/aws4_request, …").
func credentialScope(auth string) (name, region string, ok bool) {
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		return "", "", false
	}
	cred, _, _ = strings.Cut(cred, ",")
	parts := strings.Split(cred, "/")
	if len(parts) < 5 || parts[len(parts)-1] != "aws4_request" {
		return "", "", false
	}
	return parts[len(parts)-2], parts[len(parts)-3], true
}

// probe returns where the SDK sends SendMessageBatch calls, running the
// SDK's stack up to the signed request once; its errors are the SDK's
// (no credentials, an endpoint that cannot be resolved).
func (l *leanClient) probe(ctx context.Context, in *sqs.SendMessageBatchInput) (*leanTarget, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.target != nil {
		return l.target, nil
	}
	var got leanTarget
	_, err := l.Client.SendMessageBatch(ctx, in, func(o *sqs.Options) {
		o.APIOptions = append(o.APIOptions, func(s *middleware.Stack) error {
			return s.Finalize.Add(&leanProbe{got: &got}, middleware.After)
		})
	})
	if !errors.Is(err, errLeanProbe) {
		if err == nil {
			err = errors.New("sqshook: lean probe: the SDK sent the call")
		}
		return nil, err
	}
	if err := got.prepare(); err != nil {
		return nil, err
	}
	l.target = &got
	return l.target, nil
}

// prepare fills in what t's requests share: the parsed URL, the Host and
// User-Agent headers and, when sigv4Signer signs requests to t as the
// SDK's signer does, its scope.
func (t *leanTarget) prepare() error {
	u, err := url.Parse(t.url)
	if err != nil {
		return err
	}
	t.u = *u
	t.ua = []string{t.userAgent}
	tmpl, err := http.NewRequest(http.MethodPost, t.url, nil)
	if err != nil {
		return err
	}
	t.host = tmpl.Host
	if t.headers == nil {
		if sc, ok := newSigv4Scope(u, t.signName, t.signRegion); ok && t.sigv4Agrees(sc) {
			t.scope = sc
		}
	}
	return nil
}

// sigv4Agrees reports whether sigv4Signer signs a request to t as the
// SDK's signer does, with and without a session token: the lean path
// signs with sigv4Signer only where it does (and with the SDK's signer
// anywhere else).
func (t *leanTarget) sigv4Agrees(sc *sigv4Scope) bool {
	now := time.Now()
	body := []byte(`{}`)
	sum := sha256.Sum256(body)
	for _, token := range []string{"", "token"} {
		creds := aws.Credentials{AccessKeyID: "AKIDPROBE", SecretAccessKey: "probe", SessionToken: token}
		want, err1 := t.request(context.Background(), http.NoBody, int64(len(body)))
		got, err2 := t.request(context.Background(), http.NoBody, int64(len(body)))
		if err1 != nil || err2 != nil {
			return false
		}
		if v4.NewSigner().SignHTTP(context.Background(), creds, want, hex.EncodeToString(sum[:]), t.signName, t.signRegion, now.UTC()) != nil {
			return false
		}
		signLean(&sigv4Signer{}, sc, got, creds, &sum, now)
		if want.Host != got.Host || !maps.EqualFunc(want.Header, got.Header, slices.Equal) {
			return false
		}
	}
	return true
}

// request returns an unsigned request to t of body, n bytes long.
func (t *leanTarget) request(ctx context.Context, body io.ReadCloser, n int64) (*http.Request, error) {
	// The URL is t's, parsed once: the request is made with an empty one.
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "", nil)
	if err != nil {
		return nil, err
	}
	*req.URL = t.u
	req.Host = t.host
	req.Body = body
	req.ContentLength = n
	for k, v := range t.headers {
		req.Header[k] = v
	}
	req.Header["Content-Type"] = leanContentType
	req.Header["X-Amz-Target"] = leanTargetHeader
	req.Header["X-Amzn-Query-Mode"] = leanQueryMode
	req.Header["User-Agent"] = t.ua
	return req, nil
}

// signLean signs req, a request to sc, with s at now, as the SDK's
// signer would.
func signLean(s *sigv4Signer, sc *sigv4Scope, req *http.Request, creds aws.Credentials, payloadHash *[sha256.Size]byte, now time.Time) {
	req.Host = sc.host
	s.sign(sc, creds, now, req.ContentLength, payloadHash).setHeaders(req.Header, creds)
}

// leanBuf is a request body buffer, reused once both the call and the
// transport (which closes the request body, perhaps after the call
// returned) are done with it.
type leanBuf struct {
	b    []byte
	r    bytes.Reader
	refs int32 // guarded by leanBufMu
}

var (
	leanBufs  = sync.Pool{New: func() any { return &leanBuf{b: make([]byte, 0, 32<<10)} }}
	leanBufMu sync.Mutex
)

// release gives back one of the buffer's two users.
func (b *leanBuf) release() {
	leanBufMu.Lock()
	b.refs--
	done := b.refs == 0
	leanBufMu.Unlock()
	if done && cap(b.b) <= 2*MaxBatchBytesLimit {
		b.b = b.b[:0]
		b.r.Reset(nil)
		leanBufs.Put(b)
	}
}

// leanBody is a request body over a leanBuf.
type leanBody struct {
	b    *leanBuf
	once sync.Once
}

// Read reads the body. net/http flushes the headers first (it does not
// know this body to be in memory) and hands the body, through an
// io.LimitedReader, to the connection's ReadFrom: the shared transport's
// connections (leanConn) write it from its buffer with writeLimited; any
// other connection copies it through a buffer net/http allocates per
// request. Making it a known in-memory type (an io.NopCloser of a
// *bytes.Reader) would not tell when the transport is done with the
// buffer.
func (r *leanBody) Read(p []byte) (int, error) { return r.b.r.Read(p) }

// writeLimited writes what is left of the body, up to lr.N bytes, to w,
// and reads that much of it and of lr.
func (r *leanBody) writeLimited(w io.Writer, lr *io.LimitedReader) (int64, error) {
	rest := r.b.b[len(r.b.b)-r.b.r.Len():]
	if int64(len(rest)) > lr.N {
		rest = rest[:lr.N]
	}
	n, err := w.Write(rest)
	_, _ = r.b.r.Seek(int64(n), io.SeekCurrent)
	lr.N -= int64(n)
	return int64(n), err
}

func (r *leanBody) Close() error {
	r.once.Do(r.b.release)
	return nil
}

// leanSupported reports whether the lean encoder covers in: everything
// sqshook sends. Anything else goes through the SDK client, which also
// reports missing required members as the SDK does.
func leanSupported(in *sqs.SendMessageBatchInput) bool {
	if in == nil || in.QueueUrl == nil || len(in.Entries) == 0 {
		return false
	}
	for i := range in.Entries {
		e := &in.Entries[i]
		if e.Id == nil || e.MessageBody == nil || e.MessageSystemAttributes != nil {
			return false
		}
		for _, a := range e.MessageAttributes {
			if a.DataType == nil || a.StringListValues != nil || a.BinaryListValues != nil {
				return false
			}
		}
	}
	return true
}

// SendMessageBatch sends in as the SDK client would, without its
// per-call middleware stack; see leanClient.
func (l *leanClient) SendMessageBatch(ctx context.Context, in *sqs.SendMessageBatchInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageBatchOutput, error) {
	if len(optFns) > 0 {
		return l.Client.SendMessageBatch(ctx, in, optFns...)
	}
	out, _, err := l.sendBatch(ctx, in, nil, false)
	return out, err
}

// leanEntries is what the sender gives the lean path of a batch beyond
// the SDK's input, for the entries of in that it covers: each body's MD5,
// written on first use (entry i's body is the body of digests[i], see
// bodyDigest, so that a body's digest is computed once for every hook and
// attempt that sends it), and each entry's message attributes as views
// in name order, in place of the input's map, so that no map is built per
// call. Entries past n, or whose attrs are nil, use the input's own.
type leanEntries struct {
	n       int
	digests [MaxBatchEntries]*bodyDigest
	attrs   [MaxBatchEntries][]attrView
	store   [MaxBatchEntries][MaxMessageAttributes]attrView

	// The call's input and its entries, for the sender to fill: pooled
	// with the rest.
	in      sqs.SendMessageBatchInput
	entries [MaxBatchEntries]types.SendMessageBatchRequestEntry
}

var leanEntryPool = sync.Pool{New: func() any { return new(leanEntries) }}

// getLeanEntries returns an empty leanEntries for n entries; put it back
// with release once the call returned.
func getLeanEntries(n int) *leanEntries {
	le := leanEntryPool.Get().(*leanEntries)
	le.n = min(n, MaxBatchEntries)
	return le
}

func (le *leanEntries) release() {
	*le = leanEntries{}
	leanEntryPool.Put(le)
}

// digest returns entry i's body digest, or nil.
func (le *leanEntries) digest(i int) *bodyDigest {
	if le == nil || i >= le.n {
		return nil
	}
	return le.digests[i]
}

// views returns entry i's attributes in name order: le's, or else the
// map's, in scratch.
func (le *leanEntries) views(i int, e *types.SendMessageBatchRequestEntry, scratch []attrView) []attrView {
	if le != nil && i < le.n && le.attrs[i] != nil {
		return le.attrs[i]
	}
	return attrViewsOf(e.MessageAttributes, scratch)
}

// attrViewsOf returns the attributes of m in name order, in scratch (nil
// for a nil map).
func attrViewsOf(m map[string]types.MessageAttributeValue, scratch []attrView) []attrView {
	if m == nil {
		return nil
	}
	as := scratch[:0]
	for k, a := range m {
		as = append(as, attrView{name: k, dataType: a.DataType, value: a.StringValue, binary: a.BinaryValue})
	}
	sortAttrViews(as)
	return as
}

// fillInput sets the attribute maps of in's entries that le gives as
// views, for a call the SDK client makes.
func (le *leanEntries) fillInput(in *sqs.SendMessageBatchInput) {
	if le == nil {
		return
	}
	for i := 0; i < le.n && i < len(in.Entries); i++ {
		if le.attrs[i] == nil || in.Entries[i].MessageAttributes != nil {
			continue
		}
		m := make(map[string]types.MessageAttributeValue, len(le.attrs[i]))
		for _, a := range le.attrs[i] {
			m[a.name] = types.MessageAttributeValue{DataType: a.dataType, StringValue: a.value, BinaryValue: a.binary}
		}
		in.Entries[i].MessageAttributes = m
	}
}

// attrView is one message attribute as the lean encoder reads it; the
// pointers are nil for members not set, as in the SDK's type.
type attrView struct {
	name            string
	dataType, value *string
	binary          []byte
}

// sortAttrViews sorts as by name (insertion sort: ten at most).
func sortAttrViews(as []attrView) {
	for i := 1; i < len(as); i++ {
		for j := i; j > 0 && as[j].name < as[j-1].name; j-- {
			as[j], as[j-1] = as[j-1], as[j]
		}
	}
}

// sendBatch is SendMessageBatch with what le gives of the entries (nil:
// nothing). With pooled, a success it decodes itself is decoded into a
// reused leanResult, returned with it: the output's strings then point
// into the answer's buffer, and are valid until the caller releases the
// result (a failed entry's strings are copies, which settlement may keep).
func (l *leanClient) sendBatch(ctx context.Context, in *sqs.SendMessageBatchInput, le *leanEntries, pooled bool) (*sqs.SendMessageBatchOutput, *leanResult, error) {
	if in != nil && le != nil && le.n != len(in.Entries) {
		le.fillInput(in)
		le = nil
	}
	if !leanSupported(in) {
		le.fillInput(in)
		out, err := l.Client.SendMessageBatch(ctx, in)
		return out, nil, err
	}
	l.mu.Lock()
	t := l.target
	l.mu.Unlock()
	if t == nil {
		var err error
		if t, err = l.probe(ctx, in); err != nil {
			return nil, nil, err
		}
	}
	creds, err := l.creds.Retrieve(ctx)
	if err != nil {
		return nil, nil, leanOpError(fmt.Errorf("get identity: %w", fmt.Errorf("get credentials: %w", err)))
	}

	buf := leanBufs.Get().(*leanBuf)
	buf.refs = 2 // this call and the transport
	buf.b = appendSendMessageBatch(buf.b[:0], in, le)
	sum := sha256.Sum256(buf.b)
	buf.r.Reset(buf.b)
	body := &leanBody{b: buf}
	defer buf.release()

	req, err := t.request(ctx, body, int64(len(buf.b)))
	if err != nil {
		body.Close()
		return nil, nil, leanOpError(err)
	}
	if t.scope != nil {
		signLean(&l.sigv4, t.scope, req, creds, &sum, time.Now())
	} else if err := l.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), t.signName, t.signRegion, time.Now().UTC()); err != nil {
		body.Close()
		return nil, nil, leanOpError(fmt.Errorf("failed to sign request: %w", err))
	}

	resp, err := l.http.Do(req)
	if err != nil {
		err = &smithyhttp.RequestSendError{Err: err}
		if ctx.Err() != nil {
			err = &smithy.CanceledError{Err: ctx.Err()}
		}
		return nil, nil, leanOpError(&awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{Header: http.Header{}, Body: http.NoBody}}, Err: err}})
	}
	defer func() {
		io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
		resp.Body.Close()
	}()
	var out *sqs.SendMessageBatchOutput
	var res *leanResult
	sresp := &smithyhttp.Response{Response: resp}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// A success: decoded here when it has the shape SQS answers with,
		// else (and if it cannot be read) by the SDK from what was read.
		res = getLeanResult()
		rb := res.rb
		n, rerr := rb.ReadFrom(io.LimitReader(resp.Body, maxLeanResponse+1))
		if rerr == nil && n <= maxLeanResponse {
			if !pooled {
				out = decodeBatchResult(rb.Bytes()) // a result of its own
			} else if res.decode(bytesToString(rb.Bytes())) {
				out = &res.out
			}
		}
		if out == nil {
			resp.Body = &replayBody{r: bytes.NewReader(bytes.Clone(rb.Bytes())), err: rerr, rest: resp.Body}
		}
		if out != &res.out {
			res.release() // only its buffer served
			res = nil
		}
	}
	if out == nil {
		out = &sqs.SendMessageBatchOutput{}
		if err := l.proto.DeserializeResponse(ctx, sendMessageBatchSchema, sqs.TypeRegistry, sresp, out); err != nil {
			return nil, nil, leanOpError(&awshttp.ResponseError{
				ResponseError: &smithyhttp.ResponseError{Response: sresp, Err: err},
				RequestID:     resp.Header.Get("X-Amzn-Requestid"),
			})
		}
	}
	if err := checkBatchMD5(in, out, le); err != nil {
		res.release()
		return nil, nil, leanOpError(fmt.Errorf("message checksum validation failed, %w", err))
	}
	return out, res, nil
}

// maxLeanResponse bounds the success responses decoded by hand (ten
// entries take under 2 KiB); a larger one is the SDK's to decode.
const maxLeanResponse = 64 << 10

// leanResult is a decoded success and what it is made of, reused from
// call to call: the answer's bytes, which the strings point into when the
// result is pooled, the strings the output's fields point to, and the
// backing array of its successful entries.
type leanResult struct {
	out  sqs.SendMessageBatchOutput
	succ [MaxBatchEntries]types.SendMessageBatchResultEntry
	strs [leanResultStrings]string
	rb   *bytes.Buffer
}

// leanResultStrings is room for the strings of a full batch's answer: six
// per entry at most.
const leanResultStrings = 6 * MaxBatchEntries

var leanResults = sync.Pool{New: func() any {
	return &leanResult{rb: bytes.NewBuffer(make([]byte, 0, 4<<10))}
}}

// getLeanResult returns an empty leanResult; put it back with release.
func getLeanResult() *leanResult {
	r := leanResults.Get().(*leanResult)
	r.rb.Reset()
	return r
}

// release clears r and keeps it for another call, unless its buffer grew
// large (nil: nothing to do).
func (r *leanResult) release() {
	if r == nil {
		return
	}
	rb := r.rb
	*r = leanResult{rb: rb}
	if rb.Cap() <= 4*maxLeanResponse {
		leanResults.Put(r)
	}
}

// replayBody is a response body whose first bytes were read already: it
// reads them again, then the error reading stopped on, or the rest.
type replayBody struct {
	r    *bytes.Reader
	err  error
	rest io.ReadCloser
}

func (b *replayBody) Read(p []byte) (int, error) {
	if b.r.Len() > 0 {
		return b.r.Read(p)
	}
	if b.err != nil {
		return 0, b.err
	}
	return b.rest.Read(p)
}

func (b *replayBody) Close() error { return b.rest.Close() }

// decodeBatchResult decodes a SendMessageBatch success response of the
// shape SQS answers with: an object of "Successful" and "Failed" arrays of
// objects of the members of SendMessageBatchResultEntry and
// BatchResultErrorEntry, their strings printable ASCII without escapes
// and SenderFault a boolean, with any whitespace. It returns nil for
// anything else (an escape, a null, another member or type, an empty
// body), which the SDK's decoder reads instead, so that every answer is
// decoded as the SDK decodes it. The strings share one copy of b.
func decodeBatchResult(b []byte) *sqs.SendMessageBatchOutput {
	r := new(leanResult)
	if !r.decode(string(b)) {
		return nil
	}
	return &r.out
}

// decode decodes s into r as decodeBatchResult does, reporting whether it
// could: the successful entries and their strings live in r and point
// into s; the failed entries' strings are copies of their own, and their
// slice is allocated (settlement keeps them).
func (r *leanResult) decode(s string) bool {
	if len(s) == 0 {
		return false
	}
	objects := strings.Count(s, "{")
	d := batchResultDecoder{s: s, strs: r.strs[:0]}
	if 6*objects > len(r.strs) {
		d.strs = make([]string, 0, 6*objects)
	}
	out := &r.out
	if !d.next('{') {
		return false
	}
	for first := true; !d.next('}'); first = false {
		if !first && !d.next(',') {
			return false
		}
		key, ok := d.str()
		if !ok || !d.next(':') || !d.next('[') {
			return false
		}
		switch key {
		case "Successful":
			if out.Successful != nil {
				return false
			}
			out.Successful = r.succ[:0]
			if objects-1 > len(r.succ) {
				out.Successful = make([]types.SendMessageBatchResultEntry, 0, objects-1)
			}
		case "Failed":
			if out.Failed != nil {
				return false
			}
			out.Failed = []types.BatchResultErrorEntry{} // grown by failures only: most answers have none
		default:
			return false
		}
		for first := true; !d.next(']'); first = false {
			if !first && !d.next(',') || !d.next('{') {
				return false
			}
			var r types.SendMessageBatchResultEntry
			var f types.BatchResultErrorEntry
			for first := true; !d.next('}'); first = false {
				if !first && !d.next(',') {
					return false
				}
				name, ok := d.str()
				if !ok || !d.next(':') {
					return false
				}
				if key == "Failed" && name == "SenderFault" {
					if f.SenderFault, ok = d.boolean(); !ok {
						return false
					}
					continue
				}
				v := d.strPtr()
				if v == nil {
					return false
				}
				var field **string
				if key == "Successful" {
					switch name {
					case "Id":
						field = &r.Id
					case "MessageId":
						field = &r.MessageId
					case "MD5OfMessageBody":
						field = &r.MD5OfMessageBody
					case "MD5OfMessageAttributes":
						field = &r.MD5OfMessageAttributes
					case "MD5OfMessageSystemAttributes":
						field = &r.MD5OfMessageSystemAttributes
					case "SequenceNumber":
						field = &r.SequenceNumber
					}
				} else {
					switch name {
					case "Id":
						field = &f.Id
					case "Code":
						field = &f.Code
					case "Message":
						field = &f.Message
					}
				}
				if field == nil || *field != nil {
					return false
				}
				if key == "Failed" { // kept by settlement: out of r entirely
					v = aws.String(strings.Clone(*v))
				}
				*field = v
			}
			if key == "Successful" {
				out.Successful = append(out.Successful, r)
			} else {
				out.Failed = append(out.Failed, f)
			}
		}
	}
	if d.ws(); d.i != len(d.s) {
		return false
	}
	return true
}

// batchResultDecoder reads decodeBatchResult's JSON from s.
type batchResultDecoder struct {
	s    string
	i    int
	strs []string // the decoded strings, pointed to by the result; never grown
}

func (d *batchResultDecoder) ws() {
	for d.i < len(d.s) && (d.s[d.i] == ' ' || d.s[d.i] == '\t' || d.s[d.i] == '\n' || d.s[d.i] == '\r') {
		d.i++
	}
}

// next consumes c after whitespace, if it is there.
func (d *batchResultDecoder) next(c byte) bool {
	d.ws()
	if d.i < len(d.s) && d.s[d.i] == c {
		d.i++
		return true
	}
	return false
}

// str reads a string of printable ASCII without escapes.
func (d *batchResultDecoder) str() (string, bool) {
	if !d.next('"') {
		return "", false
	}
	for j := d.i; j < len(d.s); j++ {
		switch c := d.s[j]; {
		case c == '"':
			v := d.s[d.i:j]
			d.i = j + 1
			return v, true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return "", false
		}
	}
	return "", false
}

// strPtr reads a string as str does into the decoder's strings.
func (d *batchResultDecoder) strPtr() *string {
	v, ok := d.str()
	if !ok || len(d.strs) == cap(d.strs) {
		return nil
	}
	d.strs = append(d.strs, v)
	return &d.strs[len(d.strs)-1]
}

func (d *batchResultDecoder) boolean() (v, ok bool) {
	d.ws()
	switch {
	case strings.HasPrefix(d.s[d.i:], "true"):
		d.i += 4
		return true, true
	case strings.HasPrefix(d.s[d.i:], "false"):
		d.i += 5
		return false, true
	}
	return false, false
}

var (
	leanContentType  = []string{"application/x-amz-json-1.0"}
	leanTargetHeader = []string{"AmazonSQS.SendMessageBatch"}
	leanQueryMode    = []string{"true"}
)

// leanOpError wraps err as the SDK wraps a SendMessageBatch error.
func leanOpError(err error) error {
	return &smithy.OperationError{ServiceID: sqs.ServiceID, OperationName: "SendMessageBatch", Err: err}
}

// md5Mismatch is a successful entry whose digest does not match what was
// sent.
type md5Mismatch struct {
	id, what, got, want string
}

func (e md5Mismatch) Error() string {
	return fmt.Sprintf("entry %s: %s MD5 %s, want %s", e.id, e.what, e.got, e.want)
}

// checkBatchMD5 checks the digests SQS returned for each successful entry:
// MD5OfMessageBody against the body sent (as the SDK does) and
// MD5OfMessageAttributes against the attributes sent (which the SDK does
// not check). An id not sent is left to settlement, as the SDK does. le,
// when not nil, gives entries' body digests and attributes (see
// leanEntries).
func checkBatchMD5(in *sqs.SendMessageBatchInput, out *sqs.SendMessageBatchOutput, le *leanEntries) error {
	var errs []error
	var scratch [MaxMessageAttributes]attrView
	// What is hashed before the digests are compared, in lanes
	// (md5Many): the bodies whose digest is not known yet, and the
	// attributes, their inputs laid out one after the other in attrBuf.
	// todoOf and attrOf give an entry's place in each, plus one.
	var todo [MaxBatchEntries]string
	var todoOf, attrOf, attrEnds [MaxBatchEntries]int
	var attrScratch [MaxBatchEntries * 128]byte // sqshook's own attributes take under 100 bytes
	attrBuf := attrScratch[:0]
	k, ka := 0, 0
	for _, r := range out.Successful {
		n := entryIndex(in, aws.ToString(r.Id))
		if n < 0 || n >= MaxBatchEntries {
			continue
		}
		if d := le.digest(n); r.MD5OfMessageBody != nil && todoOf[n] == 0 && (d == nil || d.p.Load() == nil) {
			todo[k] = *in.Entries[n].MessageBody
			k++
			todoOf[n] = k
		}
		if r.MD5OfMessageAttributes != nil && attrOf[n] == 0 {
			if as := le.views(n, &in.Entries[n], scratch[:]); len(as) > 0 {
				attrBuf = appendAttrDigestInput(attrBuf, as, false)
				attrEnds[ka] = len(attrBuf)
				ka++
				attrOf[n] = ka
			}
		}
	}
	// One allocation for the batch's new body digests, which the bodies'
	// bodyDigests then point into.
	var todoSums *[MaxBatchEntries][md5.Size]byte
	if k > 0 {
		todoSums = new([MaxBatchEntries][md5.Size]byte)
		md5Many(todo[:k], todoSums[:k])
	}
	var attrMsgs [MaxBatchEntries]string
	var attrSums [MaxBatchEntries][md5.Size]byte
	for j, start := 0, 0; j < ka; j++ {
		attrMsgs[j] = bytesToString(attrBuf[start:attrEnds[j]])
		start = attrEnds[j]
	}
	md5Many(attrMsgs[:ka], attrSums[:ka])

	for _, r := range out.Successful {
		id := aws.ToString(r.Id)
		n := entryIndex(in, id)
		if n < 0 {
			continue // the SDK ignores it too; settlement reports unknown ids
		}
		e := &in.Entries[n]
		if r.MD5OfMessageBody != nil {
			var sum [md5.Size]byte
			d := le.digest(n)
			switch {
			case n < MaxBatchEntries && todoOf[n] > 0:
				sum = todoSums[todoOf[n]-1]
				if d != nil {
					d.set(&todoSums[todoOf[n]-1])
				}
			case d != nil:
				sum = *d.sum(*e.MessageBody)
			default:
				sum = md5.Sum(stringBytes(*e.MessageBody))
			}
			if !hexEqual(*r.MD5OfMessageBody, sum[:]) {
				errs = append(errs, md5Mismatch{id, "body", *r.MD5OfMessageBody, hex.EncodeToString(sum[:])})
			}
		}
		if r.MD5OfMessageAttributes != nil {
			if as := le.views(n, e, scratch[:]); len(as) > 0 {
				var sum [md5.Size]byte
				if n < MaxBatchEntries && attrOf[n] > 0 {
					sum = attrSums[attrOf[n]-1]
				} else {
					sum = md5OfAttrViews(as, false)
				}
				if !hexEqual(*r.MD5OfMessageAttributes, sum[:]) && !hexEqual(*r.MD5OfMessageAttributes, utf16Sum(as)) {
					errs = append(errs, md5Mismatch{id, "attributes", *r.MD5OfMessageAttributes, hex.EncodeToString(sum[:])})
				}
			}
		}
	}
	return errors.Join(errs...)
}

// entryIndex returns the index of the entry of in with id, or -1.
func entryIndex(in *sqs.SendMessageBatchInput, id string) int {
	if i, err := strconv.Atoi(id); err == nil && i >= 0 && i < len(in.Entries) && aws.ToString(in.Entries[i].Id) == id {
		return i // sqshook's ids are the entries' indexes
	}
	for i := range in.Entries {
		if aws.ToString(in.Entries[i].Id) == id {
			return i
		}
	}
	return -1
}

// hexEqual reports whether s is the lowercase or uppercase hex of sum.
func hexEqual(s string, sum []byte) bool {
	var h [2 * md5.Size]byte
	if len(s) != 2*len(sum) || len(sum) > md5.Size {
		return false
	}
	hex.Encode(h[:], sum)
	return s == string(h[:len(s)]) || strings.EqualFold(s, string(h[:len(s)]))
}

// md5OfAttributes is SQS's MD5OfMessageAttributes of attrs: see
// md5OfAttrViews.
func md5OfAttributes(attrs map[string]types.MessageAttributeValue, utf16 bool) [md5.Size]byte {
	var scratch [MaxMessageAttributes]attrView
	return md5OfAttrViews(attrViewsOf(attrs, scratch[:]), utf16)
}

// md5OfAttrViews is SQS's MD5OfMessageAttributes: the attributes, sorted
// by name (as is), each as its name, its data type (each a 4-byte
// big-endian length and the bytes), a transport byte (1 for a string
// value, 2 for a binary one) and the value (length and bytes).
//
// With utf16, the lengths of the name, the data type and a string value
// count UTF-16 code units instead of bytes: the digest of SQS
// implementations that take JavaScript's string length, such as the
// local-aws-sqs emulator. It differs from SQS's only for names or values
// beyond ASCII, which the SDK path delivers to such an implementation; the
// lean path accepts it too, so that both paths settle alike there.
func md5OfAttrViews(as []attrView, utf16 bool) [md5.Size]byte {
	var scratch [256]byte // what sqshook's own attributes take, and more
	return md5.Sum(appendAttrDigestInput(scratch[:0], as, utf16))
}

// appendAttrDigestInput appends what md5OfAttrViews digests for as.
func appendAttrDigestInput(b []byte, as []attrView, utf16 bool) []byte {
	for _, a := range as {
		dataType := aws.ToString(a.dataType)
		b = appendAttrString(b, a.name, utf16)
		b = appendAttrString(b, dataType, utf16)
		if strings.HasPrefix(dataType, "Binary") {
			b = append(b, 2)
			b = binary.BigEndian.AppendUint32(b, uint32(len(a.binary)))
			b = append(b, a.binary...)
		} else {
			b = append(b, 1)
			b = appendAttrString(b, aws.ToString(a.value), utf16)
		}
	}
	return b
}

// appendAttrString appends s as md5OfAttributes digests it: its length
// (in UTF-16 code units with utf16) and its bytes.
func appendAttrString(b []byte, s string, utf16 bool) []byte {
	n := len(s)
	if utf16 {
		n = utf16Len(s)
	}
	b = binary.BigEndian.AppendUint32(b, uint32(n))
	return append(b, s...)
}

// utf16Sum is md5OfAttrViews with UTF-16 lengths, or nil when it is the
// same digest (every name, type and value in ASCII).
func utf16Sum(as []attrView) []byte {
	ascii := true
	for _, a := range as {
		ascii = ascii && utf16Len(a.name) == len(a.name) && utf16Len(aws.ToString(a.dataType)) == len(aws.ToString(a.dataType)) &&
			utf16Len(aws.ToString(a.value)) == len(aws.ToString(a.value))
	}
	if ascii {
		return nil
	}
	sum := md5OfAttrViews(as, true)
	return sum[:]
}

// utf16Len is the length of s in UTF-16 code units.
func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n++
		if r >= 0x10000 {
			n++
		}
	}
	return n
}

// appendSendMessageBatch appends the JSON body of a SendMessageBatch
// request (the awsJson1_0 protocol) for in to b, with the attributes le
// gives (see leanEntries). The members are those the SDK writes:
// QueueUrl, and per entry Id, MessageBody, MessageAttributes (DataType,
// StringValue, BinaryValue in base64; in name order), DelaySeconds when
// not 0, MessageGroupId and MessageDeduplicationId when set. Strings are
// escaped as the SDK's JSON encoder escapes them.
func appendSendMessageBatch(b []byte, in *sqs.SendMessageBatchInput, le *leanEntries) []byte {
	var scratch [MaxMessageAttributes]attrView
	b = append(b, `{"Entries":[`...)
	for i := range in.Entries {
		e := &in.Entries[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '{')
		if e.DelaySeconds != 0 {
			b = append(b, `"DelaySeconds":`...)
			b = strconv.AppendInt(b, int64(e.DelaySeconds), 10)
			b = append(b, ',')
		}
		b = append(b, `"Id":`...)
		b = appendJSONString(b, aws.ToString(e.Id))
		if as := le.views(i, e, scratch[:]); as != nil || e.MessageAttributes != nil {
			b = append(b, `,"MessageAttributes":{`...)
			for j, a := range as {
				if j > 0 {
					b = append(b, ',')
				}
				b = appendJSONString(b, a.name)
				b = append(b, ':', '{')
				sep := false
				if a.binary != nil {
					b = append(b, `"BinaryValue":"`...)
					b = base64.StdEncoding.AppendEncode(b, a.binary)
					b = append(b, '"')
					sep = true
				}
				if a.dataType != nil {
					if sep {
						b = append(b, ',')
					}
					b = append(b, `"DataType":`...)
					b = appendJSONString(b, *a.dataType)
					sep = true
				}
				if a.value != nil {
					if sep {
						b = append(b, ',')
					}
					b = append(b, `"StringValue":`...)
					b = appendJSONString(b, *a.value)
				}
				b = append(b, '}')
			}
			b = append(b, '}')
		}
		b = append(b, `,"MessageBody":`...)
		b = appendJSONString(b, aws.ToString(e.MessageBody))
		if e.MessageDeduplicationId != nil {
			b = append(b, `,"MessageDeduplicationId":`...)
			b = appendJSONString(b, *e.MessageDeduplicationId)
		}
		if e.MessageGroupId != nil {
			b = append(b, `,"MessageGroupId":`...)
			b = appendJSONString(b, *e.MessageGroupId)
		}
		b = append(b, '}')
	}
	b = append(b, `],"QueueUrl":`...)
	b = appendJSONString(b, aws.ToString(in.QueueUrl))
	return append(b, '}')
}

// appendJSONString appends s as a JSON string, escaped as the SDK's
// encoder does: '"', '\\' and control characters escaped (\n, \r, \t by
// name, the others as \u00XX), an invalid UTF-8 byte as \ufffd, U+2028
// and U+2029 as \u2028 and \u2029; everything else as is. Bytes that
// need nothing are copied eight at a time, a word loaded and stored whole
// (the write position then moves past its plain bytes only), and a quote
// or a backslash is escaped without leaving that loop, so that an escape
// every few bytes, as in JSON, costs a few instructions; where the CPU
// has AVX-512 or AVX2, runs without a control character or a byte ≥ 0x80
// are escaped 32 or 16 bytes at a time (escapeJSONAVX512,
// escapeJSONAVX2).
func appendJSONString(b []byte, s string) []byte {
	const hexDigits = "0123456789abcdef"
	// The loop writes at b[n:] within b's capacity, with room for a word
	// and an escape (jsonEscapeRoom) checked once per step.
	b = slices.Grow(b, len(s)+2+jsonEscapeRoom)
	n := len(b)
	b = b[:cap(b)]
	b[n] = '"'
	n++
	bs := stringBytes(s)
	i := 0
	// words counts the steps of the word loop since it was entered or
	// since its last escape. The vector escaper runs when it is 1: at the
	// start (first), after a quote or a backslash (restart), and after a
	// plain word that follows a byte the byte loop took, so that text
	// mostly not ASCII does not call it at every character.
	vec := jsonAVX512 || jsonEscAVX2
	first, restart := 0, -1
	if vec {
		first, restart = 1, 0
	}
	for {
		// Eight bytes at a time; a quote or a backslash, the escapes JSON
		// bodies are full of, is written here without leaving the loop.
		for words := first; i+8 <= len(s); words++ {
			if words == 1 && vec && len(s)-i >= 32 {
				// 32 or 16 bytes at a time, quotes and backslashes
				// escaped, up to the next byte that needs a closer look.
				if n+64+jsonEscapeRoom > len(b) {
					b = slices.Grow(b[:n], len(s)-i+64+jsonEscapeRoom)
					b = b[:cap(b)]
				}
				var read, written int
				if jsonAVX512 {
					read, written = escapeJSONAVX512(b[n:], bs[i:])
				} else {
					read, written = escapeJSONAVX2(b[n:], bs[i:])
				}
				n += written
				if i += read; i+8 > len(s) {
					break
				}
			}
			if n+jsonEscapeRoom > len(b) {
				b = slices.Grow(b[:n], len(s)-i+2+jsonEscapeRoom)
				b = b[:cap(b)]
			}
			w := binary.LittleEndian.Uint64(bs[i:])
			binary.LittleEndian.PutUint64(b[n:], w)
			m := notPlainJSON8(w)
			if m == 0 {
				n += 8
				i += 8
				continue
			}
			k := bits.TrailingZeros64(m) / 8
			n += k
			i += k
			if c := s[i]; c == '"' || c == '\\' {
				b[n], b[n+1] = '\\', c
				n += 2
				i++
				words = restart // a new run starts
				continue
			}
			break
		}
		first = 0
		if i >= len(s) {
			break
		}
		if n+jsonEscapeRoom > len(b) {
			b = slices.Grow(b[:n], len(s)-i+2+jsonEscapeRoom)
			b = b[:cap(b)]
		}
		c := s[i]
		if jsonPlain[c] {
			b[n] = c
			n++
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b[n] = '\\'
			switch c {
			case '"', '\\':
				b[n+1] = c
			case '\n':
				b[n+1] = 'n'
			case '\r':
				b[n+1] = 'r'
			case '\t':
				b[n+1] = 't'
			default:
				b[n+1], b[n+2], b[n+3], b[n+4], b[n+5] = 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF]
				n += 4
			}
			n += 2
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			n += copy(b[n:], `\ufffd`)
		case r == '\u2028' || r == '\u2029':
			n += copy(b[n:], `\u202`)
			b[n] = hexDigits[r&0xF]
			n++
		default:
			n += copy(b[n:], s[i:i+size])
		}
		i += size
	}
	b[n] = '"'
	return b[:n+1]
}

// jsonEscapeRoom is the room appendJSONString keeps free ahead of its
// writes: a word of plain bytes, then the longest escape (six bytes), and
// the closing quote.
const jsonEscapeRoom = 8 + 6 + 1

// jsonPlain marks the bytes a JSON string holds as they are: printable
// ASCII but '"' and '\\'.
var jsonPlain = func() (t [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// plainJSON8 reports whether the eight bytes of x are all jsonPlain.
func plainJSON8(x uint64) bool { return notPlainJSON8(x) == 0 }

// notPlainJSON8 returns the top bit of every byte of x (little-endian)
// that is not jsonPlain, and maybe of bytes after one: its lowest bit
// marks the first byte that is not.
func notPlainJSON8(x uint64) uint64 {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	// (v - ones) &^ v has a top bit where a byte of v is 0 (written out: a
	// closure here is not inlined, and this runs once per eight bytes).
	below20 := (x - 0x20*ones) &^ x // where a byte is < 0x20 (or ≥ 0x80, caught by x)
	q, bs := x^('"'*ones), x^('\\'*ones)
	return (x | below20 | (q-ones)&^q | (bs-ones)&^bs) & highs
}

var _ SQSAPI = (*leanClient)(nil)
