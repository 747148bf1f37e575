// copystate.go names the states of a hook's copy of an event and the
// transitions between them, once: the pipeline (pipe.go, sender.go,
// backlog.go) moves a copy only along this table.

package sqshook

import "fmt"

// copyState is where a hook's copy of an event is. A copy starts as
// copyNew when the hook accepts it (acceptLocked) and ends delivered,
// dead-lettered, kept or gone (settleLocked); in between it is in memory
// (queued, in flight, retrying) or in the store only (spilled, held;
// parked copies belong to no pipe yet).
//
//	from        to
//	new         queued, spilled, parked, dead-lettered
//	parked      spilled (its tenant's SetHooks), dead-lettered
//	queued      in flight, held, dead-lettered, kept
//	in flight   delivered, dead-lettered, kept, retrying, queued, held
//	retrying    queued, dead-lettered, kept
//	spilled     queued, dead-lettered, kept, gone
//	held        queued, dead-lettered, kept, gone
//
// A copy goes from in flight back to queued when its batch was too long
// (split), to held when its retry budget ran out with a store (and the
// rest of its FIFO group, queued or in flight, goes with it). Kept is
// Close leaving it in the store for the next New; gone is a stored copy
// settled meanwhile by another path, counted nowhere.
type copyState uint8

const (
	copyNew          copyState = iota // accepted, not placed yet
	copyQueued                        // in the hook's queue, in memory
	copyInFlight                      // in a SendMessageBatch call
	copyRetrying                      // waiting for its back-off
	copySpilled                       // in the store only, behind a full share or a backlog
	copyHeld                          // in the store only, its retry budget spent
	copyParked                        // resumed by New for a tenant not configured yet
	copyDelivered                     // acknowledged by SQS
	copyDeadLettered                  // reported to the dead-letter callback
	copyKept                          // left in the store by Close
	copyGone                          // settled in the store by another path
	copyStates                        // the number of states
)

var copyStateNames = [copyStates]string{
	"new", "queued", "in flight", "retrying", "spilled", "held", "parked",
	"delivered", "dead-lettered", "kept", "gone",
}

// String returns the state's name, as in the table above.
func (s copyState) String() string {
	if s < copyStates {
		return copyStateNames[s]
	}
	return fmt.Sprintf("copyState(%d)", uint8(s))
}

// copyTransitions is the table above: copyTransitions[from] has bit to set
// when the move is legal.
var copyTransitions = [copyStates]uint16{
	copyNew:      stateSet(copyQueued, copySpilled, copyParked, copyDeadLettered),
	copyParked:   stateSet(copySpilled, copyDeadLettered),
	copyQueued:   stateSet(copyInFlight, copyHeld, copyDeadLettered, copyKept),
	copyInFlight: stateSet(copyDelivered, copyDeadLettered, copyKept, copyRetrying, copyQueued, copyHeld),
	copyRetrying: stateSet(copyQueued, copyDeadLettered, copyKept),
	copySpilled:  stateSet(copyQueued, copyDeadLettered, copyKept, copyGone),
	copyHeld:     stateSet(copyQueued, copyDeadLettered, copyKept, copyGone),
}

func stateSet(ss ...copyState) uint16 {
	var b uint16
	for _, s := range ss {
		b |= 1 << s
	}
	return b
}

// settled reports whether s is an end state.
func (s copyState) settled() bool { return s >= copyDelivered && s < copyStates }

// inMemory reports whether a copy in state s holds room in memory.
func (s copyState) inMemory() bool {
	return s == copyQueued || s == copyInFlight || s == copyRetrying
}

// inStore reports whether a copy in state s waits in the store only.
func (s copyState) inStore() bool { return s == copySpilled || s == copyHeld }

// to checks the move from s to next against the table.
func (s copyState) to(next copyState) error {
	if s >= copyStates || next >= copyStates || copyTransitions[s]&(1<<next) == 0 {
		return fmt.Errorf("sqshook: copy moved from %v to %v", s, next)
	}
	return nil
}

// strictCopyStates makes an illegal move panic; the tests set it. Without
// it the move is made all the same: a wrong state must not stop delivery.
var strictCopyStates bool

// move changes e's state along the table.
func (e *entry) move(next copyState) {
	if err := e.state.to(next); err != nil && strictCopyStates {
		panic(err)
	}
	e.state = next
}
