// auth_internal_test.go tests the endpoint rule of client building, and
// that the client pool keeps a client, its role's credentials and its
// secret only while a pipeline uses them.

package sqshook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

func TestCheckEndpoint(t *testing.T) {
	cases := []struct {
		endpoint  string
		cleartext bool
		want      string // "" : accepted
	}{
		{"", false, ""},
		{"https://sqs.eu-west-1.amazonaws.com", false, ""},
		{"https://vpce-0a1b2c3d.sqs.us-east-1.vpce.amazonaws.com", false, ""},
		{"http://127.0.0.1:4566", false, ""},
		{"http://localhost:9324", false, ""},
		{"http://[::1]:9324", false, ""},
		{"http://10.0.0.5:4566", false, "http is allowed only on loopback addresses"},
		{"http://sqs.internal.example.com", false, "http is allowed only on loopback addresses"},
		{"http://127.0.0.1.nip.io:4566", false, "http is allowed only on loopback addresses"},
		{"http://10.0.0.5:4566", true, ""},
		{"https://user:secret@proxy.example.com", false, "must not carry user info"},
		{"https://proxy.example.com/?x=1", false, "must not have a query or fragment"},
		{"https://proxy.example.com/#frag", false, "must not have a query or fragment"},
		{"ftp://proxy.example.com", false, "scheme must be https"},
		{"proxy.example.com:443", false, "not an absolute URL"},
		{"/relative", false, "not an absolute URL"},
	}
	for _, c := range cases {
		err := checkEndpoint(c.endpoint, c.cleartext)
		switch {
		case c.want == "" && err != nil:
			t.Errorf("checkEndpoint(%q, %v) = %v, want nil", c.endpoint, c.cleartext, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("checkEndpoint(%q, %v) = %v, want an error containing %q", c.endpoint, c.cleartext, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("error %q shows the URL's password", err)
		}
	}
}

// poolTestQueue is the queue of the client pool tests' hooks.
const poolTestQueue = "https://sqs.us-east-1.amazonaws.com/123456789012/q"

// failingHTTP fails every request at once: nothing leaves the process.
type failingHTTP struct{}

func (failingHTTP) Do(*http.Request) (*http.Response, error) {
	return nil, errors.New("no network in this test")
}

// poolTestDispatcher is a dispatcher whose clients come from its own pool,
// with a fake server identity and an HTTP client that fails every request:
// building clients (and assumed-role credentials, which are fetched only
// when first used) needs no network.
func poolTestDispatcher(t *testing.T, httpClient aws.HTTPClient, opts ...Option) *Dispatcher {
	t.Helper()
	co := ClientOptions{
		STSEndpoint: "http://127.0.0.1:9",
		HTTPClient:  httpClient,
		LoadDefaultConfig: func(context.Context) (aws.Config, error) {
			return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIASERVERIDENTITY01", "server-secret", "")}, nil
		},
	}
	opts = append([]Option{WithEndpoint("http://127.0.0.1:9"), WithClientOptions(co)}, opts...)
	d, err := New(nil, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Close(ctx)
	})
	return d
}

// poolRoleHook is tenant i's "role" hook: each tenant has a role of its own.
func poolRoleHook(i int) Hook {
	return Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: poolTestQueue, SQSRegion: "us-east-1",
		SQSAuthType: AuthRole, SQSRoleARN: fmt.Sprintf("arn:aws:iam::123456789012:role/sender-%d", i)}
}

// poolKeysHook is the "keys" hook with the i-th access key and secret.
func poolKeysHook(i int) Hook {
	return Hook{ID: "h", Enabled: true, HookType: HookTypeSQS, SQSQueueURL: poolTestQueue, SQSRegion: "us-east-1",
		SQSAuthType: AuthKeys, SQSKey: fmt.Sprintf("AKIA%016d", i), SQSSecret: poolSecret(i)}
}

// poolSecret is the i-th secret access key of poolKeysHook.
func poolSecret(i int) string { return fmt.Sprintf("wJalrXUtnFEMI/K7MDENG/%018dEXAMPLE", i) }

// waitPipes waits, polling, until the dispatcher has n pipelines left
// (active or draining): retired ones finish in the background.
func waitPipes(t *testing.T, d *Dispatcher, n int) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for spins := 0; ; spins++ {
		d.mu.Lock()
		left := len(d.pipes)
		d.mu.Unlock()
		if left == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d pipelines after 60s, want %d", left, n)
		}
		if spins < 100 {
			runtime.Gosched() // usually enough for a retired pipeline's last step
		} else {
			time.Sleep(time.Millisecond)
		}
	}
}

// liveHeap returns the bytes of live heap objects.
func liveHeap() int64 {
	runtime.GC()
	runtime.GC() // a second cycle empties sync.Pool victim caches
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// TestClientPoolForgetsRemovedTenants: tenants with a "role" hook each are
// added, then removed. Once their pipelines have drained, the pool holds
// none of their clients or assumed-role credentials, and the live heap is
// back to within 1 KiB per tenant of where it started.
func TestClientPoolForgetsRemovedTenants(t *testing.T) {
	n := 10000
	if poolTestRace || testing.Short() {
		n = 1000
	}
	d := poolTestDispatcher(t, failingHTTP{})
	tenant := func(i int) string { return fmt.Sprintf("tenant-%d", i) }
	// One tenant first, so that what the first one loads once (the
	// server's AWS configuration, the SDK's shared state) is in the
	// baseline.
	if err := d.Tenant(tenant(-1)).SetHooks([]Hook{poolRoleHook(-1)}); err != nil {
		t.Fatal(err)
	}
	if err := d.RemoveTenant(context.Background(), tenant(-1)); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, d, 0)
	before := liveHeap()
	for i := range n {
		if err := d.Tenant(tenant(i)).SetHooks([]Hook{poolRoleHook(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if c, r := d.pool.entries(); c < n || r < n {
		t.Fatalf("pool holds %d clients and %d roles for %d tenants in use, want at least %d of each", c, r, n, n)
	}
	added := liveHeap()
	for i := range n {
		if err := d.RemoveTenant(context.Background(), tenant(i)); err != nil {
			t.Fatal(err)
		}
	}
	waitPipes(t, d, 0)
	after := liveHeap()
	if c, r := d.pool.entries(); c != 0 || r != 0 {
		t.Errorf("pool holds %d clients and %d roles after every tenant was removed, want 0", c, r)
	}
	per := (after - before) / int64(n)
	t.Logf("%d tenants: %d B per tenant while configured, %d B per tenant retained after RemoveTenant", n, (added-before)/int64(n), per)
	if per > 1024 {
		t.Errorf("%d B per removed tenant still live (%d tenants), want at most 1024", per, n)
	}
}

// TestClientPoolKeyChurn: one hook re-submitted with a new access key each
// time. The pool holds the current client only, and the live heap does not
// grow with the number of changes. Each change waits for the pipeline it
// replaced to finish, so that the runtime's records of goroutines, which
// it keeps for reuse, do not pile up and blur the figure.
func TestClientPoolKeyChurn(t *testing.T) {
	n := 2000
	if poolTestRace || testing.Short() {
		n = 500
	}
	d := poolTestDispatcher(t, failingHTTP{})
	// As many changes first, so that what grows once to its working size
	// (maps, the runtime's goroutine records) is in the baseline: the
	// difference of two settled states is what each change leaves behind.
	warm := n
	for i := range warm {
		if err := d.SetHooks([]Hook{poolKeysHook(i)}); err != nil {
			t.Fatal(err)
		}
		waitPipes(t, d, 1)
	}
	before := liveHeap()
	for i := warm; i < warm+n; i++ {
		if err := d.SetHooks([]Hook{poolKeysHook(i)}); err != nil {
			t.Fatal(err)
		}
		waitPipes(t, d, 1)
	}
	after := liveHeap()
	if c, r := d.pool.entries(); c != 1 || r != 0 {
		t.Errorf("pool holds %d clients and %d roles after %d key changes, want 1 client (the current key's)", c, r, n)
	}
	per := float64(after-before) / float64(n)
	t.Logf("%d key changes: %+.1f B live heap per change", n, per)
	if per > 16 {
		t.Errorf("live heap grew by %.1f B per key change (%d changes), want at most 16", per, n)
	}
}

// TestClientPoolDropsReplacedSecret: after a hook's key is replaced and its
// old pipeline has drained, nothing reachable from the pool holds the old
// secret, while the new one is reachable (the search does find secrets).
func TestClientPoolDropsReplacedSecret(t *testing.T) {
	d := poolTestDispatcher(t, failingHTTP{})
	if err := d.SetHooks([]Hook{poolKeysHook(1)}); err != nil {
		t.Fatal(err)
	}
	if !reachableString(d.pool, poolSecret(1)) {
		t.Fatal("the search finds no secret in a pool that holds a client for it")
	}
	if err := d.SetHooks([]Hook{poolKeysHook(2)}); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, d, 1)
	if reachableString(d.pool, poolSecret(1)) {
		t.Error("the replaced secret is still reachable from the pool")
	}
	if !reachableString(d.pool, poolSecret(2)) {
		t.Error("the current secret is not reachable from the pool")
	}
	// Removing the hook drops the current secret too.
	if err := d.SetHooks(nil); err != nil {
		t.Fatal(err)
	}
	waitPipes(t, d, 0)
	if reachableString(d.pool, poolSecret(2)) {
		t.Error("the secret of a removed hook is still reachable from the pool")
	}
}

// reachableString reports whether a string (or byte slice) containing s
// can be reached from v by following pointers, interfaces, fields, map
// keys and values, slices and arrays (not closures).
func reachableString(v any, s string) bool {
	type seenKey struct {
		p uintptr
		t reflect.Type
	}
	seen := map[seenKey]bool{}
	var walk func(reflect.Value) bool
	walk = func(v reflect.Value) bool {
		switch v.Kind() {
		case reflect.String:
			return strings.Contains(v.String(), s)
		case reflect.Pointer:
			if v.IsNil() {
				return false
			}
			k := seenKey{v.Pointer(), v.Type()}
			if seen[k] {
				return false
			}
			seen[k] = true
			return walk(v.Elem())
		case reflect.Interface:
			return !v.IsNil() && walk(v.Elem())
		case reflect.Struct:
			for i := range v.NumField() {
				if walk(v.Field(i)) {
					return true
				}
			}
		case reflect.Map:
			if v.IsNil() {
				return false
			}
			k := seenKey{v.Pointer(), v.Type()}
			if seen[k] {
				return false
			}
			seen[k] = true
			for it := v.MapRange(); it.Next(); {
				if walk(it.Key()) || walk(it.Value()) {
					return true
				}
			}
		case reflect.Slice:
			if v.IsNil() {
				return false
			}
			if v.Type().Elem().Kind() == reflect.Uint8 {
				return strings.Contains(string(v.Bytes()), s)
			}
			k := seenKey{v.Pointer(), v.Type()}
			if seen[k] {
				return false
			}
			seen[k] = true
			fallthrough
		case reflect.Array:
			for i := range v.Len() {
				if walk(v.Index(i)) {
					return true
				}
			}
		}
		return false
	}
	return walk(reflect.ValueOf(v))
}

// blockingHTTP holds every request until release is closed, then fails it.
type blockingHTTP struct {
	started chan struct{} // gets a value per request
	release chan struct{}
}

func (b *blockingHTTP) Do(req *http.Request) (*http.Response, error) {
	b.started <- struct{}{}
	select {
	case <-b.release:
	case <-req.Context().Done():
	}
	return nil, errors.New("no network in this test")
}

// TestClientPoolKeepsClientsInUse: a replaced hook's pipeline still has a
// call in flight with the old key: the pool keeps that client until the
// pipeline has drained, then drops it and keeps the new one.
func TestClientPoolKeepsClientsInUse(t *testing.T) {
	b := &blockingHTTP{started: make(chan struct{}, 16), release: make(chan struct{})}
	d := poolTestDispatcher(t, b, WithLinger(0), WithRetryPolicy(RetryPolicy{MaxAttempts: 1}), WithDeadLetter(func(DeadLetter) {}))
	if err := d.SetHooks([]Hook{poolKeysHook(1)}); err != nil {
		t.Fatal(err)
	}
	if err := d.Publish(context.Background(), Event{Type: "message.new", Body: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	<-b.started // the old key's call is in flight
	if err := d.SetHooks([]Hook{poolKeysHook(2)}); err != nil {
		t.Fatal(err)
	}
	if c, _ := d.pool.entries(); c != 2 {
		t.Fatalf("pool holds %d clients while the old pipeline has a call in flight, want 2 (old and new)", c)
	}
	if !reachableString(d.pool, poolSecret(1)) {
		t.Error("the client of the draining pipeline was dropped")
	}
	close(b.release)
	waitPipes(t, d, 1)
	if c, _ := d.pool.entries(); c != 1 {
		t.Errorf("pool holds %d clients after the old pipeline drained, want 1", c)
	}
	if reachableString(d.pool, poolSecret(1)) || !reachableString(d.pool, poolSecret(2)) {
		t.Error("the pool kept the old key's client rather than the new one's")
	}
}

// TestClientPoolChecksKeepNothing: checking hooks that are not configured
// (as Stream's check_sqs does before update_app) builds clients the pool
// does not keep, for "keys" and "role" hooks alike.
func TestClientPoolChecksKeepNothing(t *testing.T) {
	d := poolTestDispatcher(t, failingHTTP{})
	ctx := context.Background()
	for i := range 20 {
		_ = d.Tenant("acme").CheckHook(ctx, poolKeysHook(i), CheckOptions{})
		_ = d.Tenant("acme").CheckHook(ctx, poolRoleHook(i), CheckOptions{})
	}
	if c, r := d.pool.entries(); c != 0 || r != 0 {
		t.Errorf("pool holds %d clients and %d roles after checks of hooks nobody configured, want 0", c, r)
	}
}

// TestClientPoolSharesAndCounts: the pool's own rules. Acquiring the same
// credentials twice shares one client, which leaves only with its last
// user; a second release changes nothing; one role's credentials serve
// its clients in every region and leave with the last of them; Client pins
// what it returns.
func TestClientPoolSharesAndCounts(t *testing.T) {
	p := NewClientPool(ClientOptions{
		HTTPClient: failingHTTP{}, STSEndpoint: "http://127.0.0.1:9",
		ExternalID: func(Hook) string { return "ext-1" },
		LoadDefaultConfig: func(context.Context) (aws.Config, error) {
			return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIASERVERIDENTITY01", "server-secret", "")}, nil
		},
	})
	ctx := context.Background()
	want := func(what string, clients, roles int) {
		t.Helper()
		if c, r := p.entries(); c != clients || r != roles {
			t.Errorf("%s: %d clients and %d roles, want %d and %d", what, c, r, clients, roles)
		}
	}
	c1, rel1, err := p.acquire(ctx, poolKeysHook(1), "")
	if err != nil {
		t.Fatal(err)
	}
	c2, rel2, err := p.acquire(ctx, poolKeysHook(1), "")
	if err != nil {
		t.Fatal(err)
	}
	if c1 != c2 {
		t.Error("two acquires of the same credentials got different clients")
	}
	want("one key acquired twice", 1, 0)
	rel1()
	rel1() // a second release of the same use changes nothing
	want("one of two users released (twice)", 1, 0)
	if once, err := p.client(ctx, poolKeysHook(1), ""); err != nil || once != sdkClient(c1) {
		t.Errorf("a one-off use got %p, %v; want the held client %p", once, err, c1)
	}
	rel2()
	want("both users released", 0, 0)

	east, west := poolRoleHook(7), poolRoleHook(7)
	west.SQSRegion = "us-west-2"
	_, relEast, err := p.acquire(ctx, east, "ext-1")
	if err != nil {
		t.Fatal(err)
	}
	_, relWest, err := p.acquire(ctx, west, "ext-1")
	if err != nil {
		t.Fatal(err)
	}
	want("one role in two regions", 2, 1)
	relEast()
	want("one role, one region released", 1, 1)
	relWest()
	want("one role, both regions released", 0, 0)

	pinned, err := p.Client(ctx, poolKeysHook(3))
	if err != nil {
		t.Fatal(err)
	}
	c3, rel3, err := p.acquire(ctx, poolKeysHook(3), "")
	if err != nil || sdkClient(c3) != pinned {
		t.Fatalf("acquire of a pinned client: %p, %v; want %p", c3, err, pinned)
	}
	rel3()
	want("pinned client released by its other user", 1, 0)
	if _, err := p.RoleCredentials(ctx, east); err != nil {
		t.Fatal(err)
	}
	want("pinned role credentials", 1, 1)
}

// TestClientPoolConcurrentAcquire: many goroutines acquire and release the
// same few credentials at once; the counts end at zero.
func TestClientPoolConcurrentAcquire(t *testing.T) {
	p := NewClientPool(ClientOptions{
		HTTPClient: failingHTTP{}, STSEndpoint: "http://127.0.0.1:9",
		LoadDefaultConfig: func(context.Context) (aws.Config, error) {
			return aws.Config{Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider("AKIASERVERIDENTITY01", "server-secret", "")}, nil
		},
	})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				h := poolKeysHook(i % 3)
				if i%2 == 0 {
					h = poolRoleHook(i % 3)
				}
				_, rel, err := p.acquire(context.Background(), h, fmt.Sprint("ext-", g%2))
				if err != nil {
					t.Error(err)
					return
				}
				rel()
			}
		}()
	}
	wg.Wait()
	if c, r := p.entries(); c != 0 || r != 0 {
		t.Errorf("%d clients and %d roles after every acquire was released, want 0", c, r)
	}
}
