//go:build !race

// auth_norace_internal_test.go says that the race detector is off (see
// auth_race_internal_test.go).

package sqshook

const poolTestRace = false
