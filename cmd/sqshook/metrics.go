// This file owns the demo's -metrics listener: the dispatcher's
// OpenTelemetry metrics in Prometheus format (through the OpenTelemetry
// Prometheus exporter) at /metrics, with series of each hook's own (the
// demo has a handful of hooks), and its HealthHandler at /debug/sqshook.

package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	otelprom "go.opentelemetry.io/otel/exporters/prometheus"
	sdkmetric "go.opentelemetry.io/otel/sdk/metric"

	"github.com/sqshook/sqshook"
)

// metricsServer serves a meter provider's metrics over HTTP.
type metricsServer struct {
	provider *sdkmetric.MeterProvider
	mux      *http.ServeMux
	addr     string // the listener's address, with the port it got
	srv      *http.Server
	done     chan error
}

// startMetrics listens on addr and serves /metrics from a new meter
// provider, whose registry holds nothing else.
func startMetrics(addr string) (*metricsServer, error) {
	reg := prometheus.NewRegistry()
	exporter, err := otelprom.New(otelprom.WithRegisterer(reg), otelprom.WithoutScopeInfo())
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("-metrics: %w", err)
	}
	m := &metricsServer{
		provider: sdkmetric.NewMeterProvider(sdkmetric.WithReader(exporter)),
		mux:      http.NewServeMux(),
		addr:     ln.Addr().String(),
		done:     make(chan error, 1),
	}
	m.mux.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.srv = &http.Server{Handler: m.mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { m.done <- m.srv.Serve(ln) }()
	return m, nil
}

// options are the dispatcher's options for these metrics: the provider,
// and series of each hook's own, for every tenant (within the dispatcher's
// default limit of hooks).
func (m *metricsServer) options() []sqshook.Option {
	return []sqshook.Option{
		sqshook.WithMeterProvider(m.provider),
		sqshook.WithMetricsDetail(func(string) bool { return true }),
	}
}

// stop closes the listener and the meter provider.
func (m *metricsServer) stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := m.srv.Shutdown(ctx)
	if serveErr := <-m.done; !errors.Is(serveErr, http.ErrServerClosed) {
		err = errors.Join(err, serveErr)
	}
	return errors.Join(err, m.provider.Shutdown(ctx))
}
