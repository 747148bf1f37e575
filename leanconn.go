// leanconn.go owns the connections of the shared transport (leanConn)
// and the dialers that make them, in clear and over TLS: they write a
// lean request body straight from its buffer, where net/http would copy
// it through a buffer it allocates per request.

package sqshook

import (
	"context"
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"sync"
)

// leanConn is a connection of the shared transport. net/http writes a
// request body of known length through an io.LimitedReader into the
// connection's ReadFrom; net.TCPConn's copies it through a fresh buffer of
// up to 32 KiB, as large as the body, per request (in a profile of 24,000
// events/s, 63% of the bytes the process allocated). leanConn's writes a
// leanBody from its own buffer instead, and anything else through a
// pooled buffer.
type leanConn struct{ net.Conn }

// ReadFrom writes r to the connection.
func (c *leanConn) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		if body, ok := lr.R.(*leanBody); ok {
			return body.writeLimited(c.Conn, lr)
		}
	}
	bp := copyBufs.Get().(*[]byte)
	defer copyBufs.Put(bp)
	return io.CopyBuffer(struct{ io.Writer }{c.Conn}, r, *bp) // the struct hides c's ReadFrom
}

var copyBufs = sync.Pool{New: func() any { b := make([]byte, 32<<10); return &b }}

// useLeanConns makes t's connections leanConns: in clear through its
// DialContext, and over TLS through a DialTLSContext that does what t
// would do itself (its TLSClientConfig, read at each dial, the server's
// name from the address, its TLSHandshakeTimeout, a timeout error as
// net/http's), but offers HTTP/1.1 only: net/http speaks HTTP/2 only over
// a *tls.Conn it can see. SQS and STS answer HTTP/1.1. What is lost: HTTP/2
// to an endpoint override that offers it, the response's TLS field (nil),
// and the TLS handshake events of net/http/httptrace. Through an HTTP
// proxy, the tunnel's TLS is t's own; to an HTTPS proxy, this dialer
// makes the TLS connection to the proxy (its certificate checked, HTTP/1.1
// as CONNECT needs).
func useLeanConns(t *http.Transport) {
	dial := t.DialContext
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &leanConn{Conn: c}, nil
	}
	t.DialTLSContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, _, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		var cfg *tls.Config
		if t.TLSClientConfig != nil {
			cfg = t.TLSClientConfig.Clone()
		} else {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = host
		}
		cfg.NextProtos = []string{"http/1.1"}
		raw, err := dial(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		hctx := ctx
		if t.TLSHandshakeTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, t.TLSHandshakeTimeout)
			defer cancel()
		}
		c := tls.Client(raw, cfg)
		if err := c.HandshakeContext(hctx); err != nil {
			_ = raw.Close()
			if hctx.Err() != nil && ctx.Err() == nil {
				// The handshake's own timeout, not the caller's deadline.
				return nil, tlsHandshakeTimeoutError{}
			}
			return nil, err
		}
		return &leanConn{Conn: c}, nil
	}
}

// tlsHandshakeTimeoutError is a TLS handshake that took longer than the
// transport's TLSHandshakeTimeout, as net/http reports it.
type tlsHandshakeTimeoutError struct{}

func (tlsHandshakeTimeoutError) Timeout() bool   { return true }
func (tlsHandshakeTimeoutError) Temporary() bool { return true }
func (tlsHandshakeTimeoutError) Error() string   { return "net/http: TLS handshake timeout" }
