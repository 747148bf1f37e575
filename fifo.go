// fifo.go holds the FIFO message group strategies (GroupByChannel,
// GroupByType) and how a hook applies one to an event.

package sqshook

// GroupStrategy picks the FIFO message group of an event whose GroupID is
// empty, for one hook. Events of one group reach the queue in the order
// Publish accepted them and consumers process them one at a time; different
// groups proceed in parallel. It must be safe for concurrent use, fast (it
// runs in Publish), and return 1-128 characters of SQS's alphanumeric and
// punctuation set: an empty or illegal group dead-letters the event with
// ReasonInvalidField.
//
// It is called only for hooks whose queue is FIFO.
type GroupStrategy func(h Hook, ev Event) string

// GroupByChannel groups an event by the "cid" member of its JSON body (the
// channel id chat events carry, such as "messaging:general"), so each
// channel keeps its order and channels proceed in parallel. Events without a
// non-empty string "cid" at the top level of the body are grouped by event
// type. It is the default strategy.
func GroupByChannel(_ Hook, ev Event) string {
	if cid, ok := topLevelString(ev.Body, "cid"); ok && cid != "" {
		return cid
	}
	return ev.Type
}

// GroupByType groups events by event type: all events of one type form one
// ordered group.
func GroupByType(_ Hook, ev Event) string { return ev.Type }
