// This file owns segment and settlement files: their names, their headers,
// the in-memory index of a segment, and the recovery scan that rebuilds it
// (torn tail, damaged records, settlements).

package spool

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// A spool directory holds, besides the lock file, segments named after the
// sequence number of their first record (00000000000000000042.seg), each
// with a settlement file of the same name (…042.ack) once a copy in it is
// settled. A segment is deleted, with its settlement file, when every copy
// it holds is settled.
const (
	segExt = ".seg"
	ackExt = ".ack"
	// spareExt names a settled segment file kept to be written over by the
	// next segment (at most one). Its name is a seq that every record still
	// in it is below, so the segment it becomes (whose first seq is at least
	// that) tells its own records from those left over.
	spareExt = ".spare"
	// segMagic opens every segment file (format version 1).
	segMagic  = "SQSPOOL\x01"
	segHeader = len(segMagic)
	ackEntry  = 16 // seq (8), hook index (4), CRC32C of the first 12 bytes (4)
	// maxSegmentSize bounds Options.SegmentSize, and maxSegmentFile a
	// segment file (the first record may be larger than SegmentSize), so
	// offsets fit the index's 32 bits.
	maxSegmentSize = 1 << 30
	maxSegmentFile = 1<<32 - 1
	nameDigits     = 20
)

func segName(first Seq) string { return fmt.Sprintf("%0*d", nameDigits, uint64(first)) }

// recIndex is what the spool keeps in memory per record: where it is and
// which copies are settled, in 48 bytes. The body stays on disk.
type recIndex struct {
	seq     Seq
	hooks   *[]string // shared by records with the same hooks
	settled uint64    // bit i set: hook i settled, for i < 64
	more    *[]uint64 // the bits of hooks 64 and on; nil for fewer hooks
	off     uint32
	size    uint32
	left    int32 // copies still pending
}

func newRecIndex(seq Seq, off int64, size int, hooks *[]string) recIndex {
	r := recIndex{seq: seq, off: uint32(off), size: uint32(size), hooks: hooks, left: int32(len(*hooks))}
	if n := len(*hooks); n > 64 {
		more := make([]uint64, (n-64+63)/64)
		r.more = &more
	}
	return r
}

func (r *recIndex) ids() []string { return *r.hooks }

func (r *recIndex) isSettled(i int) bool {
	if i < 64 {
		return r.settled&(1<<i) != 0
	}
	i -= 64
	return (*r.more)[i/64]&(1<<(i%64)) != 0
}

func (r *recIndex) settle(i int) {
	if i < 64 {
		r.settled |= 1 << i
		return
	}
	i -= 64
	(*r.more)[i/64] |= 1 << (i % 64)
}

func (r *recIndex) pendingHooks() []string {
	out := make([]string, 0, r.left)
	for i, h := range r.ids() {
		if !r.isSettled(i) {
			out = append(out, h)
		}
	}
	return out
}

// segment is one segment file and its settlement file.
type segment struct {
	first   Seq
	path    string
	ackPath string
	size    int64 // bytes of the segment's data: where the next record goes
	alloc   int64 // the file's size when it is a reused file longer than size; else 0
	durable int64 // bytes known to be synced (group commit rolls back to it)
	ackSize int64
	w       writeFile // open while the segment is the one appended to
	ack     writeFile // opened on the first settlement
	recs    []recIndex
	pending int // copies pending
	live    int // records with a pending copy
}

// find returns the index entry of seq, or nil.
func (g *segment) find(seq Seq) *recIndex {
	i, ok := slices.BinarySearchFunc(g.recs, seq, func(r recIndex, s Seq) int {
		switch {
		case r.seq < s:
			return -1
		case r.seq > s:
			return 1
		}
		return 0
	})
	if !ok {
		return nil
	}
	return &g.recs[i]
}

// Damage describes a damaged record found by Open: its place and whatever
// of it still decodes. Hooks in Partial holds only copies not settled.
//
// A whole file is damage too, with Seq 0 and nothing in Partial: a segment
// or settlement file that is not a regular file (a symbolic link, which is
// not followed, a directory, a named pipe) or larger than the Options allow
// a segment to be (see Options.SegmentSize), which is not read. Open
// removes it (a link, never what it points at); a segment's records are
// lost with it, a settlement file's copies stay pending (to be delivered
// again).
type Damage struct {
	// Segment is the name of the file the damage is in: a segment, or the
	// settlement file (.ack) of one.
	Segment string
	// Offset and Size locate the damaged bytes in the segment.
	Offset, Size int64
	// Seq is the record's sequence number when it decodes to a value that
	// fits the segment; 0 otherwise.
	Seq Seq
	// Partial holds the fields that decoded before the first bad one.
	Partial Record
	// Err says what is wrong.
	Err error
}

// Recovery summarises what Open found.
type Recovery struct {
	// Segments is the number of segment files kept.
	Segments int
	// Records and Pending count records with pending copies and the copies.
	Records, Pending int
	// Damaged lists the damaged records (also given to Options.OnDamage).
	Damaged []Damage
	// TornBytes is how many bytes of an unfinished write at the end of the
	// last segment were cut off.
	TornBytes int64
}

// segFile is a segment file found in the directory.
type segFile struct {
	first Seq
	name  string
	mode  fs.FileMode // from Lstat: a link is not followed
	size  int64
}

// listSegments returns the directory's segments in order, as Lstat sees
// them, and removes settlement files whose segment is gone.
func listSegments(dir string, fsys fileSystem) ([]segFile, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("spool: read directory %s: %w", dir, err)
	}
	var segs []segFile
	have := map[string]bool{}
	for _, e := range ents {
		name := e.Name()
		base, ok := strings.CutSuffix(name, segExt)
		if !ok || len(base) != nameDigits {
			continue
		}
		n, err := strconv.ParseUint(base, 10, 64)
		if err != nil {
			continue
		}
		info, err := e.Info() // Lstat
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("spool: %w", err)
		}
		segs = append(segs, segFile{first: Seq(n), name: name, mode: info.Mode(), size: info.Size()})
		have[base] = true
	}
	for _, e := range ents {
		if base, ok := strings.CutSuffix(e.Name(), ackExt); ok && len(base) == nameDigits && !have[base] {
			// The segment was deleted before its settlements (the order of
			// deletion); the settlements are of no use.
			fsys.Remove(filepath.Join(dir, e.Name()))
		}
	}
	slices.SortFunc(segs, func(a, b segFile) int {
		switch {
		case a.first < b.first:
			return -1
		case a.first > b.first:
			return 1
		}
		return 0
	})
	return segs, nil
}

// minCopyBytes is the least a hook copy takes of its segment: each copy is
// a hook id in its record, a length byte and at least one byte.
const minCopyBytes = 2

// ackLimit is the largest the settlement file of a segment file of size
// bytes can legitimately be: one entry per copy it can hold (far more than
// real records, of a hundred bytes and more a copy, ever reach).
func ackLimit(size int64) int64 { return (size/minCopyBytes + 1) * ackEntry }

// readAcks reads a settlement file: the settled hook indexes per seq, the
// length of its whole entries and the file's length. Entries failing their
// CRC are skipped (the copy stays pending: at worst a duplicate). A file
// larger than limit is not read (errOversized), nor one that is not a
// regular file (errNotRegular); a wider mode than perm is narrowed. The
// file is read in pieces: memory holds the entries, never the file.
func readAcks(path string, limit int64, perm fs.FileMode) (map[Seq][]uint32, int64, int64, error) {
	f, fi, err := openRead(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, 0, nil
	}
	if errors.Is(err, errNotRegular) {
		return nil, 0, 0, fmt.Errorf("spool: settlement file %w", err)
	}
	if err != nil {
		return nil, 0, 0, fmt.Errorf("spool: read settlements %s: %w", path, err)
	}
	defer f.Close()
	if fi.Size() > limit {
		return nil, 0, fi.Size(), fmt.Errorf("spool: settlement file %s is %d bytes, more than its segment's copies can take (%d): %w",
			filepath.Base(path), fi.Size(), limit, errOversized)
	}
	if err := narrow(f, fi, perm); err != nil {
		return nil, 0, 0, err
	}
	acks := map[Seq][]uint32{}
	r := bufio.NewReaderSize(io.LimitReader(f, fi.Size()), 64<<10)
	var e [ackEntry]byte
	var n, length int64
	for {
		k, err := io.ReadFull(r, e[:])
		length += int64(k)
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return nil, 0, 0, fmt.Errorf("spool: read settlements %s: %w", path, err)
		}
		n += ackEntry
		if crc32.Checksum(e[:12], castagnoli) != binary.LittleEndian.Uint32(e[12:]) {
			continue
		}
		seq := Seq(binary.LittleEndian.Uint64(e[:]))
		acks[seq] = append(acks[seq], binary.LittleEndian.Uint32(e[8:]))
	}
	return acks, n, length, nil
}

func appendAck(dst []byte, seq Seq, idx int) []byte {
	start := len(dst)
	dst = binary.LittleEndian.AppendUint64(dst, uint64(seq))
	dst = binary.LittleEndian.AppendUint32(dst, uint32(idx))
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:start+12], castagnoli))
}

// scanResult is what scanning one segment file found.
type scanResult struct {
	recs    []recIndex
	damaged []Damage
	maxSeq  Seq
	// end is where the valid data ends; bytes after it in the last segment
	// are a torn write, up to stale.
	end int64
	// stale is where the records left over from the file's previous use as
	// another segment begin (see spareExt); -1 when there are none.
	stale int64
}

// scanSegment indexes the records of a segment's bytes. A frame that fails
// its checks is damage when a valid frame follows it (recovery resumes
// there) and the end of the data otherwise. last says whether this is the
// newest segment, whose unfinished tail is a torn write rather than damage.
// limit is the first seq of the next segment (0 for none).
//
// A segment file may be a reused one (see spareExt) whose data is followed
// by the records of its previous use: valid frames whose seq is below first.
// The first such frame after which no valid frame of this segment follows
// is where the data ends, in any segment, and what lies between the end and
// it (part of an older frame, written over) is not damage.
func scanSegment(name string, b []byte, first, limit Seq, last bool, intern func([]string) *[]string) scanResult {
	res := scanResult{stale: -1}
	if len(b) < segHeader || string(b[:segHeader]) != segMagic {
		if last && len(b) < segHeader && strings.HasPrefix(segMagic, string(b)) {
			return res // created, header never completed
		}
		res.damaged = append(res.damaged, Damage{Segment: name, Size: int64(len(b)),
			Err: fmt.Errorf("spool: segment %s: bad header", name)})
		return res
	}
	plausible := func(s Seq) bool { return s >= first && (limit == 0 || s < limit) }
	off := segHeader
	res.end = int64(off)
	for off < len(b) {
		payload, n, st := parseFrame(b[off:])
		if st == frameOK && isStale(payload, first) {
			if next, _ := resync(b, off+n, first); next < 0 {
				res.stale = int64(off)
				return res // the end: older records follow
			}
			// An older record where one of this segment should be (a
			// record written after it reached the disk, this one did not):
			// damage, whose content is not this segment's to report.
			res.damaged = append(res.damaged, Damage{Segment: name, Offset: int64(off), Size: int64(n),
				Err: fmt.Errorf("spool: segment %s offset %d: a record of an older segment, seq %d", name, off, staleSeq(payload))})
			off += n
			res.end = int64(off)
			continue
		}
		if st == frameOK {
			seq, hooks, err := decodeIndex(payload)
			if err == nil && plausible(seq) && seq > res.maxSeq && len(hooks) > 0 {
				res.recs = append(res.recs, newRecIndex(seq, int64(off), n, intern(hooks)))
				res.maxSeq = seq
			} else {
				if err == nil {
					err = fmt.Errorf("%w: seq %d out of order or outside the segment, or no hooks", errDecode, seq)
				}
				res.damaged = append(res.damaged, damageOf(name, off, n, payload, plausible, err))
			}
			off += n
			res.end = int64(off)
			continue
		}
		next, stale := resync(b, off+1, first)
		if next < 0 {
			if last || stale >= 0 {
				res.stale = int64(stale)
				return res // torn tail, or older records: cut at res.end
			}
			next = len(b)
		}
		var rest []byte
		if off+frameHeader <= next && stale < 0 {
			rest = b[off+frameHeader : next] // not an older segment's: worth decoding
		}
		res.damaged = append(res.damaged, damageOf(name, off, next-off, rest, plausible,
			fmt.Errorf("spool: segment %s offset %d: frame fails its checks", name, off)))
		off = next
		res.end = int64(off)
	}
	return res
}

func damageOf(name string, off, n int, payload []byte, plausible func(Seq) bool, err error) Damage {
	d := Damage{Segment: name, Offset: int64(off), Size: int64(n), Err: err}
	if payload != nil {
		seq, rec := decodeLenient(payload)
		if plausible(seq) {
			d.Seq = seq
		}
		d.Partial = rec
	}
	return d
}

// resync returns the offset of the first valid frame of the segment
// starting at first found at or after from, or -1, and the offset of the
// first valid frame of an older segment found before it, or -1.
func resync(b []byte, from int, first Seq) (next, stale int) {
	var marker [4]byte
	binary.LittleEndian.PutUint32(marker[:], frameMarker)
	stale = -1
	for from < len(b) {
		i := bytes.Index(b[from:], marker[:])
		if i < 0 {
			return -1, stale
		}
		if payload, n, st := parseFrame(b[from+i:]); st == frameOK {
			if !isStale(payload, first) {
				return from + i, stale
			}
			if stale < 0 {
				stale = from + i
			}
			from += i + n
			continue
		}
		from += i + 1
	}
	return -1, stale
}

// isStale reports whether a valid frame's payload is a record of an older
// segment (its seq below first): data left over in a reused file.
func isStale(payload []byte, first Seq) bool {
	if len(payload) < 9 || payload[0] != payloadVersion {
		return false
	}
	return staleSeq(payload) < first
}

func staleSeq(payload []byte) Seq { return Seq(binary.LittleEndian.Uint64(payload[1:])) }
