package message

import (
	"bytes"
	"fmt"
	"strings"
	"unicode/utf8"
)

// textKeeper builds Message.Text. Text whose charset must be guessed is
// held until the whole message has been walked, so that the guess can use
// the charsets declared anywhere in it; the text after it is held too, to
// keep the order. Until the first held segment, text is written directly.
type textKeeper struct {
	b     strings.Builder
	spans []textSpan
	kept  int64 // bytes written or held, separators included
	segs  []textSeg
}

// textSeg is one part's text.
type textSeg struct {
	s         string
	raw       []byte // held: undeclared 8-bit text still to decode
	held      bool
	where     string
	label     string
	unknown   string // the unknown charset label the text carried
	truncated bool
}

// room returns how many more bytes of text may be kept.
func (t *textKeeper) room(lim Limits) int64 {
	sep := int64(0)
	if t.kept > 0 {
		sep = 1
	}
	return lim.MaxDecodedBytes - t.kept - sep
}

// keepText transcodes b to UTF-8 from charset cs ("" for none) and appends
// it to the message text within the budget.
func (w *walker) keepText(b []byte, cs, where, label string, truncated bool) {
	room := w.text.room(w.lim)
	if room <= 0 {
		if len(b) > 0 || truncated {
			w.excludeText(where)
		}
		return
	}
	if int64(len(b)) > room {
		b = b[:room]
		truncated = true
	}
	seg := textSeg{where: where, label: label, truncated: truncated}
	if cs != "" {
		if enc, _, ok := lookupCharset(cs); ok {
			s, good := transcode(enc, b)
			if !good && !truncated {
				w.malformed(where, fmt.Sprintf("bytes not valid in charset %q", truncate(cs, 40)), cs)
			}
			seg.s = s
			w.putText(seg)
			return
		}
		w.malformed(where, fmt.Sprintf("unknown charset %q", truncate(cs, 40)), cs)
		seg.unknown = cs
	}
	high := !isASCIIBytes(b)
	if !high || validUTF8(b, truncated) {
		s, name, k, _ := w.dec.decodeText(b, truncated)
		if high || seg.unknown != "" && name != "us-ascii" {
			w.guessed(where, note{guess: name, kind: k}, seg.unknown)
		}
		seg.s = s
		w.putText(seg)
		return
	}
	seg.raw, seg.held = b, true
	w.putText(seg)
}

func (w *walker) putText(seg textSeg) {
	t := &w.text
	n := len(seg.s)
	if seg.held {
		n = len(seg.raw)
	}
	if t.kept > 0 {
		t.kept++
	}
	t.kept += int64(n)
	if len(t.segs) == 0 && !seg.held {
		w.writeText(&seg)
		t.kept = int64(t.b.Len())
		return
	}
	t.segs = append(t.segs, seg)
}

// writeText appends one segment's decoded text, cut to the budget.
func (w *walker) writeText(seg *textSeg) {
	t := &w.text
	sep := 0
	if t.b.Len() > 0 {
		sep = 1
	}
	room := w.lim.MaxDecodedBytes - int64(t.b.Len()+sep)
	s, truncated := seg.s, seg.truncated
	if room <= 0 {
		if len(s) > 0 || truncated {
			w.excludeText(seg.where)
		}
		return
	}
	if int64(len(s)) > room {
		cut := int(room)
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
		truncated = true
	}
	if sep > 0 {
		t.b.WriteByte('\n')
	}
	start := t.b.Len()
	t.b.WriteString(s)
	t.spans = append(t.spans, textSpan{start: start, end: t.b.Len(), where: seg.label, part: seg.where})
	if truncated {
		w.excludeText(seg.where)
	}
}

// finish decodes the held text with every declared charset known, and
// writes the rest.
func (t *textKeeper) finish(w *walker) {
	for len(t.segs) > 0 {
		seg := t.segs[0]
		t.segs = t.segs[1:]
		if seg.held {
			s, name, k, _ := w.dec.decodeText(seg.raw, seg.truncated)
			w.guessed(seg.where, note{guess: name, kind: k}, seg.unknown)
			seg.s, seg.raw = s, nil
		}
		w.writeText(&seg)
	}
}

func (w *walker) excludeText(where string) {
	w.exclude("mime.max_decoded_bytes", w.lim.MaxDecodedBytes, where,
		fmt.Sprintf("more than %d bytes of decoded text; the rest was not scanned", w.lim.MaxDecodedBytes))
}

// normalizeBareCR returns a copy of msg with every bare CR line end made an
// LF, or nil when msg has none, with the number of bare CR line ends and of
// LFs. A CR is bare when no LF follows it or the CRs after it; "\r\r\n", a
// common mailer bug, is one line end and stays as it is. Replacing a byte
// with a byte keeps every offset.
func normalizeBareCR(msg []byte) (norm []byte, nCR, nLF int) {
	i := bytes.IndexByte(msg, '\r')
	for i >= 0 && i < len(msg) {
		j := i
		for j < len(msg) && msg[j] == '\r' {
			j++
		}
		if j == len(msg) || msg[j] != '\n' {
			if norm == nil {
				norm = bytes.Clone(msg)
			}
			for k := i; k < j; k++ {
				norm[k] = '\n'
			}
			nCR += j - i
		}
		if j >= len(msg) {
			break
		}
		k := bytes.IndexByte(msg[j:], '\r')
		if k < 0 {
			break
		}
		i = j + k
	}
	if norm == nil {
		return nil, 0, 0
	}
	return norm, nCR, bytes.Count(msg, []byte{'\n'})
}
