// This file owns "sqshook serve": the Stream-compatible settings API
// (package streamapi) for one demo app or the apps of an apps file (each a
// tenant, added and rotated without a restart), over an in-process SQS
// endpoint or a given one, with simulated chat traffic for the apps'
// hooks, behind an HTTP server that bounds how long a client may hold a
// connection.

package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/sqs"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
	"github.com/sqshook/sqshook/streamapi"
)

// serveTenant is the demo app's tenant id.
const serveTenant = "demo"

// serveQueue is the queue created for the demo app's hooks.
const serveQueue = "sqshook-serve-demo"

// maxServeRate bounds -rate: the simulated traffic is a demo, not a load
// test (use "sqshook demo" or "sqshook bench" for that).
const maxServeRate = 100000

// Bounds of serve's HTTP server, so that no client holds a connection (and
// its goroutine) for ever; the -…-timeout flags change the timeouts.
const (
	// defaultReadHeaderTimeout bounds reading a request's headers.
	defaultReadHeaderTimeout = 10 * time.Second
	// defaultReadTimeout bounds reading a whole request, body included:
	// the API's largest body (1 MiB) at 35 KB/s.
	defaultReadTimeout = 30 * time.Second
	// defaultWriteTimeout bounds a request from the end of its headers to
	// the end of its answer: a check_sqs of every hook of the app against
	// serve's endpoint, or a slow reader of GET /app.
	defaultWriteTimeout = 2 * time.Minute
	// defaultIdleTimeout closes keep-alive connections idle this long.
	defaultIdleTimeout = time.Minute
	// serveMaxHeaderBytes bounds a request's headers; Stream's SDKs send a
	// few kilobytes (net/http's default is 1 MB).
	serveMaxHeaderBytes = 64 << 10
)

type serveConfig struct {
	addr, endpoint, store, apiKey, apiSecret, apps string
	rate                                           int
	seed                                           int64
	progress                                       time.Duration
	// The HTTP server's timeouts (http.Server's fields of the same names).
	readHeaderTimeout, readTimeout, writeTimeout, idleTimeout time.Duration
	// postgres is the URL of the PostgreSQL database that a fleet of
	// servers shares the hooks in (streamapi.PostgresStore).
	postgres string
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", `Runs the Stream-compatible settings API (GET /app, PATCH /app with
event_hooks and enable_hook_payload_compression, POST /check_sqs) for one
demo app, or for every app of -apps FILE, so that Stream's own server SDKs
configure and test SQS hooks against it with only their base URL changed.
It prints the demo app's api key and secret, creates a demo queue, and
publishes simulated chat traffic for the apps: every SQS hook added through
the API receives its app's events, in Stream's SQS body encoding (base64;
gzip, then base64, with enable_hook_payload_compression) unless the app or
hook sets sqs_body_encoding "raw".

-apps FILE lists the apps, [{"api_key", "api_secret", "tenant"}, ...]
(tenant defaults to the api key); the file is read again when it changes,
so apps are added, removed and their secrets rotated without a restart.

SQS is an in-process endpoint (package sqstest, any credentials) unless
-endpoint names another one (an emulator such as local-aws-sqs). Hooks are
kept in memory unless -store names a JSON file or -postgres a PostgreSQL
database (for example -postgres "$DATABASE_URL"), which several servers
share: a change made through one is applied by all of them, and a server
that starts applies every stored app's hooks. With -postgres, serve creates
its table (sqshook_app_settings) at start unless it exists. The server closes
connections whose client is slow to send or read, or idle (the -…-timeout
flags). Stop with Ctrl-C.`, stderr)
	var c serveConfig
	fs.StringVar(&c.addr, "addr", "127.0.0.1:3030", "address to listen on")
	fs.StringVar(&c.endpoint, "endpoint", "", "SQS endpoint URL (default: an in-process endpoint)")
	fs.StringVar(&c.store, "store", "", "JSON file that keeps the hooks (default: in memory)")
	fs.StringVar(&c.postgres, "postgres", "", "URL of a PostgreSQL database that keeps the hooks, shared by every server given it")
	fs.StringVar(&c.apps, "apps", "", "JSON file of the apps, read again when it changes (default: one demo app)")
	fs.StringVar(&c.apiKey, "api-key", "", "the demo app's api key (default: random)")
	fs.StringVar(&c.apiSecret, "api-secret", "", "the demo app's api secret (default: random)")
	fs.IntVar(&c.rate, "rate", 5, "simulated chat events per second for the demo app (0: none; at most 100000)")
	fs.Int64Var(&c.seed, "seed", 1, "seed of the simulated traffic")
	fs.DurationVar(&c.progress, "progress", 10*time.Second, "how often to print delivery totals (0: never)")
	fs.DurationVar(&c.readHeaderTimeout, "read-header-timeout", defaultReadHeaderTimeout, "time a client has to send a request's headers")
	fs.DurationVar(&c.readTimeout, "read-timeout", defaultReadTimeout, "time a client has to send a whole request, body included")
	fs.DurationVar(&c.writeTimeout, "write-timeout", defaultWriteTimeout, "time from a request's headers to the end of its answer")
	fs.DurationVar(&c.idleTimeout, "idle-timeout", defaultIdleTimeout, "time an idle keep-alive connection stays open")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case c.store != "" && c.postgres != "":
		return usagef("-store and -postgres exclude each other")
	case c.rate < 0 || c.rate > maxServeRate:
		return usagef("-rate must be between 0 and %d events per second, not %d", maxServeRate, c.rate)
	case c.progress < 0:
		return usagef("-progress must not be negative (0: never), not %v", c.progress)
	case c.apps != "" && (c.apiKey != "" || c.apiSecret != ""):
		return usagef("-apps and -api-key/-api-secret exclude each other: list the apps in the file")
	}
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"read-header-timeout", c.readHeaderTimeout}, {"read-timeout", c.readTimeout}, {"write-timeout", c.writeTimeout}, {"idle-timeout", c.idleTimeout}} {
		if f.d <= 0 {
			return usagef("-%s must be positive, not %v", f.name, f.d)
		}
	}
	return serve(ctx, c, stdout, stderr)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func serve(ctx context.Context, c serveConfig, out, errOut io.Writer) error {
	logger := slog.New(slog.NewTextHandler(errOut, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var apps interface {
		streamapi.Apps
		Tenants() []string
	}
	var appsFile *streamapi.AppsFile
	if c.apps != "" {
		f, err := streamapi.NewAppsFile(c.apps, logger)
		if err != nil {
			return err
		}
		apps, appsFile = f, f
	} else {
		if c.apiKey == "" {
			c.apiKey = "demo" + randomHex(6)
		}
		if c.apiSecret == "" {
			c.apiSecret = randomHex(24)
		}
		apps = oneApp{streamapi.AppMap{c.apiKey: {Tenant: serveTenant, Secret: []byte(c.apiSecret)}}}
	}

	endpoint, where := c.endpoint, "SQS endpoint"
	if endpoint == "" {
		srv := sqstest.NewServer()
		defer srv.Close()
		endpoint, where = srv.URL(), "in-process SQS endpoint (any credentials)"
	}
	hc := &http.Client{}
	defer hc.CloseIdleConnections()
	client := sqs.New(sqs.Options{
		Region: "us-east-1", BaseEndpoint: aws.String(endpoint), HTTPClient: hc, Retryer: aws.NopRetryer{},
		Credentials: aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIADEMOEXAMPLE00000", "demo-secret-not-real", "")),
	})
	q, err := client.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String(serveQueue)})
	if err != nil {
		return fmt.Errorf("creating the demo queue on %s: %w", endpoint, err)
	}

	// Each app is a tenant; each hook's bodies in its app's encoding.
	ts, err := streamapi.NewTenants(sqshook.WithEndpoint(endpoint), sqshook.WithLogger(logger),
		sqshook.WithRetryPolicy(sqshook.RetryPolicy{MaxInterval: time.Second}))
	if err != nil {
		return err
	}
	defer func() {
		closeCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := ts.Close(closeCtx); err != nil {
			fmt.Fprintf(errOut, "closing the dispatchers: %v\n", err)
		}
	}()
	var store streamapi.Store = streamapi.NewMemoryStore()
	if c.store != "" {
		store = streamapi.NewFileStore(c.store)
	}
	var applier streamapi.Applier = ts
	var fleet *streamapi.Fleet
	if c.postgres != "" {
		pgStore, stop, err := startFleet(ctx, c.postgres, applier, logger)
		if err != nil {
			return err
		}
		defer stop()
		store, applier, fleet = pgStore, pgStore.fleet, pgStore.fleet
	}
	h, err := streamapi.New(streamapi.Options{
		Apps:    apps,
		Store:   store,
		Applier: applier,
		// Hooks are checked with the dispatchers' clients, against the
		// endpoint they send to.
		Check:    ts.Checker(),
		Endpoint: endpoint,
		Logger:   logger,
	})
	if err != nil {
		return err
	}
	restore := func(tenant string) {
		if fleet != nil {
			return // the Fleet's reconciles apply every app's stored hooks
		}
		if err := h.Restore(ctx, tenant); err != nil {
			// Stored hooks may name the queue of an earlier in-process
			// endpoint (its port changes from run to run): say so and
			// serve anyway.
			fmt.Fprintf(errOut, "warning: the hooks stored in %s for app %s were not applied: %v\n"+
				"  GET /app shows them; write corrected ones back with PATCH /app\n", c.store, tenant, err)
		}
	}
	for _, t := range apps.Tenants() {
		restore(t)
	}
	if appsFile != nil {
		appsFile.OnAdd(restore)
	}

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	httpSrv := &http.Server{Handler: h, ReadHeaderTimeout: c.readHeaderTimeout, ReadTimeout: c.readTimeout,
		WriteTimeout: c.writeTimeout, IdleTimeout: c.idleTimeout, MaxHeaderBytes: serveMaxHeaderBytes}
	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(ln) }()

	base := "http://" + ln.Addr().String()
	fmt.Fprintf(out, "Stream-compatible settings API for SQS hooks\n\n")
	fmt.Fprintf(out, "  base URL    %s\n", base)
	if appsFile != nil {
		fmt.Fprintf(out, "  apps        %d, from %s (read again when it changes)\n", len(apps.Tenants()), c.apps)
	} else {
		fmt.Fprintf(out, "  api key     %s\n", c.apiKey)
		fmt.Fprintf(out, "  api secret  %s\n", c.apiSecret)
	}
	fmt.Fprintf(out, "  SQS         %s, %s\n", endpoint, where)
	fmt.Fprintf(out, "  demo queue  %s\n\n", aws.ToString(q.QueueUrl))
	fmt.Fprintf(out, "Use Stream's server SDK with this base URL, for example in JavaScript:\n")
	if appsFile != nil {
		fmt.Fprintf(out, "  const client = new StreamChat(apiKey, apiSecret, { baseURL: %q });\n", base)
	} else {
		fmt.Fprintf(out, "  const client = new StreamChat(%q, %q, { baseURL: %q });\n", c.apiKey, c.apiSecret, base)
	}
	fmt.Fprintf(out, "then add an SQS hook on the demo queue (sqs_region \"us-east-1\", sqs_auth_type \"keys\",\n")
	fmt.Fprintf(out, "any sqs_key of 16+ letters and digits, any sqs_secret) as Stream's documentation shows;\n")
	fmt.Fprintf(out, "read the deliveries with client.parseSqs(message.Body).\n")
	if c.rate > 0 {
		fmt.Fprintf(out, "Publishing simulated chat traffic at %d events/s, shared by the apps in turn; each event's\n", c.rate)
		fmt.Fprintf(out, "event_id attribute starts with its app's tenant. Ctrl-C stops.\n")
	}

	var published, failed atomic.Int64
	trafficDone := make(chan struct{})
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	go func() {
		defer close(trafficDone)
		if c.rate == 0 {
			return
		}
		chat := newChat(c.seed)
		tick := time.NewTicker(time.Second / time.Duration(c.rate))
		defer tick.Stop()
		turn := 0
		for {
			select {
			case <-trafficCtx.Done():
				return
			case <-tick.C:
			}
			tenants := apps.Tenants()
			if len(tenants) == 0 {
				continue
			}
			tenant := tenants[turn%len(tenants)]
			turn++
			ev, err := chat.next()
			if err == nil {
				ev.ID = fmt.Sprintf("%s-%d", tenant, turn)
				err = ts.Publish(trafficCtx, tenant, ev)
			}
			if err != nil && trafficCtx.Err() == nil {
				failed.Add(1)
				continue
			}
			published.Add(1)
		}
	}()

	var progress <-chan time.Time
	if c.progress > 0 {
		t := time.NewTicker(c.progress)
		defer t.Stop()
		progress = t.C
	}
	var runErr error
loop:
	for {
		select {
		case <-ctx.Done():
			break loop
		case err := <-served:
			runErr = err
			break loop
		case <-progress:
			hooks, tot := 0, sqshook.HookStats{}
			for _, t := range apps.Tenants() {
				hooks += len(ts.Hooks(t))
				s := totals(ts.Stats(t))
				tot.Delivered, tot.DeadLettered, tot.Pending = tot.Delivered+s.Delivered, tot.DeadLettered+s.DeadLettered, tot.Pending+s.Pending
			}
			fmt.Fprintf(out, "published %d (failed %d); %d SQS hooks; delivered %d, dead-lettered %d, pending %d\n",
				published.Load(), failed.Load(), hooks, tot.Delivered, tot.DeadLettered, tot.Pending)
		}
	}
	stopTraffic()
	<-trafficDone
	shutCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(shutCtx); err != nil && runErr == nil {
		runErr = err
	}
	if runErr != nil && !errors.Is(runErr, http.ErrServerClosed) {
		return runErr
	}
	fmt.Fprintf(out, "stopped: published %d events\n", published.Load())
	return nil
}

// oneApp is serve's demo app: an AppMap with its one tenant.
type oneApp struct{ streamapi.AppMap }

// Tenants returns the demo app's tenant.
func (oneApp) Tenants() []string { return []string{serveTenant} }
