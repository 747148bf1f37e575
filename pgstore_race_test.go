//go:build race

// pgstore_race_test.go says that the race detector is on, for the
// PostgreSQL store's tests that publish fewer events under it.

package sqshook_test

const pgRace = true
