// This file owns the River prototype: one job per hook copy (a queue per
// hook), inserted with InsertManyTx in the caller's transaction, and a
// worker that gathers the jobs River hands it one at a time into batches of
// up to 10 for one send.
package storecmp

import (
	"context"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"
)

type sendArgs struct {
	Hook    int32  `json:"h"`
	Group   string `json:"g"`
	Payload []byte `json:"p"`
}

func (sendArgs) Kind() string { return "send" }

// riverDesign is River v0.51.2 (open-source) used as the backend.
type riverDesign struct {
	schema string
	insert *river.Client[pgx.Tx] // insert-only: no queues, no workers
	// maxWorkers is each hook queue's MaxWorkers: how many jobs River
	// hands out at once, so how many can wait to fill a batch.
	maxWorkers int
	// linger is how long a partial batch waits for more jobs.
	linger time.Duration
}

func newRiver() *riverDesign { return &riverDesign{maxWorkers: 20, linger: 5 * time.Millisecond} }

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func (r *riverDesign) name() string { return "river" }

func (r *riverDesign) setup(d *db) error {
	ctx := context.Background()
	m, err := rivermigrate.New(riverpgxv5.New(d.pool), &rivermigrate.Config{Schema: d.schema, Logger: quiet})
	if err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return err
	}
	r.schema = d.schema
	r.insert, err = river.NewClient(riverpgxv5.New(d.pool), &river.Config{Schema: d.schema, Logger: quiet})
	return err
}

var queues = []string{"", "h1", "h2", "h3"}

func (r *riverDesign) publish(ctx context.Context, tx pgx.Tx, ev *event) error {
	ps := make([]river.InsertManyParams, len(hookIDs))
	for i, h := range hookIDs {
		ps[i] = river.InsertManyParams{Args: sendArgs{Hook: h, Group: ev.group, Payload: ev.payload}, InsertOpts: &river.InsertOpts{Queue: queues[h]}}
	}
	_, err := r.insert.InsertManyTx(ctx, tx, ps)
	return err
}

func (r *riverDesign) cleanup(ctx context.Context, d *db) error {
	// What River's JobCleaner does once CompletedJobRetentionPeriod
	// (default 24h) has passed.
	_, err := d.pool.Exec(ctx, "DELETE FROM river_job WHERE state = 'completed'")
	return err
}

func (r *riverDesign) deliver(ctx context.Context, p *pgxpool.Pool, owner string, send sendFunc) (wait func() error) {
	workers := river.NewWorkers()
	w := &batchWorker{acc: map[int32]*accumulator{}}
	for _, h := range hookIDs {
		w.acc[h] = &accumulator{hook: h, linger: r.linger, send: send}
	}
	river.AddWorker(workers, w)
	qs := map[string]river.QueueConfig{}
	for _, h := range hookIDs {
		qs[queues[h]] = river.QueueConfig{MaxWorkers: r.maxWorkers}
	}
	c, err := river.NewClient(riverpgxv5.New(p), &river.Config{
		Schema: r.schema, Logger: quiet, ID: owner, Queues: qs, Workers: workers,
		FetchCooldown: time.Millisecond, FetchPollInterval: 50 * time.Millisecond,
	})
	errc := make(chan error, 1)
	if err == nil {
		err = c.Start(ctx)
	}
	if err != nil {
		errc <- err
		return func() error { return <-errc }
	}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		errc <- c.Stop(sctx)
	}()
	return func() error { return <-errc }
}

// batchWorker hands each job to its hook's accumulator and returns when
// the batch holding it was sent.
type batchWorker struct {
	river.WorkerDefaults[sendArgs]
	acc map[int32]*accumulator
}

func (w *batchWorker) Work(ctx context.Context, job *river.Job[sendArgs]) error {
	a := job.Args
	return w.acc[a.Hook].add(ctx, decode(job.ID, a.Group, a.Payload))
}

// accumulator gathers a hook's jobs into batches: sent at 10, or linger
// after the first.
type accumulator struct {
	hook   int32
	linger time.Duration
	send   sendFunc
	mu     sync.Mutex
	cur    *pendingBatch
}

type pendingBatch struct {
	msgs  []msg
	done  chan struct{}
	timer *time.Timer
}

func (a *accumulator) add(ctx context.Context, m msg) error {
	a.mu.Lock()
	if a.cur == nil {
		p := &pendingBatch{done: make(chan struct{})}
		a.cur = p
		p.timer = time.AfterFunc(a.linger, func() { a.flush(p) })
	}
	p := a.cur
	p.msgs = append(p.msgs, m)
	if len(p.msgs) == 10 {
		a.cur = nil
		a.mu.Unlock()
		p.timer.Stop()
		a.send(a.hook, p.msgs)
		close(p.done)
		return nil
	}
	a.mu.Unlock()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (a *accumulator) flush(p *pendingBatch) {
	a.mu.Lock()
	if a.cur != p {
		a.mu.Unlock()
		return
	}
	a.cur = nil
	a.mu.Unlock()
	a.send(a.hook, p.msgs)
	close(p.done)
}
