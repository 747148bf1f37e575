package streamapi_test

import (
	"context"
	"log"
	"net/http"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/streamapi"
)

// A chat server mounts the settings API where Stream's base URL points and
// publishes each app's events to that app's hooks.
func ExampleNew() {
	apps := streamapi.AppMap{
		"app-key": {Tenant: "app-1", Secret: []byte("the app's API secret")},
	}
	// Each app a tenant; each hook's bodies in the encoding its app's
	// settings give it.
	ds, err := streamapi.NewTenants()
	if err != nil {
		log.Fatal(err)
	}
	defer ds.Close(context.Background())
	h, err := streamapi.New(streamapi.Options{
		Apps:    apps,                       // your records: api key → tenant and secret
		Store:   streamapi.NewMemoryStore(), // your database
		Applier: ds,
	})
	if err != nil {
		log.Fatal(err)
	}
	// Apply each app's stored hooks when the server starts.
	if err := h.Restore(context.Background(), "app-1"); err != nil {
		log.Fatal(err)
	}
	// Serve it with timeouts, so that no client holds a connection for
	// ever (see "Serving" in the package documentation).
	srv := &http.Server{Addr: ":3030", Handler: h,
		ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 2 * time.Minute, IdleTimeout: time.Minute, MaxHeaderBytes: 64 << 10}
	go func() { log.Fatal(srv.ListenAndServe()) }()

	// Later, for each event of app-1:
	ev, _ := sqshook.NewEvent("message.new", map[string]any{"type": "message.new", "cid": "messaging:general"})
	_ = ds.Publish(context.Background(), "app-1", ev)
}
