// Package streamclient runs Stream's own JavaScript clients (the pinned
// stream-chat and @stream-io/node-sdk packages of testdata/stream-client)
// for the tests of package streamapi and of "sqshook serve".
//
// This file owns finding node, installing the pinned packages and running
// one mode of flow.mjs.
package streamclient

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Node makes sure node and the pinned packages are in dir (running npm ci
// when one is missing) and returns node's path. Without node the test
// fails in CI and is skipped, loudly, elsewhere.
func Node(t testing.TB, dir string) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err == nil {
		_, err = exec.LookPath("npm")
	}
	if err != nil {
		msg := "node and npm are needed to run Stream's JavaScript clients (stream-chat, @stream-io/node-sdk): " + err.Error()
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		fmt.Fprintln(os.Stderr, "WARNING: "+msg)
		t.Skip(msg)
	}
	for _, pkg := range []string{"stream-chat", "@stream-io/node-sdk"} {
		if _, err := os.Stat(filepath.Join(dir, "node_modules", pkg, "package.json")); err == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--loglevel=error")
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("npm ci in %s: %v\n%s", dir, err, out)
		}
		break
	}
	return node
}

// Run runs flow.mjs in dir in mode, with the client's base URL and
// credentials and extra environment (NAME=value), and returns its RESULT.
func Run(t testing.TB, node, dir, mode, baseURL, key, secret string, extra ...string) map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "flow.mjs", mode)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "STREAM_BASE_URL="+baseURL, "STREAM_API_KEY="+key, "STREAM_API_SECRET="+secret)
	cmd.Env = append(cmd.Env, extra...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var result map[string]any
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		if line, ok := strings.CutPrefix(sc.Text(), "RESULT "); ok {
			if err := json.Unmarshal([]byte(line), &result); err != nil {
				t.Fatalf("flow %s: RESULT is not JSON: %v: %s", mode, err, line)
			}
		}
	}
	if result == nil {
		t.Fatalf("flow %s: no RESULT (err %v)\nstdout:\n%s\nstderr:\n%s", mode, runErr, stdout.String(), stderr.String())
	}
	return result
}

// Parsed is what the consumers made of one SQS message body: the event
// each client's parseSqs returned, or its error, and JSON.parse's.
type Parsed struct {
	Chat, SDK, JSON Attempt
}

// Attempt is one consumer's result: the event, or the error's message.
type Attempt struct {
	Event any    `json:"event"`
	Error string `json:"error"`
}

// Parse gives bodies to both clients' parseSqs and to JSON.parse (the
// flow's "parse" mode) and returns what each made of each body.
func Parse(t testing.TB, node, dir, baseURL, key, secret string, bodies []string) []Parsed {
	t.Helper()
	f := filepath.Join(t.TempDir(), "bodies.json")
	data, _ := json.Marshal(bodies)
	if err := os.WriteFile(f, data, 0o600); err != nil {
		t.Fatal(err)
	}
	res := Run(t, node, dir, "parse", baseURL, key, secret, "BODIES_FILE="+f)
	raw, _ := json.Marshal(res["parsed"])
	var out []struct {
		Chat Attempt `json:"chat"`
		SDK  Attempt `json:"sdk"`
		JSON Attempt `json:"json"`
	}
	if err := json.Unmarshal(raw, &out); err != nil || len(out) != len(bodies) {
		t.Fatalf("parse: %d results for %d bodies (%v): %.500s", len(out), len(bodies), err, raw)
	}
	ps := make([]Parsed, len(out))
	for i, o := range out {
		ps[i] = Parsed{Chat: o.Chat, SDK: o.SDK, JSON: o.JSON}
	}
	return ps
}
