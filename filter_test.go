package sqshook_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/sqshook/sqshook"
)

func TestFilterMatch(t *testing.T) {
	tests := []struct {
		patterns []string
		match    []string
		miss     []string
	}{
		{nil, []string{"message.new", "anything.future", ""}, nil},
		{[]string{}, []string{"message.new", "user.banned"}, nil},
		{[]string{"*"}, []string{"message.new", "x"}, nil},
		{[]string{"message.new"}, []string{"message.new"}, []string{"message.newer", "message.ne", "message.updated", "Message.new"}},
		{[]string{"message.*"}, []string{"message.new", "message.updated", "message.flagged.extra"}, []string{"message", "message.", "messages.new", "reaction.new"}},
		{[]string{"message.*", "user.banned"}, []string{"message.deleted", "user.banned"}, []string{"user.unbanned", "channel.updated"}},
		{[]string{"a.b.*"}, []string{"a.b.c"}, []string{"a.b", "a.bc"}},
	}
	for _, tt := range tests {
		f, err := sqshook.CompileFilter(tt.patterns)
		if err != nil {
			t.Fatalf("CompileFilter(%q): %v", tt.patterns, err)
		}
		for _, ev := range tt.match {
			if !f.Match(ev) {
				t.Errorf("CompileFilter(%q).Match(%q) = false, want true", tt.patterns, ev)
			}
		}
		for _, ev := range tt.miss {
			if f.Match(ev) {
				t.Errorf("CompileFilter(%q).Match(%q) = true, want false", tt.patterns, ev)
			}
		}
	}
	var zero sqshook.Filter
	if !zero.Match("message.new") || !zero.MatchesAll() {
		t.Errorf("zero Filter does not match everything")
	}
}

func TestFilterInvalidPatterns(t *testing.T) {
	tests := []struct {
		pattern string
		rule    string
	}{
		{"", "must not be empty"},
		{"message.*.new", `"*" is allowed only`},
		{"mess*", `"*" is allowed only`},
		{"*.new", `"*" is allowed only`},
		{"**", `"*" is allowed only`},
		{"message new", "white space"},
		{"message.\x00", "control"},
		{".message", `must not start with "."`},
		{strings.Repeat("a", 257), "longer than 256"},
	}
	for _, tt := range tests {
		_, err := sqshook.CompileFilter([]string{"ok.type", tt.pattern})
		if err == nil {
			t.Errorf("CompileFilter(%q) = nil error, want %q", tt.pattern, tt.rule)
			continue
		}
		if !errors.Is(err, sqshook.ErrInvalidHook) {
			t.Errorf("CompileFilter(%q) error %v does not wrap ErrInvalidHook", tt.pattern, err)
		}
		if !strings.Contains(err.Error(), "event_types[1]") || !strings.Contains(err.Error(), tt.rule) {
			t.Errorf("CompileFilter(%q) error = %q, want it to name event_types[1] and %q", tt.pattern, err, tt.rule)
		}
	}
}

func TestFilterMatchAllocatesNothing(t *testing.T) {
	f, err := sqshook.CompileFilter([]string{"message.new", "reaction.*", "user.banned", "channel.*"})
	if err != nil {
		t.Fatal(err)
	}
	events := []string{"message.new", "reaction.deleted", "typing.start", "channel.updated", "member.added"}
	allocs := testing.AllocsPerRun(1000, func() {
		for _, ev := range events {
			f.Match(ev)
		}
	})
	if allocs != 0 {
		t.Errorf("Filter.Match allocated %.1f times per run, want 0", allocs)
	}
}

// TestFilterMatchesLikeALinearScan checks the compiled filter against the
// rule it implements, written as the obvious scan over the patterns, on
// generated patterns and event types.
func TestFilterMatchesLikeALinearScan(t *testing.T) {
	parts := []string{"a", "b", "message", "new", "x"}
	rng := rand.New(rand.NewPCG(1, 2))
	word := func(n int) string {
		w := make([]string, n)
		for i := range w {
			w[i] = parts[rng.IntN(len(parts))]
		}
		return strings.Join(w, ".")
	}
	for round := 0; round < 200; round++ {
		var patterns []string
		for range 1 + rng.IntN(6) {
			p := word(1 + rng.IntN(3))
			if rng.IntN(2) == 0 {
				p += ".*"
			}
			patterns = append(patterns, p)
		}
		f, err := sqshook.CompileFilter(patterns)
		if err != nil {
			t.Fatalf("CompileFilter(%q): %v", patterns, err)
		}
		for range 20 {
			ev := word(1 + rng.IntN(4))
			if rng.IntN(5) == 0 {
				ev += "."
			}
			want := false
			for _, p := range patterns {
				if prefix, ok := strings.CutSuffix(p, "*"); ok {
					want = want || (len(ev) > len(prefix) && strings.HasPrefix(ev, prefix))
				} else {
					want = want || ev == p
				}
			}
			if got := f.Match(ev); got != want {
				t.Errorf("CompileFilter(%q).Match(%q) = %t, want %t", patterns, ev, got, want)
			}
		}
	}
}

func TestFilterPatternCountLimit(t *testing.T) {
	atLimit := make([]string, sqshook.MaxEventTypes)
	for i := range atLimit {
		atLimit[i] = fmt.Sprintf("t%d.*", i)
	}
	if _, err := sqshook.CompileFilter(atLimit); err != nil {
		t.Fatalf("CompileFilter(%d patterns) = %v, want nil", len(atLimit), err)
	}
	huge := make([]string, 1_000_000)
	for i := range huge {
		huge[i] = "message.*"
	}
	var err error
	// Refused before any pattern is compiled: a handful of allocations
	// for the error, not one per pattern.
	allocs := testing.AllocsPerRun(3, func() { _, err = sqshook.CompileFilter(huge) })
	if err == nil || !errors.Is(err, sqshook.ErrInvalidHook) {
		t.Fatalf("CompileFilter(1,000,000 patterns) error = %v, want one wrapping ErrInvalidHook", err)
	}
	if want := fmt.Sprintf("at most %d", sqshook.MaxEventTypes); !strings.Contains(err.Error(), "event_types") || !strings.Contains(err.Error(), want) {
		t.Errorf("error = %q, want it to name event_types and %q", err, want)
	}
	if allocs > 10 {
		t.Errorf("refusing 1,000,000 patterns allocated %.0f times, want at most 10", allocs)
	}
}

func TestValidateHooksPatternCountLimit(t *testing.T) {
	h := sqshook.Hook{
		ID: "h", Enabled: true, HookType: sqshook.HookTypeSQS,
		SQSQueueURL: "https://sqs.us-east-1.amazonaws.com/123456789012/q", SQSRegion: "us-east-1",
		SQSAuthType: "resource", EventTypes: make([]string, sqshook.MaxEventTypes+1),
	}
	for i := range h.EventTypes {
		h.EventTypes[i] = "message.new"
	}
	_, err := sqshook.ValidateHooks([]sqshook.Hook{h}, sqshook.ValidateOptions{})
	if err == nil || !strings.Contains(err.Error(), "hooks[0].event_types") || !strings.Contains(err.Error(), fmt.Sprintf("at most %d", sqshook.MaxEventTypes)) {
		t.Fatalf("ValidateHooks(%d patterns) error = %v, want one naming hooks[0].event_types and the limit", len(h.EventTypes), err)
	}
}
