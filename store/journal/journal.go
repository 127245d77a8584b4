// Package journal is an append-only record log on disk that survives a
// crash. The daemon writes each tracking-log row here first and moves it on
// to the store from here, so a row the store cannot take now (locked, slow,
// disk full) waits instead of being dropped, and a row accepted before a
// kill -9 is still there at the next start. It knows nothing of what the
// records hold.
//
// # Format
//
// A journal is a directory of segment files named by a hexadecimal
// sequence number, 0000000000000001.jnl, oldest first, and a file "lock"
// that an open journal holds an flock(2) on, so that two processes never
// share one journal ([ErrLocked]). A segment starts with
// the 8-byte magic "mwjrnl1\n", followed by records:
//
//	length   uint32, little-endian: the payload's length (at most MaxRecord)
//	checksum uint32, little-endian: CRC-32C of the length bytes and the payload
//	payload  length bytes
//
// Records are never rewritten in place. [Open] reads every segment; a record
// that is cut short or fails its checksum (a write torn by a crash, or
// damage) ends its segment: the rest is logged with its size and cut off.
//
// # Durability
//
// [Journal.Append] returns only once its record is fsynced. One goroutine
// owns the files: appends that arrive while it writes or syncs wait and go
// into the next write together, so a burst of records costs one write and
// one fsync (group commit). After a crash, every record whose Append
// returned nil is read back; one whose Append had not returned may be read
// back or not, and a record torn in the middle is detected and skipped.
//
// # Consumption
//
// One consumer reads the records in order ([Journal.Read]) and acknowledges
// them once they are safe elsewhere ([Journal.Ack]). Fully acknowledged
// segments are deleted, and the newest one is truncated when all of it is
// acknowledged, so the journal holds only records not yet safe elsewhere.
// Acknowledgements are not written down: after a crash, every record of a
// segment not yet deleted or truncated is read again, acknowledged or not,
// so the consumer must process records idempotently.
//
// The journal is bounded: an Append that would take the unacknowledged bytes
// over [Options.MaxBytes] fails with [ErrFull] at once.
package journal

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// Errors returned by the journal; test for them with [errors.Is].
var (
	// ErrFull reports that the unacknowledged records already take
	// Options.MaxBytes.
	ErrFull = errors.New("journal: full")
	// ErrClosed reports an Append after Close.
	ErrClosed = errors.New("journal: closed")
	// ErrTooLarge reports a record over MaxRecord bytes.
	ErrTooLarge = errors.New("journal: record too large")
	// ErrLocked reports a journal directory that another open journal (of
	// this or another process) holds.
	ErrLocked = errors.New("journal: in use by another process")
)

const (
	// MaxRecord bounds one record's payload.
	MaxRecord = 16 << 20
	// DefaultMaxBytes is the bound on unacknowledged bytes when
	// Options.MaxBytes is 0.
	DefaultMaxBytes = 256 << 20

	magic    = "mwjrnl1\n"
	lockFile = "lock"
	hdrLen   = 8    // length + checksum
	maxBatch = 1024 // records per write
)

var (
	crcTable = crc32.MakeTable(crc32.Castagnoli)
	segName  = regexp.MustCompile(`^[0-9a-f]{16}\.jnl$`)
)

// Options configure [Open].
type Options struct {
	// MaxBytes bounds the unacknowledged records, headers included; 0
	// means DefaultMaxBytes.
	MaxBytes int64
	// SegmentBytes is the size after which appends go to a new segment; 0
	// means MaxBytes/8, between 64 KiB and 4 MiB.
	SegmentBytes int64
	// Log receives the journal's warnings (torn records, failed writes);
	// nil discards them.
	Log *slog.Logger
}

// Pos is the place just after a record; [Journal.Ack] takes it.
type Pos struct {
	seq uint64 // segment
	off int64  // byte offset in the segment
	idx int    // records in the segment up to off
}

// Record is one record read back. A Record with nil Data stands for damaged
// bytes that were skipped (and logged); acknowledge it like any other.
type Record struct {
	Data []byte
	Pos  Pos
}

type segment struct {
	seq    uint64
	path   string
	f      *os.File
	size   int64 // committed (fsynced) bytes, magic included
	n      int   // committed records
	acked  int64 // bytes acknowledged, magic included
	ackedN int
}

func (s *segment) consumed() bool { return s.acked >= s.size }

type request struct {
	data  []byte
	state atomic.Int32 // reqPending, reqTaken or reqAbandoned
	done  chan error   // buffered
}

const (
	reqPending int32 = iota
	reqTaken
	reqAbandoned
)

// Journal is an open journal directory. Append is safe for concurrent use;
// Read and Ack belong to one consumer goroutine.
type Journal struct {
	dir           string
	max, segBytes int64
	log           *slog.Logger
	lock          *os.File // flock(2)ed for as long as the journal is open

	reqs      chan *request // unbuffered: a request is either taken or refused
	wake      chan struct{} // an Ack freed something
	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	// broken is set, by the run goroutine only, after a failed write or
	// sync: the next write starts a new segment.
	broken bool

	mu     sync.Mutex
	segs   []*segment // oldest first; the last takes appends
	rdSeq  uint64     // read cursor
	rdOff  int64
	rdIdx  int
	notify chan struct{} // closed when records are committed
	closed bool
}

// Open opens (creating if needed) the journal in dir, reads its segments,
// cuts off torn or damaged tails with a log line each, and makes every
// record found available to [Journal.Read]. Appends go to a new segment. A
// file with a segment's name but not its magic is logged and left alone.
func Open(dir string, o Options) (*Journal, error) {
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SegmentBytes <= 0 {
		o.SegmentBytes = min(max(o.MaxBytes/8, 64<<10), 4<<20)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	j := &Journal{dir: dir, max: o.MaxBytes, segBytes: o.SegmentBytes, log: o.Log,
		reqs: make(chan *request), wake: make(chan struct{}, 1),
		quit: make(chan struct{}), done: make(chan struct{}), notify: make(chan struct{})}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	// One journal per directory: a second daemon on the same data
	// directory would otherwise replay, cut and delete the first one's
	// segments under it. The kernel drops the lock when the process dies.
	lock, err := os.OpenFile(filepath.Join(dir, lockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrLocked, dir)
		}
		return nil, fmt.Errorf("journal: lock: %w", err)
	}
	j.lock = lock
	entries, err := os.ReadDir(dir)
	if err != nil {
		j.closeFiles()
		return nil, fmt.Errorf("journal: %w", err)
	}
	var last uint64
	for _, e := range entries {
		if !segName.MatchString(e.Name()) {
			continue
		}
		seq, _ := strconv.ParseUint(e.Name()[:16], 16, 64)
		last = max(last, seq)
		s, err := j.load(seq, filepath.Join(dir, e.Name()))
		if err != nil {
			j.closeFiles()
			return nil, err
		}
		if s != nil {
			j.segs = append(j.segs, s)
		}
	}
	// ReadDir sorts by name, which for fixed-width hex is by sequence.
	if len(j.segs) > 0 {
		j.rdSeq, j.rdOff = j.segs[0].seq, int64(len(magic))
	}
	if err := j.rotate(last + 1); err != nil {
		j.closeFiles()
		return nil, err
	}
	go j.run()
	return j, nil
}

// load reads one segment at Open, cutting off a torn or damaged tail; it
// returns nil (and removes the file) for a segment without records.
func (j *Journal) load(seq uint64, path string) (*segment, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("journal: %w", err)
	}
	head := make([]byte, len(magic))
	if _, err := io.ReadFull(f, head); err != nil || string(head) != magic {
		if fi.Size() > int64(len(magic)) || (err == nil && string(head) != magic) {
			// Not ours (or a newer format): leave it alone.
			f.Close()
			j.log.Error("journal: not a journal segment; left alone", "file", path, "bytes", fi.Size())
			return nil, nil
		}
		// Cut short while being created: it never held a record.
		f.Close()
		return nil, removeFile(path)
	}
	valid, n, damage := Scan(bufio.NewReaderSize(f, 64<<10), nil)
	valid += int64(len(magic))
	if damage != nil {
		j.log.Warn("journal: torn or damaged record; the rest of the segment is skipped",
			"segment", path, "offset", valid, "bytes", fi.Size()-valid, "records_before", n, "err", damage)
		if err := f.Truncate(valid); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: cut torn tail: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("journal: cut torn tail: %w", err)
		}
	}
	if n == 0 {
		f.Close()
		return nil, removeFile(path)
	}
	m := int64(len(magic))
	return &segment{seq: seq, path: path, f: f, size: valid, n: n, acked: m}, nil
}

func removeFile(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("journal: %w", err)
	}
	return nil
}

// Scan reads records from r until its end or the first torn or damaged
// record, calling fn (when not nil) with each payload; fn must not keep it.
// It returns the bytes of whole, valid records, their number, and what
// ended the scan early (nil at a clean end).
func Scan(r io.Reader, fn func(payload []byte)) (valid int64, n int, damage error) {
	var hdr [hdrLen]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				return valid, n, nil
			}
			return valid, n, fmt.Errorf("record header cut short: %w", err)
		}
		size := binary.LittleEndian.Uint32(hdr[0:4])
		if size > MaxRecord {
			return valid, n, fmt.Errorf("record length %d over the maximum", size)
		}
		if cap(buf) < int(size) {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return valid, n, fmt.Errorf("record of %d bytes cut short: %w", size, err)
		}
		if checksum(hdr[0:4], buf) != binary.LittleEndian.Uint32(hdr[4:8]) {
			return valid, n, errors.New("record checksum mismatch")
		}
		if fn != nil {
			fn(buf)
		}
		valid += int64(hdrLen) + int64(size)
		n++
	}
}

func checksum(length, payload []byte) uint32 {
	return crc32.Update(crc32.Checksum(length, crcTable), crcTable, payload)
}

// AppendRecord appends the encoding of payload to buf.
func AppendRecord(buf, payload []byte) []byte {
	var hdr [hdrLen]byte
	binary.LittleEndian.PutUint32(hdr[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(hdr[4:8], checksum(hdr[0:4], payload))
	return append(append(buf, hdr[:]...), payload...)
}

// Append writes data as one record and returns once it is fsynced. It waits
// at most until ctx ends; a record whose write had already begun then may
// still be committed (and read back) although Append returned an error.
func (j *Journal) Append(ctx context.Context, data []byte) error {
	if len(data) > MaxRecord {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	r := &request{data: data, done: make(chan error, 1)}
	select {
	case j.reqs <- r:
	case <-j.quit:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("journal: append: %w", ctx.Err())
	}
	select {
	case err := <-r.done:
		return err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqAbandoned) {
			return fmt.Errorf("journal: append: %w", ctx.Err())
		}
		return fmt.Errorf("journal: append: %w (the record may still be committed)", ctx.Err())
	}
}

// run owns the files: it writes and syncs batches of appends and reclaims
// acknowledged segments.
func (j *Journal) run() {
	defer close(j.done)
	for {
		select {
		case <-j.quit:
			return
		case <-j.wake:
			j.reclaim()
		case r := <-j.reqs:
			batch := []*request{r}
		more:
			for len(batch) < maxBatch {
				select {
				case r := <-j.reqs:
					batch = append(batch, r)
				default:
					break more
				}
			}
			j.reclaim()
			j.write(batch)
		}
	}
}

func (j *Journal) write(batch []*request) {
	j.mu.Lock()
	room := j.max - j.pendingBytesLocked()
	j.mu.Unlock()
	var buf []byte
	var taken []*request
	for _, r := range batch {
		if !r.state.CompareAndSwap(reqPending, reqTaken) {
			continue // the caller gave up
		}
		if need := int64(hdrLen + len(r.data)); int64(len(buf))+need > room {
			r.done <- fmt.Errorf("%w: %d bytes unacknowledged, max %d", ErrFull, j.max-room, j.max)
			continue
		}
		buf = AppendRecord(buf, r.data)
		taken = append(taken, r)
	}
	if len(taken) == 0 {
		return
	}
	err := j.commit(buf, len(taken))
	for _, r := range taken {
		r.done <- err
	}
}

// commit writes buf (n records) to the newest segment and syncs it, first
// starting a new segment when that one is full or broken.
func (j *Journal) commit(buf []byte, n int) error {
	j.mu.Lock()
	s := j.segs[len(j.segs)-1]
	start := s.size
	j.mu.Unlock()
	if j.broken || (start > int64(len(magic)) && start+int64(len(buf)) > j.segBytes) {
		if err := j.rotate(s.seq + 1); err != nil {
			return err
		}
		j.reclaim()
		j.mu.Lock()
		s = j.segs[len(j.segs)-1]
		start = s.size
		j.mu.Unlock()
	}
	if _, err := s.f.WriteAt(buf, start); err != nil {
		return j.fail(s, start, fmt.Errorf("journal: write: %w", err))
	}
	if err := s.f.Sync(); err != nil {
		return j.fail(s, start, fmt.Errorf("journal: fsync: %w", err))
	}
	j.mu.Lock()
	s.size = start + int64(len(buf))
	s.n += n
	close(j.notify)
	j.notify = make(chan struct{})
	j.mu.Unlock()
	return nil
}

// fail handles a failed write or sync: the bytes past the last commit are
// cut off if possible, and the next write goes to a new segment, since
// after a failed fsync the file's state is unknown.
func (j *Journal) fail(s *segment, committed int64, err error) error {
	j.broken = true
	if terr := s.f.Truncate(committed); terr != nil {
		err = fmt.Errorf("%w (and cutting it off: %v)", err, terr)
	}
	j.log.Error("journal: write failed", "segment", s.path, "err", err)
	return err
}

// rotate starts segment seq and makes it the one appends go to.
func (j *Journal) rotate(seq uint64) error {
	path := filepath.Join(j.dir, fmt.Sprintf("%016x.jnl", seq))
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("journal: new segment: %w", err)
	}
	err = func() error {
		if _, err := f.Write([]byte(magic)); err != nil {
			return err
		}
		if err := f.Sync(); err != nil {
			return err
		}
		return syncDir(j.dir)
	}()
	if err != nil {
		f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("journal: new segment: %w", err)
	}
	m := int64(len(magic))
	j.mu.Lock()
	j.segs = append(j.segs, &segment{seq: seq, path: path, f: f, size: m, acked: m})
	if len(j.segs) == 1 {
		j.rdSeq, j.rdOff, j.rdIdx = seq, m, 0
	}
	j.mu.Unlock()
	j.broken = false
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// reclaim deletes fully acknowledged older segments and truncates the newest
// one when all of it is acknowledged. Neither needs a sync: should a crash
// undo it, the records come back and are processed again, which the
// consumer handles.
func (j *Journal) reclaim() {
	j.mu.Lock()
	defer j.mu.Unlock()
	for len(j.segs) > 1 && j.segs[0].consumed() {
		s := j.segs[0]
		s.f.Close()
		if err := os.Remove(s.path); err != nil {
			j.log.Error("journal: remove consumed segment", "segment", s.path, "err", err)
		}
		j.segs = j.segs[1:]
	}
	m := int64(len(magic))
	if s := j.segs[len(j.segs)-1]; s.consumed() && s.size > m && !j.broken {
		if err := s.f.Truncate(m); err != nil {
			j.log.Error("journal: truncate consumed segment", "segment", s.path, "err", err)
			return
		}
		s.size, s.n, s.acked, s.ackedN = m, 0, m, 0
		if j.rdSeq == s.seq {
			j.rdOff, j.rdIdx = m, 0
		}
	}
}

// Notify returns a channel that is closed when records are next committed.
// Take it before a Read that finds nothing, then wait on it.
func (j *Journal) Notify() <-chan struct{} {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.notify
}

// Read returns up to n committed records after the ones already read, in
// append order, without waiting; nil when there are none.
func (j *Journal) Read(n int) []Record {
	j.mu.Lock()
	if j.closed {
		j.mu.Unlock()
		return nil
	}
	var s *segment
	for i, seg := range j.segs {
		if seg.seq < j.rdSeq {
			continue
		}
		if seg.seq > j.rdSeq {
			j.rdSeq, j.rdOff, j.rdIdx = seg.seq, int64(len(magic)), 0
		}
		if j.rdOff < seg.size || i == len(j.segs)-1 {
			s = seg
			break
		}
		// Read to its end: move on to the next segment.
		j.rdSeq, j.rdOff, j.rdIdx = seg.seq+1, int64(len(magic)), 0
	}
	if s == nil || j.rdOff >= s.size {
		j.mu.Unlock()
		return nil
	}
	f, seq, off, idx, end, endN := s.f, s.seq, j.rdOff, j.rdIdx, s.size, s.n
	j.mu.Unlock()

	br := bufio.NewReaderSize(io.NewSectionReader(f, off, end-off), 64<<10)
	recs, off, idx := j.readRecords(br, seq, off, idx, end, endN, n)
	j.mu.Lock()
	if j.rdSeq == seq {
		j.rdOff, j.rdIdx = off, idx
	}
	j.mu.Unlock()
	return recs
}

// readRecords parses up to n records of segment seq from br, which starts
// at off and holds the committed bytes up to end (endN records). Damage
// (the bytes were committed, so only the disk can cause it) skips to end.
func (j *Journal) readRecords(br *bufio.Reader, seq uint64, off int64, idx int, end int64, endN, n int) ([]Record, int64, int) {
	var recs []Record
	var hdr [hdrLen]byte
	for len(recs) < n && off < end {
		err := func() error {
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				return err
			}
			size := binary.LittleEndian.Uint32(hdr[0:4])
			if size > MaxRecord || off+int64(hdrLen)+int64(size) > end {
				return fmt.Errorf("record length %d past the committed end", size)
			}
			payload := make([]byte, size)
			if _, err := io.ReadFull(br, payload); err != nil {
				return err
			}
			if checksum(hdr[0:4], payload) != binary.LittleEndian.Uint32(hdr[4:8]) {
				return errors.New("record checksum mismatch")
			}
			off += int64(hdrLen) + int64(size)
			idx++
			recs = append(recs, Record{Data: payload, Pos: Pos{seq: seq, off: off, idx: idx}})
			return nil
		}()
		if err != nil {
			j.log.Error("journal: damaged record; skipping the rest of the segment",
				"segment", seq, "offset", off, "bytes", end-off, "records", endN-idx, "err", err)
			recs = append(recs, Record{Pos: Pos{seq: seq, off: end, idx: endN}})
			return recs, end, endN
		}
	}
	return recs, off, idx
}

// Ack acknowledges every record up to and including the one at p: they are
// safe elsewhere, and their space can be reused.
func (j *Journal) Ack(p Pos) {
	j.mu.Lock()
	for _, s := range j.segs {
		switch {
		case s.seq < p.seq:
			s.acked, s.ackedN = s.size, s.n
		case s.seq == p.seq && p.off > s.acked:
			s.acked, s.ackedN = p.off, p.idx
		}
	}
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
}

// Pending returns the committed records not yet acknowledged and their
// bytes.
func (j *Journal) Pending() (records, bytes int64) {
	j.mu.Lock()
	defer j.mu.Unlock()
	for _, s := range j.segs {
		records += int64(s.n - s.ackedN)
	}
	return records, j.pendingBytesLocked()
}

func (j *Journal) pendingBytesLocked() int64 {
	var b int64
	for _, s := range j.segs {
		b += s.size - s.acked
	}
	return b
}

// Close stops appends (they fail with [ErrClosed]) and closes the files.
// Unacknowledged records stay on disk for the next Open; an empty newest
// segment is removed.
func (j *Journal) Close() error {
	j.closeOnce.Do(func() { close(j.quit) })
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return nil
	}
	j.closed = true
	var errs []error
	for _, s := range j.segs {
		errs = append(errs, s.f.Close())
		if s.consumed() {
			if err := os.Remove(s.path); err != nil {
				errs = append(errs, err)
			}
		}
	}
	errs = append(errs, j.lock.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("journal: close: %w", err)
	}
	return nil
}

// closeFiles closes the segments opened so far and the lock, for a failed
// Open.
func (j *Journal) closeFiles() {
	for _, s := range j.segs {
		s.f.Close()
	}
	j.lock.Close()
}
