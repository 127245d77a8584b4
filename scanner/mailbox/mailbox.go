// Package mailbox reads messages out of what mail is kept in: single
// message files, Maildir and MH directories (each message a file, found
// recursively), and mbox files, split on their From_ lines, for
// `mailwarden learn`.
//
// An mbox is split on lines starting "From " at the start of the file or
// after an empty line (the separator mboxo, mboxrd and mboxcl writers put
// there, so a body line beginning "From " that a writer forgot to quote
// after text does not split a message). The From_ line is dropped, the
// empty line before the next one too, and one ">" is taken off quoted
// ">From " lines (mboxrd; in mboxo the quoting cannot be undone
// unambiguously, and a stray ">" costs a classifier nothing).
package mailbox

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Errors a skipped message is reported with.
var (
	// ErrTooBig is a message over the size limit; it is not read.
	ErrTooBig = errors.New("mailbox: message over the size limit")
	// ErrNotMessage is a file that does not start like a message (an
	// index or a state file of a mail store).
	ErrNotMessage = errors.New("mailbox: not a message")
)

// DefaultMaxMessage is the default size limit of one message: 32 MiB.
const DefaultMaxMessage = 32 << 20

var fromLine = []byte("From ")

// Split reads an mbox from r and calls fn with each message, in order;
// a message over max bytes (0: DefaultMaxMessage) is passed as nil with
// ErrTooBig. An error from fn stops it and is returned. The bytes passed
// are fn's to keep.
func Split(r io.Reader, max int, fn func(msg []byte, err error) error) error {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	sp := splitter{max: max, fn: fn}
	br := bufio.NewReaderSize(r, 64<<10)
	afterBlank := true // at the start, or the last line was empty
	midLine := false   // the last fragment did not end its line
	dropLine := false  // the line going on is a From_ line
	for {
		line, err := br.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) && err != io.EOF {
			return fmt.Errorf("mailbox: %w", err)
		}
		if len(line) > 0 {
			var ferr error
			switch body := bytes.TrimRight(line, "\r\n"); {
			case midLine:
				if !dropLine {
					sp.add(line)
				}
			case afterBlank && bytes.HasPrefix(line, fromLine):
				dropLine = true
				sp.held = sp.held[:0]
				ferr = sp.flush()
				sp.in = true
				afterBlank = false
			case len(body) == 0 && line[len(line)-1] == '\n':
				sp.add(sp.held)
				sp.held = append(sp.held[:0], line...)
				sp.in = true
				afterBlank = true
			default:
				sp.add(sp.held)
				sp.held = sp.held[:0]
				if q := bytes.TrimLeft(body, ">"); len(q) < len(body) && bytes.HasPrefix(q, fromLine) {
					line = line[1:]
				}
				sp.add(line)
				sp.in = true
				afterBlank = false
			}
			if ferr != nil {
				return ferr
			}
			midLine = line[len(line)-1] != '\n'
			dropLine = dropLine && midLine
		}
		if err == io.EOF {
			break
		}
	}
	return sp.flush()
}

// splitter is one message of [Split] being read.
type splitter struct {
	max    int
	fn     func([]byte, error) error
	cur    []byte
	held   []byte // an empty line: the separator if a From_ line follows
	in     bool   // a message has started
	tooBig bool
}

func (sp *splitter) add(b []byte) {
	if sp.tooBig || len(b) == 0 {
		return
	}
	if len(sp.cur)+len(b) > sp.max {
		sp.tooBig, sp.cur = true, nil
		return
	}
	sp.cur = append(sp.cur, b...)
}

func (sp *splitter) flush() error {
	if !sp.in {
		return nil
	}
	msg, tooBig := sp.cur, sp.tooBig
	sp.in, sp.tooBig, sp.cur = false, false, nil
	if tooBig {
		return sp.fn(nil, ErrTooBig)
	}
	if len(bytes.TrimSpace(msg)) == 0 {
		return nil
	}
	return sp.fn(msg, nil)
}

// IsMbox reports whether b, a file's start, is an mbox: it begins with a
// From_ line.
func IsMbox(b []byte) bool { return bytes.HasPrefix(b, fromLine) }

// looksLikeMessage reports whether b starts with a header field name and
// a colon, as a message does.
func looksLikeMessage(b []byte) bool {
	for i, c := range b {
		switch {
		case c == ':':
			return i > 0
		case c < '!' || c > '~':
			return false
		}
		if i > 998 {
			return false
		}
	}
	return false
}

// Walk calls fn for each message at path: a message file, an mbox file
// (split with [Split]; where is "PATH:N"), or a directory, whose files are
// read recursively in name order (Maildir, MH). Skipped messages are
// passed as nil with their error ([ErrTooBig], [ErrNotMessage]); an
// error reading a file stops the walk, as does one from fn.
func Walk(path string, max int, fn func(where string, msg []byte, err error) error) error {
	if max <= 0 {
		max = DefaultMaxMessage
	}
	fi, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		return walkFile(path, max, fn)
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return err
	}
	sort.Strings(files)
	for _, f := range files {
		if err := walkFile(f, max, fn); err != nil {
			return err
		}
	}
	return nil
}

func walkFile(path string, max int, fn func(where string, msg []byte, err error) error) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	br := bufio.NewReader(f)
	head, _ := br.Peek(1024)
	if IsMbox(head) {
		n := 0
		return Split(br, max, func(msg []byte, err error) error {
			n++
			return fn(fmt.Sprintf("%s:%d", path, n), msg, err)
		})
	}
	if !looksLikeMessage(head) {
		return fn(path, nil, ErrNotMessage)
	}
	b, err := io.ReadAll(io.LimitReader(br, int64(max)+1))
	if err != nil {
		return err
	}
	if len(b) > max {
		return fn(path, nil, ErrTooBig)
	}
	return fn(path, b, nil)
}
