//go:build unix

package sqshook_test

import (
	"syscall"
	"time"
)

// cpuTime returns the process's user and system CPU time (getrusage).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
