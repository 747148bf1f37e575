//go:build !unix

package sqshook_test

import (
	"runtime/metrics"
	"time"
)

// cpuTime returns the Go runtime's estimate of the process's CPU time
// (getrusage is unix-only).
func cpuTime() time.Duration {
	s := []metrics.Sample{{Name: "/cpu/classes/total:cpu-seconds"}}
	metrics.Read(s)
	return time.Duration(s[0].Value.Float64() * float64(time.Second))
}
