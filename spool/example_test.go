// This file holds the package's examples.

package spool_test

import (
	"errors"
	"fmt"
	"os"

	"github.com/sqshook/sqshook/spool"
)

// A record is appended once with every hook copy pending; each copy is
// settled on its own; after a restart only the unsettled copies come back.
func Example() {
	dir, err := os.MkdirTemp("", "spool-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	s, err := spool.Open(dir, spool.Options{}) // SyncGroup: Append waits for a shared fsync
	if err != nil {
		panic(err)
	}
	seq, err := s.Append(spool.Record{
		Type:    "message.new",
		Body:    []byte(`{"type":"message.new"}`),
		EventID: "ev-1",
		Hooks:   []string{"acme/orders", "acme/audit"},
	})
	if err != nil {
		panic(err)
	}
	if err := s.Settle(seq, "acme/orders"); err != nil { // SQS took that copy
		panic(err)
	}
	s.Close()

	s, err = spool.Open(dir, spool.Options{}) // after a restart
	if err != nil {
		panic(err)
	}
	defer s.Close()
	_, err = spool.Open(dir, spool.Options{})
	fmt.Println("second Open refused:", errors.Is(err, spool.ErrLocked))
	for e, err := range s.Pending(0) {
		if err != nil {
			panic(err)
		}
		fmt.Println(e.Seq, e.Record.EventID, e.Record.Hooks)
	}
	// Output:
	// second Open refused: true
	// 1 ev-1 [acme/audit]
}
