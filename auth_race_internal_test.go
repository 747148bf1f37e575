//go:build race

// auth_race_internal_test.go says that the race detector is on, for the
// client pool tests that use fewer tenants under it.

package sqshook

const poolTestRace = true
