package main

import (
	"strings"
	"testing"
)

func TestDemoTenantsAccountsPerTenant(t *testing.T) {
	code, out, errOut := runCmd(t, "demo", "-tenants", "20", "-down-tenant", "12", "-duration", "700ms", "-rate", "2000", "-latency", "1ms", "-progress", "200ms")
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, out, errOut)
	}
	for _, want := range []string{"20 tenants, each with hooks all-events", "fault: tenant-12's queues answer ServiceUnavailable",
		"tenant-0 ", "tenant-12 ", "(9 more)", "all 20", "accounting: OK", "the longest Publish took"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "demo-secret-not-real") {
		t.Errorf("demo output shows a secret")
	}
}

func TestDemoTenantsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"demo", "-tenants", "3", "-down-tenant", "3"},
		{"demo", "-tenants", "-1"},
		{"demo", "-tenants", "2", "-hooks", "x.json"},
	} {
		if code, _, errOut := runCmd(t, args...); code != 2 || errOut == "" {
			t.Errorf("%v: exit %d, stderr %q; want 2 and a message", args, code, errOut)
		}
	}
}
