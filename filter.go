// filter.go compiles a hook's event_types into a Filter and matches event
// types against it.

package sqshook

import (
	"fmt"
	"strings"
)

// Filter decides which event types a hook receives. It is compiled once from
// a hook's event_types and then matched for every published event.
//
// Patterns are:
//   - an exact event type, such as "message.new";
//   - "*", every event type;
//   - a prefix wildcard ending in ".*", such as "message.*", every event type
//     that starts with "message." (it does not match "message" itself).
//
// An empty pattern list matches every event type, present and future, as
// Stream's event_types does.
//
// The zero Filter matches everything. A Filter is immutable and safe for
// concurrent use.
//
// Matching costs the same whatever the number of patterns: exact types are
// looked up in a map, and prefixes by the event type's own prefixes that
// end in "." (one map look-up per dot in the event type).
type Filter struct {
	set      bool // false: match everything
	all      bool
	exact    map[string]struct{}
	prefixes map[string]struct{} // "message." for "message.*"
}

// maxEventTypeLen bounds a single pattern; event types are short names.
const maxEventTypeLen = 256

// MaxEventTypes is the most patterns one hook's event_types may hold.
// Chat servers have a few dozen event types; the cap keeps a customer's
// hook JSON from making New or SetHooks slow or large.
const MaxEventTypes = 512

// CompileFilter compiles event_types patterns. It reports every invalid
// pattern at once, naming its position: an empty pattern, a pattern longer
// than 256 bytes, white space or control characters, or a "*" anywhere but as
// the whole pattern or after a final ".". More than MaxEventTypes patterns
// are refused before any is looked at.
func CompileFilter(patterns []string) (Filter, error) {
	if len(patterns) == 0 {
		return Filter{}, nil
	}
	if len(patterns) > MaxEventTypes {
		return Filter{}, fmt.Errorf("%w: event_types: %d patterns, at most %d allowed", ErrInvalidHook, len(patterns), MaxEventTypes)
	}
	f := Filter{set: true}
	var errs []string
	for i, p := range patterns {
		if err := checkPattern(p); err != "" {
			errs = append(errs, fmt.Sprintf("event_types[%d]: %s", i, err))
			continue
		}
		switch {
		case p == "*":
			f.all = true
		case strings.HasSuffix(p, ".*"):
			if f.prefixes == nil {
				f.prefixes = make(map[string]struct{})
			}
			f.prefixes[p[:len(p)-1]] = struct{}{} // keep the dot
		default:
			if f.exact == nil {
				f.exact = make(map[string]struct{}, len(patterns))
			}
			f.exact[p] = struct{}{}
		}
	}
	if len(errs) > 0 {
		return Filter{}, fmt.Errorf("%w: %s", ErrInvalidHook, strings.Join(errs, "; "))
	}
	return f, nil
}

// checkPattern returns the broken rule, or "" when p is a valid pattern.
func checkPattern(p string) string {
	switch {
	case p == "":
		return "must not be empty"
	case len(p) > maxEventTypeLen:
		return fmt.Sprintf("longer than %d bytes", maxEventTypeLen)
	case p == "*":
		return ""
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return fmt.Sprintf("%q: white space and control characters are not allowed", p)
		case c == '*' && (i != len(p)-1 || i == 0 || p[i-1] != '.'):
			return fmt.Sprintf("%q: \"*\" is allowed only as the whole pattern or after a final \".\" (as in \"message.*\")", p)
		}
	}
	if strings.HasPrefix(p, ".") {
		return fmt.Sprintf("%q: must not start with \".\"", p)
	}
	return ""
}

// MatchesAll reports whether f matches every event type.
func (f Filter) MatchesAll() bool { return !f.set || f.all }

// Match reports whether eventType passes the filter. It allocates nothing.
func (f Filter) Match(eventType string) bool {
	if !f.set || f.all {
		return true
	}
	if _, ok := f.exact[eventType]; ok {
		return true
	}
	if len(f.prefixes) == 0 {
		return false
	}
	// "message.*" matches "message.new" but not "message.": only a dot
	// with something after it ends a prefix.
	for i := 0; i < len(eventType)-1; i++ {
		if eventType[i] != '.' {
			continue
		}
		if _, ok := f.prefixes[eventType[:i+1]]; ok {
			return true
		}
	}
	return false
}
