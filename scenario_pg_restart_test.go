//go:build unix

// scenario_pg_restart_test.go restarts the database under load: a private
// PostgreSQL cluster (initdb into the test's directory, on a free loopback
// port) is stopped and started again while a dispatcher publishes to it.

package sqshook_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
	"github.com/sqshook/sqshook/sqstest"
)

// envPostgresBin names the directory of PostgreSQL's programs (initdb,
// pg_ctl) for the tests that run a private cluster; by default the newest
// /usr/lib/postgresql/*/bin.
const envPostgresBin = "SQSHOOK_POSTGRES_BIN"

// pgCluster is a private PostgreSQL cluster of one test.
type pgCluster struct {
	t    *testing.T
	bin  string
	data string
	log  string
	port int
	cred *syscall.Credential // the server's user when the test runs as root
}

// pgMissing fails in CI and skips, loudly, elsewhere.
func pgMissing(t *testing.T, msg string) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	fmt.Fprintln(os.Stderr, "WARNING: "+msg)
	t.Skip(msg)
}

// newPGCluster initialises a cluster in a directory of the test's and
// starts it on a free loopback port; it is stopped at cleanup. PostgreSQL
// refuses to run as root: a root test runs it as the user "postgres".
func newPGCluster(t *testing.T) *pgCluster {
	t.Helper()
	bin := os.Getenv(envPostgresBin)
	if bin == "" {
		found, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
		slices.SortFunc(found, func(a, b string) int {
			va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
			vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
			return va - vb
		})
		if len(found) > 0 {
			bin = found[len(found)-1]
		}
	}
	for _, prog := range []string{"initdb", "pg_ctl"} {
		if _, err := os.Stat(filepath.Join(bin, prog)); err != nil {
			pgMissing(t, "PostgreSQL's "+prog+" not found (set "+envPostgresBin+"): the database restart test needs it")
		}
	}
	c := &pgCluster{t: t, bin: bin}
	dir := t.TempDir()
	c.data, c.log = filepath.Join(dir, "data"), filepath.Join(dir, "log")
	if err := os.Mkdir(c.data, 0o700); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			pgMissing(t, "running as root and there is no user \"postgres\" to run PostgreSQL as: "+err.Error())
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		c.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		// The user must reach its directory: the test's directories
		// are root's, 0700.
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o711); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(c.data, uid, gid); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(c.log, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(c.log, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	c.run("initdb", "-D", c.data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
	c.start()
	t.Cleanup(func() { c.ctl("stop", "-m", "immediate") })
	return c
}

// run runs one of PostgreSQL's programs as the cluster's user.
func (c *pgCluster) run(prog string, args ...string) {
	c.t.Helper()
	cmd := exec.Command(filepath.Join(c.bin, prog), args...)
	if c.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: c.cred}
	}
	cmd.Dir = c.data
	if out, err := cmd.CombinedOutput(); err != nil {
		log, _ := os.ReadFile(c.log)
		c.t.Fatalf("%s %v: %v\n%s\n%s", prog, args, err, out, log)
	}
}

func (c *pgCluster) ctl(args ...string) {
	c.t.Helper()
	c.run("pg_ctl", append([]string{"-D", c.data, "-w", "-t", "120"}, args...)...)
}

func (c *pgCluster) start() {
	c.t.Helper()
	c.ctl("-l", c.log, "-o", fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, c.data), "start")
}

func (c *pgCluster) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", c.port)
}

// TestPostgresRestartUnderLoad stops a private PostgreSQL server (fast
// shutdown) while four publishers publish to two hooks (a standard and a
// FIFO one) through one dispatcher, and starts it again. Every Publish
// that fails while it is down fails with ErrStoreUnavailable within its
// context's bound; after the restart publishing and delivery resume, and
// every event the database holds, and every one whose Publish returned
// nil, is delivered to both hooks, each FIFO group in order.
func TestPostgresRestartUnderLoad(t *testing.T) {
	c := newPGCluster(t)
	ctx := context.Background()
	pool := pgTestPool(t, c.url())
	opts := sqshook.PostgresOptions{Schema: "sqshook", Lease: time.Second, Poll: 20 * time.Millisecond}
	if err := sqshook.MigratePostgres(ctx, pool, opts); err != nil {
		t.Fatalf("MigratePostgres: %v", err)
	}
	srv := sqstest.NewServer()
	defer srv.Close()
	std := srv.CreateQueue("restart", nil)
	fifo := srv.CreateQueue("restart.fifo", map[string]string{"FifoQueue": "true", "ContentBasedDeduplication": "false"})
	d := startDispatcher(t, []sqshook.Hook{pgHook("std", std), pgHook("fifo", fifo)},
		sqshook.WithPostgres(pgTestPool(t, c.url()), opts), sqshook.WithEndpoint(srv.URL()),
		sqshook.WithLinger(time.Millisecond), sqshook.WithRetryPolicy(fastRetries),
		sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return srv.Client(), nil }))

	const publishers = 4
	const bound = 2 * time.Second // each Publish's context
	var (
		mu        sync.Mutex
		ok        []string
		failed    atomic.Int64
		okAfter   atomic.Int64 // successes after the restart
		restarted atomic.Bool
		slowest   atomic.Int64 // the longest failing Publish, ns
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			tick := time.NewTicker(2 * time.Millisecond)
			defer tick.Stop()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				id := fmt.Sprintf("p%d-%06d", p, i)
				pctx, cancel := context.WithTimeout(ctx, bound)
				began := time.Now()
				err := d.Publish(pctx, sqshook.Event{ID: id, Type: "message.new", GroupID: fmt.Sprintf("p%d", p),
					Body: chatEventJSON(t, "message.new", id)})
				took := time.Since(began)
				cancel()
				if err != nil {
					if !errors.Is(err, sqshook.ErrStoreUnavailable) {
						t.Errorf("Publish %s: %v, want ErrStoreUnavailable", id, err)
					}
					if took > bound+time.Second {
						t.Errorf("Publish %s failed after %v, past its context's %v", id, took, bound)
					}
					for prev := slowest.Load(); int64(took) > prev && !slowest.CompareAndSwap(prev, int64(took)); prev = slowest.Load() {
					}
					failed.Add(1)
					continue
				}
				mu.Lock()
				ok = append(ok, id)
				mu.Unlock()
				if restarted.Load() {
					okAfter.Add(1)
				}
			}
		})
	}
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		wg.Wait()
	}()

	// A clean (fast) shutdown, then a crash (immediate: recovery from the
	// log at start).
	var report []string
	for _, mode := range []string{"fast", "immediate"} {
		before := srv.Count(std)
		waitPG(t, "delivery under load", func() bool { return srv.Count(std) >= before+500 })
		failedBefore := failed.Load()
		restarted.Store(false)
		okAfter.Store(0)
		down := time.Now()
		c.ctl("stop", "-m", mode)
		stopped := time.Since(down)
		waitPG(t, "Publish failing while the server is down", func() bool { return failed.Load() >= failedBefore+20 })
		c.start()
		outage := time.Since(down)
		restarted.Store(true)
		waitPG(t, "publishing after the restart", func() bool { return okAfter.Load() >= 500 })
		report = append(report, fmt.Sprintf("stop -m %s took %v, down %v, %d Publish calls failed",
			mode, stopped.Round(time.Millisecond), outage.Round(time.Millisecond), failed.Load()-failedBefore))
	}
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}
	waitPG(t, "every copy delivered", func() bool {
		var n int
		err := pool.QueryRow(ctx, "SELECT count(*) FROM sqshook.sqshook_copy").Scan(&n)
		return err == nil && n == 0
	})

	dups, _ := pgCheckDelivered(t, pool, opts.Schema, srv, map[string]string{"std": std, "fifo": fifo}, ok)
	t.Logf("duplicates: std %d, fifo %d", dups["std"], dups["fifo"])
	t.Logf("%s; every failure ErrStoreUnavailable (slowest %v, bound %v); %d acknowledged, %d delivered",
		strings.Join(report, "; "), time.Duration(slowest.Load()).Round(time.Microsecond), bound, len(ok), srv.Count(std)-dups["std"])
}
