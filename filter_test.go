package sqshook_test

import (
	"errors"
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
