// Package spool is a write-ahead log on local disk for events that must
// outlive the process that accepted them.
//
// A record holds an event once, with the list of hook copies still to
// deliver. [Spool.Append] returns after the record is as durable as the
// [SyncMode] promises; [Spool.Settle] marks one copy done; [Spool.Pending]
// (all hooks) and [Spool.PendingFor] (one hook) read the pending copies back
// in append order, which keeps the order of every FIFO group across a
// restart; [Spool.Get] reads one record. A segment file is deleted when every
// copy in it is settled, so disk use follows the backlog, not the history;
// one such file at a time is kept instead, to be written over by the next
// segment (see Options.SegmentSize).
//
// # Durability
//
// [SyncGroup] (the default) writes each record at once and makes Append wait
// for the next fsync, which covers every record written before it: one fsync
// serves many concurrent Appends, and fsyncs start at most every
// Options.GroupWindow. [SyncAlways] fsyncs inside every Append. [SyncOS]
// leaves the data in the operating system's cache: it survives the crash of
// the process, not of the machine. Settlements are written at once but not
// fsynced before Close: a power loss may bring settled copies back, to be
// delivered again (with the same event id), never lose a pending one.
//
// # Recovery
//
// [Open] rebuilds the index from the files. Every record carries a CRC32C. An
// unfinished write at the end of the newest segment is cut off; a damaged
// record elsewhere is reported (Options.OnDamage and [Spool.Recovery]) with
// what still decodes of it, and recovery goes on with the next record. A
// segment holding only damaged or settled records is deleted after Open
// reported it.
//
// # Errors
//
// A full disk or a read-only directory fails Append with an error wrapping
// [ErrDiskFull] or [ErrReadOnly]; the partial write is cut back so records
// accepted before stay intact and readable. Past Options.Quota, Append returns
// [ErrQuota] without writing. A second Open of a directory (by this or another
// process) fails with [ErrLocked].
//
// # The directory
//
// The directory holds every pending event in clear, bodies included. It
// must be owned by the server's user and writable by nobody else: Open
// refuses one owned by another user or writable by its group or others
// ([ErrUnsafeDir]), since whoever can write it can replace the spool's files
// with links that aim its writes at other files. Open creates a missing
// directory 0700 and the spool's files are 0600 (Options.Perm widens them to
// a group's or everyone's read). Open does not follow a symbolic link in the
// directory, and reads no file larger than a spool of its Options writes: a
// segment or settlement file that is a link, not a regular file or
// oversized is reported as damage and removed; a linked lock file fails
// Open.
package spool

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// SyncMode says when Append's record reaches stable storage.
type SyncMode int

const (
	// SyncGroup writes the record and waits for a group fsync that covers
	// it; one fsync runs at a time and covers every record written before it
	// began. The default.
	SyncGroup SyncMode = iota
	// SyncAlways fsyncs inside every Append; Appends do not share fsyncs.
	SyncAlways
	// SyncOS writes the record and returns without fsync: the record
	// survives a crash of the process, not of the machine.
	SyncOS
)

// String returns the mode's name: "group", "always" or "os".
func (m SyncMode) String() string {
	switch m {
	case SyncGroup:
		return "group"
	case SyncAlways:
		return "always"
	case SyncOS:
		return "os"
	}
	return fmt.Sprintf("SyncMode(%d)", int(m))
}

// Defaults of Options.
const (
	// DefaultSegmentSize is the size at which a new segment file begins.
	DefaultSegmentSize = 16 << 20
	// DefaultMaxRecordSize is the largest encoded record Append accepts.
	DefaultMaxRecordSize = 4 << 20
	// DefaultPerm is the mode of the spool's files: the server's user only
	// (and 0700 for a directory Open creates).
	DefaultPerm fs.FileMode = 0o600
)

// Options configures a Spool. The zero value is valid.
type Options struct {
	// Sync is the durability of Append. Defaults to SyncGroup.
	Sync SyncMode
	// GroupWindow is the least time between the starts of two fsyncs in
	// SyncGroup mode. Fsyncs never overlap: each covers every record written
	// while the previous one ran, so fsyncs happen at most once per fsync
	// duration (a fraction of a millisecond to a few on common disks). A
	// positive window spaces them further, sharing each among more Appends
	// at the cost of up to that much latency. Defaults to 0: no extra wait.
	GroupWindow time.Duration
	// SegmentSize is the size at which Append starts a new segment file.
	// Space is reclaimed a segment at a time, except that the file of one
	// settled segment of at least half this size is kept (across Close and
	// Open too) and written over by the next segment: fsyncs of writes
	// over allocated blocks commit no metadata, which makes them cheaper.
	// Stats.Bytes and Quota count that file; an Append that needs its room
	// deletes it. Defaults to DefaultSegmentSize; at most 1 GiB.
	//
	// Open reads each segment file whole, so it refuses to read one larger
	// than SegmentSize + MaxRecordSize (and a few header bytes): such a
	// file, which a spool of these Options cannot have written, is reported
	// as damage and removed with its records. Lower SegmentSize or
	// MaxRecordSize only once the segments written with the larger values
	// are settled.
	SegmentSize int64
	// Quota bounds the bytes on disk (segments and settlement files); an
	// Append past it returns ErrQuota. 0 means no limit.
	Quota int64
	// MaxRecordSize bounds one encoded record. Defaults to
	// DefaultMaxRecordSize; at most 256 MiB. See SegmentSize for what
	// lowering it means to the segments on disk.
	MaxRecordSize int
	// Perm is the mode of the files the spool creates (segments,
	// settlement files, the lock file); a directory Open creates gets the
	// same with search permission added wherever read is given (0600 makes
	// it 0700, 0640 makes it 0750). Defaults to DefaultPerm, 0600: the
	// files hold event bodies in clear, and nobody but the server's user
	// reads them. Read for the group or others (0640, 0604, 0644) lets
	// another account read the spool, a backup agent say, at the price of
	// every event body in it; anything else is refused: the owner needs read
	// and write, nobody else may write, nobody executes. The process's umask
	// still applies, and only narrows. Open narrows a wider mode of the
	// files it finds (an earlier version made them 0644); it never changes
	// an existing directory's mode, which it checks instead (see Open).
	Perm fs.FileMode
	// OnDamage, if set, is called by Open for every damaged record found,
	// before Open returns. The same damage is also in Spool.Recovery.
	OnDamage func(Damage)

	fs fileSystem // nil: the os package
}

// Stats is a snapshot of a spool's size.
type Stats struct {
	// Bytes is the size of the segment and settlement files, and of the
	// settled segment file kept to be written over, if any.
	Bytes int64
	// Quota is Options.Quota (0: none).
	Quota int64
	// Records counts records with at least one pending copy.
	Records int
	// Pending counts pending copies.
	Pending int
	// Segments counts segment files.
	Segments int
}

// Spool is a write-ahead log of events and their pending hook copies in one
// directory. Its methods are safe for concurrent use.
type Spool struct {
	dir  string
	opts Options
	fs   fileSystem
	lock *dirLock
	// segLimit is the largest a segment file of these Options can be; Open
	// does not read a larger one.
	segLimit int64

	mu       sync.Mutex
	closed   bool
	broken   error // set when a failed write could not be undone
	next     Seq
	durable  Seq // highest seq whose Append may have returned nil
	segs     []*segment
	active   *segment
	spare    string // path of the settled segment file kept for reuse; "" for none
	spareLen int64  // its size
	bytes    int64
	records  int
	pending  int
	ackBuf   []byte
	interned map[string]*[]string
	keyBuf   []byte // intern's lookup key
	recovery Recovery

	// group commit (SyncGroup)
	commitMu sync.Mutex // held by whoever runs commit: one fsync at a time
	group    *syncGroup
	unsynced []syncFile
	kick     chan struct{}
	stop     chan struct{}
	wg       sync.WaitGroup
}

// syncGroup is the set of Appends waiting for one fsync.
type syncGroup struct {
	done chan struct{}
	err  error
	last Seq
}

// syncFile is a segment file written since the last group fsync.
type syncFile struct {
	seg   *segment
	w     writeFile
	close bool // the segment was rolled: close w after the fsync
}

// Open opens the spool in dir, creating the directory if needed (dir with
// the mode Options.Perm gives it, the directories above it 0755), locks it
// and recovers its records. A directory locked by another Spool, in this
// process or another, is refused with an error wrapping ErrLocked.
//
// The directory, found or created, must be owned by the process's
// effective user and not writable by its group or others; a lock file in
// it must be a regular file, not a link. Otherwise Open fails with an error
// wrapping ErrUnsafeDir that says why, and changes nothing. The directories
// above it are not checked: keep them writable only by their owner (or
// sticky, as /tmp), or another user could move the spool's directory away.
// On systems without POSIX owners and modes (Windows, whose access rules
// are ACLs) the owner and mode are not checked.
func Open(dir string, opts Options) (*Spool, error) {
	if opts.GroupWindow < 0 {
		return nil, fmt.Errorf("spool: Options.GroupWindow %v is negative; 0 means no wait", opts.GroupWindow)
	}
	if opts.SegmentSize <= 0 {
		opts.SegmentSize = DefaultSegmentSize
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = DefaultMaxRecordSize
	}
	if opts.SegmentSize > maxSegmentSize {
		return nil, fmt.Errorf("spool: Options.SegmentSize %d exceeds the most, %d", opts.SegmentSize, maxSegmentSize)
	}
	if opts.MaxRecordSize > maxFrame {
		return nil, fmt.Errorf("spool: Options.MaxRecordSize %d exceeds the most, %d", opts.MaxRecordSize, maxFrame)
	}
	if opts.Quota < 0 {
		return nil, fmt.Errorf("spool: Options.Quota %d is negative; 0 means no limit", opts.Quota)
	}
	if opts.Sync < SyncGroup || opts.Sync > SyncOS {
		return nil, fmt.Errorf("spool: Options.Sync %d is not a SyncMode", int(opts.Sync))
	}
	if opts.Perm == 0 {
		opts.Perm = DefaultPerm
	}
	if opts.Perm&^0o644 != 0 || opts.Perm&0o600 != 0o600 {
		return nil, fmt.Errorf("spool: Options.Perm %04o: the owner needs read and write (0600), group and others may get read only (at most 0644)", uint32(opts.Perm))
	}
	fsys := opts.fs
	if fsys == nil {
		fsys = osFS{}
	}
	if err := makeDir(dir, dirPerm(opts.Perm)); err != nil {
		return nil, err
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	lock, err := lockDir(dir, opts.Perm)
	if err != nil {
		return nil, err
	}
	s := &Spool{dir: dir, opts: opts, fs: fsys, lock: lock, next: 1, interned: map[string]*[]string{},
		segLimit: min(opts.SegmentSize+int64(opts.MaxRecordSize)+frameHeader+int64(segHeader), maxSegmentFile)}
	if err := s.recover(); err != nil {
		s.closeFiles()
		lock.unlock()
		return nil, err
	}
	if opts.Sync == SyncGroup {
		s.kick = make(chan struct{}, 1)
		s.stop = make(chan struct{})
		s.wg.Add(1)
		go s.committer()
	}
	return s, nil
}

// makeDir creates dir with mode perm, and the directories above it 0755,
// unless it exists.
func makeDir(dir string, perm fs.FileMode) error {
	clean := filepath.Clean(dir)
	if err := os.MkdirAll(filepath.Dir(clean), 0o755); err != nil {
		return classify("spool: create directory "+dir, err)
	}
	if err := os.Mkdir(clean, perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return classify("spool: create directory "+dir, err)
	}
	return nil
}

// dirPerm is the mode of a directory whose files have mode perm: search
// permission wherever read is given.
func dirPerm(perm fs.FileMode) fs.FileMode {
	return perm | (perm&0o444)>>2
}

// recover rebuilds the index from the directory.
func (s *Spool) recover() error {
	files, err := listSegments(s.dir, s.fs)
	if err != nil {
		return err
	}
	// A file with a segment's name that cannot be one, by its type or its
	// size, is damage: not read, not followed, removed.
	good := files[:0]
	for _, sf := range files {
		switch path := filepath.Join(s.dir, sf.name); {
		case !sf.mode.IsRegular():
			s.dropBadSegment(sf, 0, fmt.Errorf("spool: segment file %w", notRegular(path, sf.mode)))
		case sf.size > s.segLimit:
			s.dropBadSegment(sf, sf.size, s.oversized(path, sf.size))
		default:
			good = append(good, sf)
		}
	}
	files = good
	for i, sf := range files {
		path := filepath.Join(s.dir, sf.name)
		b, size, err := s.readSegment(path)
		if errors.Is(err, errNotRegular) {
			err = fmt.Errorf("spool: segment file %w", err)
		}
		if errors.Is(err, errNotRegular) || errors.Is(err, errOversized) {
			s.dropBadSegment(sf, size, err) // changed since it was listed
			continue
		}
		if err != nil {
			return fmt.Errorf("spool: read segment %s: %w", path, err)
		}
		last := i == len(files)-1
		var limit Seq
		if !last {
			limit = files[i+1].first
		}
		res := scanSegment(sf.name, b, sf.first, limit, last, s.intern)
		g := &segment{first: sf.first, path: path, ackPath: strings.TrimSuffix(path, segExt) + ackExt,
			size: int64(len(b)), recs: res.recs}
		if (last || res.stale >= 0) && res.end < int64(len(b)) {
			// A torn write, or records of the file's previous use: cut.
			if last {
				torn := int64(len(b))
				if res.stale >= 0 {
					torn = res.stale
				}
				s.recovery.TornBytes = torn - res.end
			}
			if err := s.truncateFile(path, res.end); err != nil {
				return err
			}
			g.size = res.end
		}
		g.durable = g.size
		acks, ackSize, ackLen, err := readAcks(g.ackPath, ackLimit(int64(len(b))), s.opts.Perm)
		if errors.Is(err, errNotRegular) || errors.Is(err, errOversized) {
			// Not settlements the spool wrote: ignored and removed, the
			// copies stay pending (delivered again rather than lost).
			s.recovery.Damaged = append(s.recovery.Damaged, Damage{Segment: filepath.Base(g.ackPath), Size: ackLen,
				Err: fmt.Errorf("%w; ignored and removed, the segment's copies stay pending", err)})
			s.fs.Remove(g.ackPath)
			acks, ackSize, ackLen, err = nil, 0, 0, nil
		}
		if err != nil {
			return err
		}
		if ackLen > ackSize {
			// A torn settlement: cut it so later entries stay aligned.
			if err := s.truncateFile(g.ackPath, ackSize); err != nil {
				return err
			}
		}
		g.ackSize = ackSize
		for j := range g.recs {
			r := &g.recs[j]
			for _, idx := range acks[r.seq] {
				if int(idx) < len(r.ids()) && !r.isSettled(int(idx)) {
					r.settle(int(idx))
					r.left--
				}
			}
			if r.left > 0 {
				g.pending += int(r.left)
				g.live++
			}
		}
		for _, d := range res.damaged {
			if d.Seq != 0 {
				var left []string
				for k, h := range d.Partial.Hooks {
					if !slices.Contains(acks[d.Seq], uint32(k)) {
						left = append(left, h)
					}
				}
				d.Partial.Hooks = left
				if d.Seq >= s.next {
					s.next = d.Seq + 1
				}
			}
			s.recovery.Damaged = append(s.recovery.Damaged, d)
		}
		if res.maxSeq >= s.next {
			s.next = res.maxSeq + 1
		}
		if sf.first > s.next {
			s.next = sf.first
		}
		s.segs = append(s.segs, g)
		s.bytes += g.size + g.ackSize
		s.records += g.live
		s.pending += g.pending
	}
	if err := s.recoverSpare(); err != nil {
		return err
	}
	s.durable = s.next - 1
	for _, d := range s.recovery.Damaged {
		if s.opts.OnDamage != nil {
			s.opts.OnDamage(d)
		}
	}
	// Segments with nothing pending are of no further use.
	kept := s.segs[:0]
	for _, g := range s.segs {
		if g.pending == 0 {
			s.removeSegment(g)
			continue
		}
		kept = append(kept, g)
	}
	s.segs = kept
	s.recovery.Segments = len(s.segs)
	s.recovery.Records = s.records
	s.recovery.Pending = s.pending
	return nil
}

// readSegment reads a segment file whole; one larger than a segment of
// these Options can be is not read (errOversized), nor one that is not a
// regular file (errNotRegular). It returns the bytes and the file's size.
// A wider mode than Options.Perm is narrowed.
func (s *Spool) readSegment(path string) ([]byte, int64, error) {
	f, fi, err := openRead(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	size := fi.Size()
	if size > s.segLimit {
		return nil, size, s.oversized(path, size)
	}
	if err := narrow(f, fi, s.opts.Perm); err != nil {
		return nil, size, err
	}
	b := make([]byte, size)
	n, err := io.ReadFull(f, b)
	if err == io.ErrUnexpectedEOF || err == io.EOF {
		err = nil // shorter than when it was looked at: what is there is the segment
	}
	return b[:n], size, err
}

// oversized is the error for a segment file of size bytes at path, larger
// than s.segLimit.
func (s *Spool) oversized(path string, size int64) error {
	return fmt.Errorf("spool: segment %s is %d bytes, more than a segment of these Options can be (%d: SegmentSize, MaxRecordSize and headers), not read: %w",
		filepath.Base(path), size, s.segLimit, errOversized)
}

// dropBadSegment reports a file with a segment's name that is not one (not
// a regular file, or larger than a segment can be) as damage and removes
// it, with its settlement file, so that the next Open does not find it
// again. A link is removed, not what it points at. Numbering goes on above
// its name, which a directory (not removed if it holds files) keeps.
func (s *Spool) dropBadSegment(sf segFile, size int64, err error) {
	s.recovery.Damaged = append(s.recovery.Damaged, Damage{Segment: sf.name, Size: size,
		Err: fmt.Errorf("%w; removed", err)})
	if sf.first >= s.next {
		s.next = sf.first + 1
	}
	path := filepath.Join(s.dir, sf.name)
	if rerr := s.fs.Remove(path); rerr == nil || errors.Is(rerr, fs.ErrNotExist) {
		s.fs.Remove(strings.TrimSuffix(path, segExt) + ackExt)
	}
}

// recoverSpare adopts the spare file left by the last run, if any (removing
// others, which only a crash between two renames could leave), and makes the
// numbering continue above the records it holds. A spare larger than a
// segment of these Options can be, or with a wider mode than Options.Perm
// (an earlier version's), is removed instead: written over, it would make
// such a segment.
func (s *Spool) recoverSpare() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return fmt.Errorf("spool: read directory %s: %w", s.dir, err)
	}
	var best Seq
	var bestName string
	var size int64
	for _, e := range ents {
		base, ok := strings.CutSuffix(e.Name(), spareExt)
		if !ok || len(base) != nameDigits {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 64)
		info, ierr := e.Info()
		if err != nil || ierr != nil || !info.Mode().IsRegular() {
			continue
		}
		if info.Size() > s.segLimit || info.Mode().Perm()&^s.opts.Perm != 0 {
			s.fs.Remove(filepath.Join(s.dir, e.Name()))
			continue
		}
		if bestName != "" {
			// os.ReadDir sorts by name, and the names have as many digits:
			// this spare is above the one kept so far.
			s.fs.Remove(filepath.Join(s.dir, bestName))
		}
		best, bestName, size = Seq(n), e.Name(), info.Size()
	}
	if bestName == "" {
		return nil
	}
	s.spare, s.spareLen = filepath.Join(s.dir, bestName), size
	s.bytes += size
	if best > s.next {
		s.next = best
	}
	return nil
}

func (s *Spool) truncateFile(path string, size int64) error {
	f, err := s.fs.OpenFile(path, os.O_WRONLY|oNoFollow, 0)
	if err != nil {
		return classify("spool: open "+path+" to cut a torn write", err)
	}
	err = f.Truncate(size)
	if err == nil && s.opts.Sync != SyncOS {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return classify("spool: cut a torn write from "+path, err)
	}
	return nil
}

// intern shares the hook lists of records that have the same hooks.
func (s *Spool) intern(hooks []string) *[]string {
	key := s.keyBuf[:0]
	for i, h := range hooks {
		if i > 0 {
			key = append(key, 0)
		}
		key = append(key, h...)
	}
	s.keyBuf = key
	if h, ok := s.interned[string(key)]; ok {
		return h
	}
	if len(s.interned) >= 4096 {
		clear(s.interned)
	}
	h := slices.Clone(hooks)
	s.interned[string(key)] = &h
	return &h
}

// framePool holds the buffers Append encodes records into.
var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 4<<10); return &b }}

// putFrame returns a buffer to framePool unless it grew large.
func putFrame(bp *[]byte, frame []byte) {
	if cap(frame) > 64<<10 {
		return
	}
	*bp = frame[:0]
	framePool.Put(bp)
}

// Recovery returns what Open found.
func (s *Spool) Recovery() Recovery { return s.recovery }

// Append records rec with every id in rec.Hooks pending and returns its
// sequence number once the record is as durable as Options.Sync says. On
// error the record is not in the spool. Errors wrap ErrInvalidRecord,
// ErrQuota, ErrDiskFull, ErrReadOnly or ErrClosed as the case may be.
func (s *Spool) Append(rec Record) (Seq, error) {
	if err := rec.validate(s.opts.MaxRecordSize); err != nil {
		return 0, err
	}
	// Encoded before taking the lock; only the seq is set under it.
	bp := framePool.Get().(*[]byte)
	frame := appendFrame((*bp)[:0], 0, &rec)
	defer putFrame(bp, frame)
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if s.broken != nil {
		err := s.broken
		s.mu.Unlock()
		return 0, err
	}
	seq := s.next
	setFrameSeq(frame, seq)
	n := int64(len(frame))
	roll := s.active == nil || (s.active.size > int64(segHeader) && s.active.size+n > s.opts.SegmentSize)
	need := n
	if roll {
		need += int64(segHeader)
	}
	if s.opts.Quota > 0 && s.bytes+need > s.opts.Quota && s.spare != "" {
		s.dropSpare() // the quota counts it: give its room to records
	}
	if used := s.bytes; s.opts.Quota > 0 && used+need > s.opts.Quota {
		s.mu.Unlock()
		return 0, fmt.Errorf("%w: record of %d bytes, %d of %d bytes used", ErrQuota, n, used, s.opts.Quota)
	}
	if roll {
		if err := s.roll(seq); err != nil {
			s.mu.Unlock()
			return 0, err
		}
	}
	g := s.active
	if err := s.write(g, frame); err != nil {
		s.mu.Unlock()
		return 0, err
	}
	s.next++
	g.recs = append(g.recs, newRecIndex(seq, g.size, int(n), s.intern(rec.Hooks)))
	g.size += n
	g.pending += len(rec.Hooks)
	g.live++
	s.bytes += n
	s.records++
	s.pending += len(rec.Hooks)

	switch s.opts.Sync {
	case SyncAlways:
		if err := g.w.Sync(); err != nil {
			err = classify(fmt.Sprintf("spool: append seq %d: fsync %s", seq, g.path), err)
			s.cutBack(g, g.w, err) // g.durable is where this record starts
			s.mu.Unlock()
			return 0, err
		}
		g.durable = g.size
		s.durable = seq
	case SyncOS:
		g.durable = g.size
		s.durable = seq
	case SyncGroup:
		grp := s.group
		if grp == nil {
			grp = &syncGroup{done: make(chan struct{})}
			s.group = grp
		}
		grp.last = seq
		if len(s.unsynced) == 0 || s.unsynced[len(s.unsynced)-1].seg != g {
			s.unsynced = append(s.unsynced, syncFile{seg: g, w: g.w})
		}
		s.mu.Unlock()
		// With no window to wait for and no fsync running, the Append
		// runs its group's fsync itself: no hand-off to the committer and
		// back, two goroutine wake-ups fewer. Otherwise the committer runs
		// it after the one under way.
		kick := true
		if s.opts.GroupWindow == 0 && s.commitMu.TryLock() {
			select {
			case <-grp.done: // committed meanwhile
			default:
				s.commit()
			}
			s.commitMu.Unlock()
			s.mu.Lock()
			kick = s.group != nil // written during the fsync: the committer's
			s.mu.Unlock()
		}
		if kick {
			select {
			case s.kick <- struct{}{}:
			default:
			}
		}
		<-grp.done
		if grp.err != nil {
			return 0, grp.err
		}
		return seq, nil
	}
	s.mu.Unlock()
	return seq, nil
}

// write writes b at the end of the active segment's data; a failed write
// is cut back.
func (s *Spool) write(g *segment, b []byte) error {
	if _, err := g.w.WriteAt(b, g.size); err != nil {
		err = classify(fmt.Sprintf("spool: append seq %d to %s", s.next, g.path), err)
		g.alloc = 0
		if terr := g.w.Truncate(g.size); terr != nil {
			s.broken = fmt.Errorf("spool: unusable until reopened: a failed write could not be cut back (%v): %w", terr, err)
		}
		return err
	}
	return nil
}

// roll starts a new segment whose first record is seq, in the spare file
// when there is one. Called with s.mu held.
func (s *Spool) roll(seq Seq) error {
	name := segName(seq)
	path := filepath.Join(s.dir, name+segExt)
	w, alloc := s.reuseSpare(path)
	if w == nil {
		var err error
		w, err = s.fs.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC|oNoFollow, s.opts.Perm)
		if err != nil {
			return classify("spool: create segment "+path, err)
		}
	}
	fail := func(what string, err error) error {
		w.Close()
		s.fs.Remove(path)
		return classify(what+" "+path, err)
	}
	if _, err := w.WriteAt([]byte(segMagic), 0); err != nil {
		return fail("spool: write header of segment", err)
	}
	if s.opts.Sync != SyncOS {
		if err := w.Sync(); err != nil {
			return fail("spool: fsync segment", err)
		}
		if err := s.fs.SyncDir(s.dir); err != nil {
			return fail("spool: fsync directory for segment", err)
		}
	}
	if old := s.active; old != nil {
		if old.alloc > old.size {
			// Cut the records of the file's previous use, so that only a
			// crash just now can leave them after this segment's data.
			if old.w.Truncate(old.size) == nil {
				old.alloc = 0
			}
		}
		switch {
		case s.opts.Sync != SyncGroup:
			old.w.Close()
		case len(s.unsynced) > 0 && s.unsynced[len(s.unsynced)-1].seg == old:
			s.unsynced[len(s.unsynced)-1].close = true // the committer closes it after its fsync
		default:
			// A commit under way may be syncing it: the next one closes it.
			s.unsynced = append(s.unsynced, syncFile{seg: old, w: old.w, close: true})
		}
		old.w = nil
		if old.pending == 0 {
			s.dropSegment(old)
		}
	}
	g := &segment{first: seq, path: path, ackPath: filepath.Join(s.dir, name+ackExt),
		size: int64(segHeader), durable: int64(segHeader), w: w}
	if alloc > g.size {
		g.alloc = alloc
	}
	s.segs = append(s.segs, g)
	s.active = g
	s.bytes += g.size
	return nil
}

// reuseSpare renames the spare file, if any, to path and opens it for
// writing over; it returns nil when there is none or that fails. Called with
// s.mu held.
//
// Writing over a file whose blocks are allocated and already written, and
// not past its size, leaves fdatasync(2) no metadata to commit: on ext4 it
// then skips the journal commit that appending needs, which is cheaper and
// does not wait for other files' metadata.
func (s *Spool) reuseSpare(path string) (writeFile, int64) {
	if s.spare == "" {
		return nil, 0
	}
	spare, size := s.spare, s.spareLen
	s.spare, s.spareLen = "", 0
	s.bytes -= size
	if err := s.fs.Rename(spare, path); err != nil {
		s.fs.Remove(spare)
		return nil, 0
	}
	w, err := s.fs.OpenFile(path, os.O_WRONLY|oNoFollow, 0)
	if err != nil {
		s.fs.Remove(path)
		return nil, 0
	}
	return w, size
}

// keepSpare makes the file of segment g, all of whose copies are settled,
// the spare: renamed to a name below which every seq it holds is, to be
// written over by the next segment. It keeps one at most, of at least half
// a segment, and none that would not fit the quota. Called with s.mu held,
// g's files closed or no longer written.
func (s *Spool) keepSpare(g *segment) bool {
	size := max(g.size, g.alloc)
	if s.spare != "" || size < s.opts.SegmentSize/2 || size > s.segLimit {
		return false
	}
	if s.opts.Quota > 0 && s.bytes-g.size-g.ackSize+size > s.opts.Quota {
		return false
	}
	path := filepath.Join(s.dir, segName(s.next)+spareExt)
	if err := s.fs.Rename(g.path, path); err != nil {
		return false
	}
	s.spare, s.spareLen = path, size
	s.bytes += size
	return true
}

// dropSpare deletes the spare file. Called with s.mu held.
func (s *Spool) dropSpare() {
	if s.spare == "" {
		return
	}
	s.fs.Remove(s.spare)
	s.bytes -= s.spareLen
	s.spare, s.spareLen = "", 0
}

// committer runs the group fsyncs of SyncGroup mode.
func (s *Spool) committer() {
	defer s.wg.Done()
	var last time.Time
	timer := time.NewTimer(0)
	<-timer.C
	for {
		select {
		case <-s.kick:
		case <-s.stop:
			s.commitOne()
			return
		}
		if wait := s.opts.GroupWindow - time.Since(last); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-s.stop:
				timer.Stop()
				s.commitOne()
				return
			}
		}
		last = time.Now()
		s.commitOne()
	}
}

// commitOne runs commit, one at a time.
func (s *Spool) commitOne() {
	s.commitMu.Lock()
	defer s.commitMu.Unlock()
	s.commit()
}

// commit fsyncs every segment written since the last commit and releases the
// Appends waiting for it; on failure it cuts the unsynced records back and
// fails their Appends.
func (s *Spool) commit() {
	s.mu.Lock()
	grp := s.group
	if grp == nil {
		if len(s.unsynced) == 0 {
			s.mu.Unlock()
			return
		}
		// A rolled segment whose next write failed: sync and close it.
		grp = &syncGroup{done: make(chan struct{}), last: s.durable}
	}
	s.group = nil
	files := s.unsynced
	s.unsynced = nil
	sizes := make([]int64, len(files))
	for i, f := range files {
		sizes[i] = f.seg.size
	}
	s.mu.Unlock()

	var err error
	for _, f := range files {
		if e := f.w.Sync(); e != nil && err == nil {
			err = classify(fmt.Sprintf("spool: append seq ≤ %d: fsync %s", grp.last, f.seg.path), e)
		}
	}

	s.mu.Lock()
	if err == nil {
		for i, f := range files {
			f.seg.durable = max(f.seg.durable, sizes[i])
			if f.close {
				f.w.Close()
			}
		}
		s.durable = grp.last
		close(grp.done)
		s.mu.Unlock()
		return
	}
	// The fsync failed: what it covered may or may not be on disk. Cut every
	// segment back to its last synced size and fail every Append not yet
	// acknowledged, those of this group and of the one collecting now.
	grp.err = err
	for _, f := range files {
		s.cutBack(f.seg, f.w, err)
		if f.close {
			f.w.Close()
		}
	}
	for _, f := range s.unsynced {
		s.cutBack(f.seg, f.w, err)
		if f.close {
			f.w.Close()
		}
	}
	s.unsynced = nil
	close(grp.done)
	if next := s.group; next != nil {
		s.group = nil
		next.err = err
		close(next.done)
	}
	s.mu.Unlock()
}

// cutBack truncates g to its durable size and drops the records past it.
// Called with s.mu held.
func (s *Spool) cutBack(g *segment, w writeFile, cause error) {
	if g.size == g.durable {
		return
	}
	g.alloc = 0
	if err := w.Truncate(g.durable); err != nil {
		s.broken = fmt.Errorf("spool: unusable until reopened: records after a failed fsync could not be cut back (%v): %w", err, cause)
	}
	for len(g.recs) > 0 && int64(g.recs[len(g.recs)-1].off) >= g.durable {
		r := g.recs[len(g.recs)-1]
		g.recs = g.recs[:len(g.recs)-1]
		g.pending -= int(r.left)
		s.pending -= int(r.left)
		if r.left > 0 {
			g.live--
			s.records--
		}
	}
	s.bytes -= g.size - g.durable
	g.size = g.durable
}

// segmentOf returns the segment that holds seq, or nil. Called with s.mu held.
func (s *Spool) segmentOf(seq Seq) *segment {
	i, _ := slices.BinarySearchFunc(s.segs, seq, func(g *segment, q Seq) int {
		switch {
		case g.first <= q:
			return -1
		}
		return 1
	})
	if i == 0 {
		return nil
	}
	return s.segs[i-1]
}

// Settle marks the copy of record seq for hookID as done: delivered or
// dead-lettered. When no copy of a segment is left pending, the segment is
// deleted. A copy unknown or already settled gives an error wrapping
// ErrNotPending. A failure to write the settlement is returned; the copy is
// settled in memory all the same, and may be delivered again after a restart.
func (s *Spool) Settle(seq Seq, hookID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	g := s.segmentOf(seq)
	var r *recIndex
	if g != nil && seq <= s.durable {
		r = g.find(seq)
	}
	if r == nil {
		return fmt.Errorf("%w: seq %d, hook %q", ErrNotPending, seq, hookID)
	}
	idx := slices.Index(r.ids(), hookID)
	if idx < 0 || r.isSettled(idx) {
		return fmt.Errorf("%w: seq %d, hook %q", ErrNotPending, seq, hookID)
	}
	r.settle(idx)
	r.left--
	g.pending--
	s.pending--
	if r.left == 0 {
		g.live--
		s.records--
	}
	var err error
	if g.pending == 0 && g != s.active {
		s.dropSegment(g)
		return nil
	}
	if g.ack == nil {
		g.ack, err = s.fs.OpenFile(g.ackPath, os.O_WRONLY|os.O_CREATE|os.O_APPEND|oNoFollow, s.opts.Perm)
		if err != nil {
			g.ack = nil
			return classify(fmt.Sprintf("spool: settle seq %d: open %s", seq, g.ackPath), err)
		}
	}
	s.ackBuf = appendAck(s.ackBuf[:0], seq, idx)
	if _, err := g.ack.Write(s.ackBuf); err != nil {
		// A partial entry fails its CRC and is skipped on recovery; cut it
		// anyway so later entries stay aligned.
		g.ack.Truncate(g.ackSize)
		return classify(fmt.Sprintf("spool: settle seq %d: write %s", seq, g.ackPath), err)
	}
	g.ackSize += ackEntry
	s.bytes += ackEntry
	return nil
}

// dropSegment deletes a segment whose copies are all settled: the segment
// file first, so a crash in between cannot bring settled copies back.
// Called with s.mu held.
func (s *Spool) dropSegment(g *segment) {
	i := slices.Index(s.segs, g)
	if i >= 0 {
		s.segs = slices.Delete(s.segs, i, i+1)
	}
	s.removeSegment(g)
}

func (s *Spool) removeSegment(g *segment) {
	if g.ack != nil {
		g.ack.Close()
		g.ack = nil
	}
	if s.keepSpare(g) {
		s.fs.Remove(g.ackPath)
	} else if err := s.fs.Remove(g.path); err == nil || errors.Is(err, fs.ErrNotExist) {
		s.fs.Remove(g.ackPath)
	}
	s.bytes -= g.size + g.ackSize
	s.records -= g.live
	s.pending -= g.pending
}

// ref locates a record to read back.
type ref struct {
	seq  Seq
	path string
	off  int64
	size int32
}

// Pending returns the records with pending copies, from seq from on, in
// append order; each Entry's Record.Hooks holds the copies pending when it
// is read. Records appended or settled during the iteration may or may not
// be seen. An error reading a record is yielded with its Seq; the iteration
// goes on if the loop does. Records are read in runs of up to 4 MiB of a
// segment at a time.
func (s *Spool) Pending(from Seq) iter.Seq2[Entry, error] {
	return s.iterate(from, "")
}

// PendingFor is Pending restricted to the records whose copy for hookID is
// pending: what a hook's delivery reads back after a restart, or when its
// copies were left on disk while its memory share was full. Record.Hooks
// still lists every copy pending. Only the matching records are read from
// disk.
func (s *Spool) PendingFor(hookID string, from Seq) iter.Seq2[Entry, error] {
	if hookID == "" {
		return func(yield func(Entry, error) bool) {
			yield(Entry{}, fmt.Errorf("%w: PendingFor: hookID is empty", ErrInvalidRecord))
		}
	}
	return s.iterate(from, hookID)
}

func (s *Spool) iterate(from Seq, hookID string) iter.Seq2[Entry, error] {
	return func(yield func(Entry, error) bool) {
		const maxSpan = 4 << 20
		cursor := from
		var buf []byte
		for {
			s.mu.Lock()
			if s.closed {
				s.mu.Unlock()
				yield(Entry{}, ErrClosed)
				return
			}
			batch := s.collect(cursor, 256, hookID)
			s.mu.Unlock()
			if len(batch) == 0 {
				return
			}
			entries := make([]Entry, len(batch))
			errs := make([]error, len(batch))
			for i := 0; i < len(batch); {
				first := batch[i]
				j := i + 1
				for j < len(batch) && batch[j].path == first.path && batch[j].off+int64(batch[j].size)-first.off <= maxSpan {
					j++
				}
				span := batch[j-1].off + int64(batch[j-1].size) - first.off
				if int64(cap(buf)) < span {
					buf = make([]byte, span)
				}
				err := readSpan(first.path, buf[:span], first.off)
				for k := i; k < j; k++ {
					r := batch[k]
					entries[k].Seq = r.seq
					if err != nil {
						errs[k] = fmt.Errorf("spool: read seq %d: %w", r.seq, err)
						continue
					}
					at := r.off - first.off
					entries[k].Record, errs[k] = decodeRef(buf[at:at+int64(r.size)], r)
				}
				i = j
			}
			// Hooks pending now: settled records (and segments deleted
			// meanwhile, whose reads may have failed) are skipped.
			s.mu.Lock()
			for k, r := range batch {
				entries[k].Record.Hooks = s.pendingOf(r.seq)
				if hookID != "" && !slices.Contains(entries[k].Record.Hooks, hookID) {
					entries[k].Record.Hooks = nil
				}
			}
			s.mu.Unlock()
			for k, e := range entries {
				if e.Record.Hooks == nil {
					continue
				}
				if !yield(e, errs[k]) {
					return
				}
			}
			cursor = batch[len(batch)-1].seq + 1
		}
	}
}

// readSpan reads len(b) bytes of the file at path from off.
func readSpan(path string, b []byte, off int64) error {
	f, err := os.OpenFile(path, os.O_RDONLY|oNoFollow, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = f.ReadAt(b, off)
	return err
}

// decodeRef checks and decodes the frame of record r.
func decodeRef(frame []byte, r ref) (Record, error) {
	payload, _, st := parseFrame(frame)
	if st != frameOK {
		return Record{}, fmt.Errorf("spool: read seq %d from %s offset %d: record fails its checks", r.seq, r.path, r.off)
	}
	seq, rec, err := decodePayload(payload)
	if err == nil && seq != r.seq {
		err = fmt.Errorf("spool: read seq %d from %s: found seq %d", r.seq, r.path, seq)
	}
	return rec, err
}

// pendingOf returns the pending hooks of seq, nil if none. Called with s.mu
// held.
func (s *Spool) pendingOf(seq Seq) []string {
	if g := s.segmentOf(seq); g != nil {
		if ri := g.find(seq); ri != nil && ri.left > 0 {
			return ri.pendingHooks()
		}
	}
	return nil
}

// collect returns up to n records with pending copies (for hookID if not
// empty) from seq cursor on. Called with s.mu held.
func (s *Spool) collect(cursor Seq, n int, hookID string) []ref {
	var out []ref
	for _, g := range s.segs {
		if len(g.recs) == 0 || g.recs[len(g.recs)-1].seq < cursor || g.live == 0 {
			continue
		}
		i, _ := slices.BinarySearchFunc(g.recs, cursor, func(r recIndex, q Seq) int {
			if r.seq < q {
				return -1
			}
			if r.seq > q {
				return 1
			}
			return 0
		})
		for ; i < len(g.recs); i++ {
			r := &g.recs[i]
			if r.seq > s.durable {
				return out
			}
			if r.left == 0 {
				continue
			}
			if hookID != "" {
				if i := slices.Index(r.ids(), hookID); i < 0 || r.isSettled(i) {
					continue
				}
			}
			out = append(out, ref{seq: r.seq, path: g.path, off: int64(r.off), size: int32(r.size)})
			if len(out) == n {
				return out
			}
		}
	}
	return out
}

// Get reads back record seq with its pending copies; a record with none
// gives an error wrapping ErrNotPending.
func (s *Spool) Get(seq Seq) (Entry, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return Entry{}, ErrClosed
	}
	g := s.segmentOf(seq)
	var ri *recIndex
	if g != nil && seq <= s.durable {
		ri = g.find(seq)
	}
	if ri == nil || ri.left == 0 {
		s.mu.Unlock()
		return Entry{}, fmt.Errorf("%w: seq %d", ErrNotPending, seq)
	}
	r := ref{seq: seq, path: g.path, off: int64(ri.off), size: int32(ri.size)}
	s.mu.Unlock()
	e := Entry{Seq: seq}
	buf := make([]byte, r.size)
	err := readSpan(r.path, buf, r.off)
	if err == nil {
		e.Record, err = decodeRef(buf, r)
	} else {
		err = fmt.Errorf("spool: read seq %d: %w", seq, err)
	}
	s.mu.Lock()
	e.Record.Hooks = s.pendingOf(seq)
	s.mu.Unlock()
	if e.Record.Hooks == nil {
		return Entry{}, fmt.Errorf("%w: seq %d", ErrNotPending, seq) // settled meanwhile
	}
	return e, err
}

// Stats returns the spool's current size.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return Stats{Bytes: s.bytes, Quota: s.opts.Quota, Records: s.records, Pending: s.pending, Segments: len(s.segs)}
}

// Close waits for the Appends under way, fsyncs (except in SyncOS mode),
// deletes the segments with nothing pending, closes the files and releases
// the directory's lock. Later calls return nil.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	if s.stop != nil {
		close(s.stop)
		s.wg.Wait()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var err error
	for _, g := range s.segs {
		if g.ack != nil && s.opts.Sync != SyncOS {
			if e := g.ack.Sync(); e != nil && err == nil {
				err = classify("spool: close: fsync "+g.ackPath, e)
			}
		}
	}
	if g := s.active; g != nil && g.pending == 0 {
		g.w.Close()
		g.w = nil
		s.dropSegment(g)
		s.active = nil
	} else if g != nil && g.alloc > g.size {
		// Cut the records of the file's previous use after the data, so
		// that the next Open finds none (it would cut them all the same).
		if e := g.w.Truncate(g.size); e == nil && s.opts.Sync != SyncOS {
			g.w.Sync()
		}
		g.alloc = 0
	}
	s.closeFiles()
	if e := s.lock.unlock(); e != nil && err == nil {
		err = fmt.Errorf("spool: close: release lock: %w", e)
	}
	return err
}

func (s *Spool) closeFiles() {
	for _, g := range s.segs {
		if g.w != nil {
			g.w.Close()
			g.w = nil
		}
		if g.ack != nil {
			g.ack.Close()
			g.ack = nil
		}
	}
}
