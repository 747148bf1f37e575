// pgstore_clock_export_test.go gives the external tests of the PostgreSQL
// store a dispatcher whose wall clock is off (WithClockOffset), as on a
// host whose clock is set wrong.

package sqshook

import "time"

// WithClockOffset is withClock with the real clock moved by offset: Now
// reads offset ahead (behind, when negative) of the host's clock; timers
// run at the real rate.
func WithClockOffset(offset time.Duration) Option { return withClock(offsetClock{offset}) }

// offsetClock is the real clock moved by offset.
type offsetClock struct{ offset time.Duration }

func (c offsetClock) Now() time.Time                            { return time.Now().Add(c.offset) }
func (offsetClock) AfterFunc(d time.Duration, f func()) stopper { return time.AfterFunc(d, f) }
