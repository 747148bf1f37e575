// This file owns the package's sentinel errors.

package spool

import "errors"

// Sentinel errors. Each says where it shows up; match them with errors.Is.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("spool: closed")

	// ErrLocked is wrapped by Open when another process, or another Open in
	// this process, holds the directory's lock file.
	ErrLocked = errors.New("spool: directory in use")

	// ErrQuota is returned by Append when the record would take the bytes on
	// disk past Options.Quota. Nothing is written; the caller decides whether
	// to wait for settlements or to give up.
	ErrQuota = errors.New("spool: quota exceeded")

	// ErrDiskFull is wrapped, together with the system error, by Append
	// (and Open) when the file system has no space left. The record is not
	// accepted; records accepted before stay intact.
	ErrDiskFull = errors.New("spool: disk full")

	// ErrReadOnly is wrapped, together with the system error, by Open and
	// Append when the directory or its file system is not writable.
	ErrReadOnly = errors.New("spool: directory not writable")

	// ErrInvalidRecord is wrapped by Append's validation errors, which name
	// the field and the rule.
	ErrInvalidRecord = errors.New("spool: invalid record")

	// ErrUnsafeDir is wrapped by Open when the directory, or its lock file,
	// could let another local user read or redirect the spool's writes: a
	// directory owned by another user or writable by group or others, or a
	// lock file that is a symbolic link or not a regular file. The error
	// says which and why; Open changes nothing in such a directory.
	ErrUnsafeDir = errors.New("spool: unsafe directory")

	// ErrNotPending is wrapped by Settle when the copy is unknown or already
	// settled. Settling twice is harmless; callers may ignore it.
	ErrNotPending = errors.New("spool: copy not pending")
)

// errNotRegular is wrapped when the name of a spool file is taken by
// something else than a regular file (a symbolic link, a directory, a named
// pipe, a device): Open reports it as damage and does not follow it.
var errNotRegular = errors.New("not a regular file")

// errOversized is wrapped when a segment or settlement file is larger than
// one can be with the spool's Options: Open reports it as damage without
// reading it.
var errOversized = errors.New("larger than the spool writes")
