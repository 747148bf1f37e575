package sqshook

import (
	"strings"
	"testing"
)

// Every test of the package runs with illegal moves panicking: a pipeline
// that moves a copy off the table fails the test that drove it there.
func init() { strictCopyStates = true }

// legalMoves is the table of copyState's doc, written out a second time:
// the test fails if copyTransitions and the documented table disagree.
var legalMoves = map[copyState][]copyState{
	copyNew:      {copyQueued, copySpilled, copyParked, copyDeadLettered},
	copyParked:   {copySpilled, copyDeadLettered},
	copyQueued:   {copyInFlight, copyHeld, copyDeadLettered, copyKept},
	copyInFlight: {copyDelivered, copyDeadLettered, copyKept, copyRetrying, copyQueued, copyHeld},
	copyRetrying: {copyQueued, copyDeadLettered, copyKept},
	copySpilled:  {copyQueued, copyDeadLettered, copyKept, copyGone},
	copyHeld:     {copyQueued, copyDeadLettered, copyKept, copyGone},
}

func TestCopyStateTransitions(t *testing.T) {
	for from := copyState(0); from < copyStates; from++ {
		legal := map[copyState]bool{}
		for _, to := range legalMoves[from] {
			legal[to] = true
		}
		for to := copyState(0); to < copyStates; to++ {
			err := from.to(to)
			if legal[to] && err != nil {
				t.Errorf("%v → %v: %v, want legal", from, to, err)
			}
			if !legal[to] && err == nil {
				t.Errorf("%v → %v: legal, want refused", from, to)
			}
			if !legal[to] && err != nil && !strings.Contains(err.Error(), from.String()) {
				t.Errorf("%v → %v: error %q does not name the state", from, to, err)
			}
		}
		if from.settled() && len(legalMoves[from]) > 0 {
			t.Errorf("%v is an end state with moves out", from)
		}
	}
	if err := copyStates.to(copyNew); err == nil {
		t.Error("a state off the table moved")
	}
}

// TestCopyStateMovePanics checks that an illegal move of an entry panics
// under the tests' strict mode, and a legal one does not.
func TestCopyStateMovePanics(t *testing.T) {
	e := &entry{}
	e.move(copyQueued)
	e.move(copyInFlight)
	e.move(copyDelivered)
	defer func() {
		if recover() == nil {
			t.Fatal("a delivered copy moved back to queued without a panic")
		}
		if e.state != copyDelivered {
			t.Errorf("state %v after the refused move, want delivered", e.state)
		}
	}()
	e.move(copyQueued)
}

// TestCopyStateWalk walks every legal transition from new, through every
// state reachable, with an entry's move: each path ends settled.
func TestCopyStateWalk(t *testing.T) {
	seen := map[[2]copyState]bool{}
	var walk func(path []copyState)
	walk = func(path []copyState) {
		last := path[len(path)-1]
		for _, to := range legalMoves[last] {
			if seen[[2]copyState{last, to}] {
				continue
			}
			seen[[2]copyState{last, to}] = true
			e := &entry{state: last}
			e.move(to)
			if e.state != to {
				t.Fatalf("%v: moved to %v, state %v", path, to, e.state)
			}
			walk(append(path[:len(path):len(path)], to))
		}
	}
	walk([]copyState{copyNew})
	n := 0
	for _, tos := range legalMoves {
		n += len(tos)
	}
	if len(seen) != n {
		t.Errorf("walked %d transitions from new, want all %d", len(seen), n)
	}
}
