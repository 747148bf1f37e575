// Package faultnet makes the network failures that tests of error texts
// need without leaving the machine: a name that does not resolve (answered
// by a DNS server of the test's own on loopback) and an address where
// connections are refused (a loopback port nothing listens on); and, in
// proxy.go, a TCP proxy a test cuts and restores to take a server away
// from its clients and give it back.
package faultnet

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"testing"
	"time"
)

// NXDomainDialer returns a dialer whose name lookups are answered
// NXDOMAIN ("no such host") by a DNS server on 127.0.0.1 that the test
// owns: a lookup fails with a *net.DNSError (IsNotFound), as for a name
// that does not exist, naming the system's resolver as its server (as a
// real failure does) while every query goes to the test's server only.
// The server stops when the test ends.
func NXDomainDialer(tb testing.TB) *net.Dialer {
	tb.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultnet: DNS server: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 4096)
		for {
			n, addr, err := pc.ReadFrom(buf)
			if err != nil {
				return // closed
			}
			if resp := nxdomain(buf[:n]); resp != nil {
				_, _ = pc.WriteTo(resp, addr)
			}
		}
	}()
	tb.Cleanup(func() {
		pc.Close()
		<-done
	})
	server := pc.LocalAddr().String()
	return &net.Dialer{
		Timeout: 10 * time.Second,
		Resolver: &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "udp", server)
		}},
	}
}

// nxdomain returns the NXDOMAIN answer to a DNS query: its header with
// the response, recursion-available and name-error bits set and its one
// question, or nil for a message that is not such a query.
func nxdomain(q []byte) []byte {
	const header = 12
	if len(q) < header || q[2]&0x80 != 0 || q[4] != 0 || q[5] != 1 {
		return nil
	}
	i := header
	for i < len(q) && q[i] != 0 {
		if q[i]&0xC0 != 0 {
			return nil // no compression in a question we answer
		}
		i += int(q[i]) + 1
	}
	end := i + 1 + 4 // the root label, QTYPE, QCLASS
	if end > len(q) {
		return nil
	}
	resp := append([]byte(nil), q[:end]...)
	resp[2] = 0x80 | q[2]&0x01 // QR, RD as asked
	resp[3] = 0x80 | 3         // RA, RCODE NXDOMAIN
	for k := 6; k < header; k++ {
		resp[k] = 0 // no answer, authority or additional records
	}
	return resp
}

// RefusedAddr returns a loopback address ("127.0.0.1:port") where nothing
// listens: the test bound the port and released it, so a connection there
// is refused.
func RefusedAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatalf("faultnet: %v", err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// HTTPClient returns an HTTP client for SDK clients whose name lookups
// fail (NXDomainDialer) and, when proxy is not "", which sends through
// the HTTP proxy at that address ("host:port").
func HTTPClient(tb testing.TB, proxy string) *http.Client {
	tb.Helper()
	t := &http.Transport{DialContext: NXDomainDialer(tb).DialContext, ForceAttemptHTTP2: true}
	if proxy != "" {
		t.Proxy = http.ProxyURL(&url.URL{Scheme: "http", Host: proxy})
	}
	tb.Cleanup(t.CloseIdleConnections)
	return &http.Client{Transport: t}
}
