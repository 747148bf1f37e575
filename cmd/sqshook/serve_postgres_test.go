package main

// Two "sqshook serve" processes sharing their hooks in one PostgreSQL
// schema (-postgres) and one SQS endpoint. They need SQSHOOK_POSTGRES_URL
// (scripts/test.sh sets it); without it the test fails in CI and is
// skipped, loudly, elsewhere.

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/internal/pgtest"
	"github.com/sqshook/sqshook/sqstest"
)

// postgresTestDB returns the URL of a fresh schema of the test database
// (search_path set to it), dropped at cleanup.
func postgresTestDB(t *testing.T) string {
	t.Helper()
	base := pgtest.URL(t)
	return pgtest.SearchPath(t, base, pgtest.CreateSchema(t, base, "sqshook_test_"))
}

// serveProc is a running "sqshook serve" process.
type serveProc struct {
	cmd    *exec.Cmd
	base   string
	queue  string
	exited chan struct{}
}

func startServeProc(t *testing.T, bin string, args ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve"}, args...)...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &serveProc{cmd: cmd, exited: make(chan struct{})}
	banner := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		var b strings.Builder
		sent := false
		for sc.Scan() {
			b.WriteString(sc.Text() + "\n")
			if !sent && strings.Contains(sc.Text(), "demo queue") {
				banner <- b.String()
				sent = true
			}
		}
		if !sent {
			banner <- b.String()
		}
		_, _ = io.Copy(io.Discard, stdout)
		_ = cmd.Wait()
		close(p.exited)
	}()
	t.Cleanup(func() { p.stop(t) })
	var text string
	select {
	case text = <-banner:
	case <-time.After(60 * time.Second):
		t.Fatalf("serve printed no banner in 60 s; stderr:\n%s", stderr.String())
	}
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^  ` + name + ` +(\S+)`).FindStringSubmatch(text)
		if m == nil {
			t.Fatalf("serve's banner has no %q:\n%s\nstderr:\n%s", name, text, stderr.String())
		}
		return strings.TrimSuffix(m[1], ",")
	}
	p.base, p.queue = field("base URL"), field("demo queue")
	return p
}

// stop interrupts the process (kills it after a minute: a generous bound
// for a busy machine, on which its Close may wait for the database) and
// waits for it.
func (p *serveProc) stop(t *testing.T) {
	select {
	case <-p.exited:
		return
	default:
	}
	_ = p.cmd.Process.Signal(os.Interrupt)
	select {
	case <-p.exited:
	case <-time.After(time.Minute):
		t.Errorf("serve did not stop in a minute after an interrupt; killing it")
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// kill kills the process, as a crash would, and waits for it.
func (p *serveProc) kill() {
	_ = p.cmd.Process.Kill()
	<-p.exited
}

func (p *serveProc) call(t *testing.T, method, path, body string) map[string]any {
	t.Helper()
	token, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"server": true}).SignedString([]byte(fleetSecret))
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(method, p.base+path+"?api_key="+fleetKey, strings.NewReader(body))
	req.Header.Set("Authorization", token)
	req.Header.Set("stream-auth-type", "jwt")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %d %s", method, path, res.StatusCode, data)
	}
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

const (
	fleetKey    = "fleetdemo-key"
	fleetSecret = "fleet-demo-secret-0123456789abcdef"
)

// usersOf returns the user ids of the simulated traffic of seed.
func usersOf(seed int64) []string {
	var out []string
	for _, u := range newChat(seed).users {
		out = append(out, `"id":"`+u.ID+`"`)
	}
	return out
}

// countFrom counts the queue's messages sent by the server with seed's
// traffic.
func countFrom(s *sqstest.Server, queue string, users []string) int {
	n := 0
	for _, m := range s.Received(queue) {
		body, err := sqshook.DecodeBody(m.Body) // Stream's encoding: base64
		if err != nil {
			continue
		}
		for _, u := range users {
			if strings.Contains(string(body), u) {
				n++
				break
			}
		}
	}
	return n
}

// Two serve processes on one database: a hook added through one is listed
// by the other and receives the traffic both publish; a killed server's
// restart applies the stored hooks.
func TestFleetServeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs sqshook")
	}
	db := postgresTestDB(t)
	bin := filepath.Join(t.TempDir(), "sqshook")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	sqsSrv := sqstest.NewServer()
	defer sqsSrv.Close()
	common := []string{"-addr", "127.0.0.1:0", "-endpoint", sqsSrv.URL(), "-postgres", db,
		"-api-key", fleetKey, "-api-secret", fleetSecret, "-rate", "20", "-progress", "0"}
	a := startServeProc(t, bin, append(common, "-seed", "1")...)
	b := startServeProc(t, bin, append(common, "-seed", "2")...)
	usersA, usersB := usersOf(1), usersOf(2)

	hook := `{"event_hooks": [{"enabled": true, "hook_type": "sqs", "sqs_queue_url": "` + a.queue + `",
		"sqs_region": "us-east-1", "sqs_auth_type": "keys", "sqs_key": "AKIADEMOEXAMPLE00000",
		"sqs_secret": "fleet-test-secret-0123456789"}]}`
	sent := time.Now()
	a.call(t, "PATCH", "/app", hook)
	hooks := b.call(t, "GET", "/app", "")["event_hooks"].([]any)
	if len(hooks) != 1 || hooks[0].(map[string]any)["sqs_queue_url"] != a.queue {
		t.Fatalf("GET /app through B lists %v, want the hook added through A", hooks)
	}
	// Both servers publish 20 events/s; the periodic reconcile is 30 s
	// away, so B's events arrive through the notification.
	for _, s := range []struct {
		name  string
		users []string
	}{{"A", usersA}, {"B", usersB}} {
		deadline := time.Now().Add(20 * time.Second)
		for countFrom(sqsSrv, a.queue, s.users) == 0 {
			if time.Now().After(deadline) {
				t.Fatalf("no event published by %s reached the hook in 20 s", s.name)
			}
			time.Sleep(5 * time.Millisecond)
		}
		t.Logf("the first event published by %s reached the hook %v after A was sent the PATCH (each server publishes every 50 ms)", s.name, time.Since(sent))
	}

	// B crashes and restarts: it applies the stored hook at once.
	b.kill()
	before := countFrom(sqsSrv, a.queue, usersB)
	restarted := time.Now()
	b2 := startServeProc(t, bin, append(common, "-seed", "2")...)
	deadline := time.Now().Add(20 * time.Second)
	for countFrom(sqsSrv, a.queue, usersB) == before {
		if time.Now().After(deadline) {
			t.Fatalf("the restarted B delivered nothing to the stored hook in 20 s")
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Logf("the restarted B delivered to the stored hook %v after it was started", time.Since(restarted))
	if hooks := b2.call(t, "GET", "/app", "")["event_hooks"].([]any); len(hooks) != 1 {
		t.Fatalf("GET /app through the restarted B lists %v, want the stored hook", hooks)
	}
}
