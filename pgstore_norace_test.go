//go:build !race

// pgstore_norace_test.go says that the race detector is off: the
// PostgreSQL store's tests publish their full counts.

package sqshook_test

const pgRace = false
