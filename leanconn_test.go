package sqshook

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"
)

// leanConnServer answers each request with the SHA-256 of its body and
// the HTTP version it came in, over TLS or in clear.
func leanConnServer(t *testing.T, useTLS bool) *httptest.Server {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		sum := sha256.Sum256(b)
		_, _ = io.WriteString(w, hex.EncodeToString(sum[:])+" "+r.Proto)
	})
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	if useTLS {
		srv.EnableHTTP2 = true // offered: the client must still speak HTTP/1.1
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// leanConnBody returns a leanBody over a pooled buffer holding data, as
// sendBatch makes it (the transport's reference only).
func leanConnBody(data []byte) *leanBody {
	buf := leanBufs.Get().(*leanBuf)
	buf.refs = 1
	buf.b = append(buf.b[:0], data...)
	buf.r.Reset(buf.b)
	return &leanBody{b: buf}
}

// leanConnPost posts body (n bytes) to url through p's client, and
// returns the answer and whether the connection was a leanConn.
func leanConnPost(t *testing.T, p *ClientPool, url string, body io.ReadCloser, n int64) (string, bool, error) {
	t.Helper()
	var lean bool
	ctx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{
		GotConn: func(info httptrace.GotConnInfo) { _, lean = info.Conn.(*leanConn) },
	})
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Body, req.ContentLength = body, n
	resp, err := p.httpClient.Do(req)
	if err != nil {
		return "", lean, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", resp.StatusCode, b)
	}
	return string(b), lean, err
}

// TestLeanConnWritesBodies: over TLS and in clear, the shared transport's
// connections are leanConns, and bodies of every size around the write
// buffer and the TLS record arrive whole, lean bodies and others alike,
// over HTTP/1.1.
func TestLeanConnWritesBodies(t *testing.T) {
	for _, useTLS := range []bool{true, false} {
		srv := leanConnServer(t, useTLS)
		p := NewClientPool(ClientOptions{})
		defer p.transport.CloseIdleConnections()
		if useTLS {
			p.transport.TLSClientConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
		}
		for _, n := range []int{1, 100, 4095, 4096, 4097, 16384, 16385, 20000, 70000, 300000} {
			data := bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\"\\"), n/38+1)[:n]
			sum := sha256.Sum256(data)
			want := hex.EncodeToString(sum[:]) + " HTTP/1.1"
			for _, kind := range []string{"lean", "other"} {
				var body io.ReadCloser = leanConnBody(data)
				if kind == "other" {
					body = io.NopCloser(struct{ io.Reader }{bytes.NewReader(data)}) // not known to be in memory
				}
				got, lean, err := leanConnPost(t, p, srv.URL, body, int64(n))
				if err != nil {
					t.Fatalf("tls %v, %s body of %d bytes: %v", useTLS, kind, n, err)
				}
				if got != want || !lean {
					t.Fatalf("tls %v, %s body of %d bytes: answer %q on a leanConn %v, want %q on one", useTLS, kind, n, got, lean, want)
				}
			}
		}
	}
}

// TestLeanConnTLSChecks: the TLS dialer checks the certificate and the
// name as net/http's own does, and gives up a handshake that does not
// finish in the transport's TLSHandshakeTimeout; its errors are the
// classes the public error texts know.
func TestLeanConnTLSChecks(t *testing.T) {
	srv := leanConnServer(t, true)
	roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs

	t.Run("unknown authority", func(t *testing.T) {
		p := NewClientPool(ClientOptions{})
		defer p.transport.CloseIdleConnections()
		_, _, err := leanConnPost(t, p, srv.URL, leanConnBody([]byte("x")), 1)
		var unknown x509.UnknownAuthorityError
		if err == nil || !isTLSErr(err) || !errors.As(err, &unknown) {
			t.Fatalf("untrusted certificate: error %v, want a TLS error of an unknown authority", err)
		}
	})
	t.Run("wrong name", func(t *testing.T) {
		p := NewClientPool(ClientOptions{})
		defer p.transport.CloseIdleConnections()
		// The test certificate names 127.0.0.1, ::1 and example.com.
		p.transport.TLSClientConfig = &tls.Config{RootCAs: roots, ServerName: "queue.invalid"}
		_, _, err := leanConnPost(t, p, srv.URL, leanConnBody([]byte("x")), 1)
		var hostErr x509.HostnameError
		if err == nil || !isTLSErr(err) || !errors.As(err, &hostErr) {
			t.Fatalf("certificate for another name: error %v, want a TLS error naming the host", err)
		}
	})
	t.Run("handshake timeout", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		held := make(chan net.Conn, 1)
		go func() { // accepts and says nothing
			if c, err := ln.Accept(); err == nil {
				held <- c
			}
		}()
		defer func() {
			select {
			case c := <-held:
				c.Close()
			default:
			}
		}()
		p := NewClientPool(ClientOptions{})
		defer p.transport.CloseIdleConnections()
		p.transport.TLSHandshakeTimeout = 200 * time.Millisecond
		began := time.Now()
		_, _, err = leanConnPost(t, p, "https://"+ln.Addr().String(), leanConnBody([]byte("x")), 1)
		var ne net.Error
		if err == nil || !errors.As(err, &ne) || !ne.Timeout() || errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("silent server: error %v, want the handshake's timeout (not the caller's deadline)", err)
		}
		if d := time.Since(began); d > 20*time.Second {
			t.Fatalf("the handshake was given up after %v; its timeout is 200ms", d)
		}
	})
}

// recordingConn is a net.Conn whose writes are recorded.
type recordingConn struct {
	net.Conn
	writes [][]byte
}

func (c *recordingConn) Write(p []byte) (int, error) {
	c.writes = append(c.writes, p)
	return len(p), nil
}

// TestLeanConnReadFromInPlace: a lean body is written in one write
// straight from its buffer, as much of it as the transport's limit says
// and from where it was read to; the body then reads as the rest.
func TestLeanConnReadFromInPlace(t *testing.T) {
	data := []byte(strings.Repeat("lean body ", 3000))
	body := leanConnBody(data)
	defer body.Close()
	head := make([]byte, 4000) // net/http may have read some into its buffer first
	if _, err := io.ReadFull(body, head); err != nil {
		t.Fatal(err)
	}
	rc := &recordingConn{}
	lr := &io.LimitedReader{R: body, N: int64(len(data) - len(head) - 7)}
	n, err := (&leanConn{Conn: rc}).ReadFrom(lr)
	if err != nil || n != int64(len(data)-len(head)-7) || lr.N != 0 {
		t.Fatalf("ReadFrom = %d, %v, %d left; want %d, nil, 0", n, err, lr.N, len(data)-len(head)-7)
	}
	if len(rc.writes) != 1 || &rc.writes[0][0] != &body.b.b[len(head)] || !bytes.Equal(rc.writes[0], data[len(head):len(data)-7]) {
		t.Fatalf("%d writes; want one, of the body's own bytes from %d", len(rc.writes), len(head))
	}
	rest, err := io.ReadAll(body)
	if err != nil || !bytes.Equal(rest, data[len(data)-7:]) {
		t.Fatalf("the body then reads %q, %v; want its last 7 bytes", rest, err)
	}
}
