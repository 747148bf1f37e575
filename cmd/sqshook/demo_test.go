// demo_test.go tests the demo with a spool across a crash.

package main

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// TestDemoSpoolCrash runs "demo -spool DIR -crash-after" in a child process
// (this test binary re-executed), which kills itself a third of a second into an outage of
// the endpoint; a second run with the same spool delivers what the first
// left and accounts for everything.
func TestDemoSpoolCrash(t *testing.T) {
	if dir := os.Getenv("SQSHOOK_DEMO_CRASH_DIR"); dir != "" {
		os.Exit(run(context.Background(), []string{"demo", "-spool", dir, "-crash-after", "1s",
			"-duration", "2s", "-outage", "5s", "-latency", "1ms", "-rate", "1000", "-progress", "1s"}, os.Stdout, os.Stderr))
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestDemoSpoolCrash$", "-test.count=1")
	cmd.Env = append(os.Environ(), "SQSHOOK_DEMO_CRASH_DIR="+dir)
	out, err := cmd.Output()
	ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("first run: %v, want killed by SIGKILL\n%s", err, out)
	}
	m := regexp.MustCompile(`the spool holds (\d+) pending copies`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("first run does not say what the spool holds:\n%s", out)
	}
	held, _ := strconv.Atoi(string(m[1]))

	code, second, errOut := runCmd(t, "demo", "-spool", dir, "-duration", "200ms", "-latency", "1ms", "-progress", "1s")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s\n%s", code, second, errOut)
	}
	r := regexp.MustCompile(`(\d+) copies resumed from an earlier run \(0 dead-lettered`).FindStringSubmatch(second)
	if r == nil || r[1] != strconv.Itoa(held) || held == 0 {
		t.Fatalf("second run resumed %v copies, want the %d the first left:\n%s", r, held, second)
	}
	if !strings.Contains(second, "accounting: OK") {
		t.Errorf("second run:\n%s", second)
	}
}
