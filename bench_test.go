package sqshook_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/sqshook/sqshook"
)

// BenchmarkFilterMatch shows that matching costs no allocation (0 allocs/op)
// for every kind of pattern.
func BenchmarkFilterMatch(b *testing.B) {
	cases := []struct {
		name     string
		patterns []string
		event    string
	}{
		{"all", nil, "message.new"},
		{"exact-hit", []string{"message.new", "user.banned", "channel.updated"}, "user.banned"},
		{"prefix-hit", []string{"reaction.*", "message.*"}, "message.updated"},
		{"miss", []string{"reaction.*", "message.*", "user.banned"}, "typing.start"},
	}
	for _, c := range cases {
		f, err := sqshook.CompileFilter(c.patterns)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				if f.Match(c.event) {
					n++
				}
			}
			if c.name != "miss" && n == 0 {
				b.Fatal("no match")
			}
		})
	}
}

// BenchmarkPublish measures the cost of Publish on the caller's goroutine,
// with the SQS side answering at once (a fake client): hooks=N/match=M.
func BenchmarkPublish(b *testing.B) {
	body := chatEventJSON(b, "message.new", "Welcome to the Community!")
	for _, c := range []struct{ hooks, match int }{{1, 1}, {8, 1}, {8, 8}, {8, 0}} {
		b.Run("hooks="+strconv.Itoa(c.hooks)+"/match="+strconv.Itoa(c.match), func(b *testing.B) {
			var hooks []sqshook.Hook
			for i := 0; i < c.hooks; i++ {
				typ := "reaction.new"
				if i < c.match {
					typ = "message.new"
				}
				hooks = append(hooks, hookFor("h"+strconv.Itoa(i), "q"+strconv.Itoa(i), typ))
			}
			fake := newFake()
			fake.respond = func(_ int, in *sqsInput) (*sqsOutput, error) { return okAll(in), nil }
			d, err := sqshook.New(hooks,
				sqshook.WithClientFunc(func(context.Context, sqshook.Hook) (sqshook.SQSAPI, error) { return fake, nil }),
				sqshook.WithMaxBuffered(1_000_000, 1<<30),
			)
			if err != nil {
				b.Fatal(err)
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				_ = d.Close(ctx)
			}()
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if err := d.Publish(ctx, sqshook.Event{Type: "message.new", Body: body}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
