package session

import (
	"bytes"
	"fmt"
	"os"
	"sync"
)

// bufPool recycles spool buffers across sessions: a busy daemon would
// otherwise grow a fresh buffer, and clear its memory, for every message.
var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooled is the largest buffer put back in the pool.
const maxPooled = 4 << 20

// spool holds a message body: in memory up to memLimit, then in a temporary
// file in dir. Past maxSize nothing more is kept and truncated is set, which
// becomes a scan.exclusion finding rather than a silent partial scan.
type spool struct {
	dir       string
	memLimit  int64
	maxSize   int64
	mem       *bytes.Buffer
	file      *os.File
	size      int64 // bytes received, kept or not
	truncated bool
}

func (s *spool) Write(p []byte) error {
	s.size += int64(len(p))
	kept := s.size - int64(len(p))
	if kept >= s.maxSize {
		s.truncated = true
		return nil
	}
	if room := s.maxSize - kept; int64(len(p)) > room {
		p, s.truncated = p[:room], true
	}
	if s.mem == nil {
		s.mem = bufPool.Get().(*bytes.Buffer)
	}
	if s.file == nil && int64(s.mem.Len()+len(p)) <= s.memLimit {
		s.mem.Write(p)
		return nil
	}
	if err := s.spill(); err != nil {
		return err
	}
	if _, err := s.file.Write(p); err != nil {
		return fmt.Errorf("milter: spool: %w", err)
	}
	return nil
}

// spill moves what the spool holds in memory to its temporary file now,
// and keeps the rest of the message there: the caller is short of memory.
func (s *spool) spill() error {
	if s.file != nil {
		return nil
	}
	f, err := os.CreateTemp(s.dir, "spool-*")
	if err != nil {
		return fmt.Errorf("milter: spool: %w", err)
	}
	_ = os.Remove(f.Name()) // unlinked: nothing to clean up after a crash
	s.file = f
	if s.mem != nil {
		if _, err := f.Write(s.mem.Bytes()); err != nil {
			return fmt.Errorf("milter: spool: %w", err)
		}
		s.mem.Reset()
	}
	return nil
}

// inMemory is how many bytes the spool holds in memory.
func (s *spool) inMemory() int64 {
	if s.mem == nil || s.file != nil {
		return 0
	}
	return int64(s.mem.Len())
}

// Bytes returns the kept body.
func (s *spool) Bytes() ([]byte, error) {
	if s.file == nil {
		if s.mem == nil {
			return nil, nil
		}
		return s.mem.Bytes(), nil
	}
	// Read into a buffer of the exact size: io.ReadAll would grow one by
	// doubling and briefly hold about twice the message.
	kept := min(s.size, s.maxSize)
	b := make([]byte, kept)
	if _, err := s.file.ReadAt(b, 0); err != nil { // short only if the file lost bytes
		return nil, fmt.Errorf("milter: spool: %w", err)
	}
	return b, nil
}

// Reset empties the spool for the next message and gives its buffer back
// to the pool.
func (s *spool) Reset() {
	if s.file != nil {
		s.file.Close()
		s.file = nil
	}
	if s.mem != nil {
		if s.mem.Cap() <= maxPooled {
			s.mem.Reset()
			bufPool.Put(s.mem)
		}
		s.mem = nil
	}
	s.size, s.truncated = 0, false
}
