package message

import (
	"fmt"
	"strings"
)

// Ambiguous MIME: when a header can be read in more than one way that
// changes what a mail client shows (two boundary parameters, two different
// Content-Type or Content-Transfer-Encoding fields, a multipart with a
// transfer encoding that some readers undo), the entity is walked once per
// reading and every reading's parts, names and text go into the Message.
// The first reading is the one an RFC-conforming reader takes and keeps the
// plain section numbers; each further one is named "~N" after the entity's
// section, N counting the readings of the whole message ("part:1~2.1" is
// part 1 of the second reading of part 1). Limits.MaxReadings bounds the
// further readings of one message, so that nested ambiguity cannot
// multiply the work: depth, part count and text budget are shared by all
// readings.

// reading is one way to read an entity's header.
type reading struct {
	ctype  string       // lower-case media type
	ct     *mediaHeader // parsed Content-Type, nil when none was given
	ctRaw  string
	hasCT  bool
	bound  string // multipart: the boundary of this reading
	cte    string // transfer encoding to undo: "", "base64" or "quoted-printable"; "8bit" etc. for leaves
	cteRaw string
}

// cteClass is the effect of a transfer encoding: identity, base64 or
// quoted-printable. Unknown encodings are identity (taken as 8bit).
func cteClass(cte string) string {
	switch cte {
	case "base64", "quoted-printable":
		return cte
	}
	return ""
}

func normCTE(v string) string {
	return strings.ToLower(strings.TrimSpace(stripComment(v)))
}

// distinctFold returns the trimmed values, without those equal to an
// earlier one ignoring case, at most max of them; more reports whether
// there were more.
func distinctFold(vals []string, max int) (out []string, more bool) {
	for _, v := range vals {
		v = strings.TrimSpace(v)
		dup := false
		for _, o := range out {
			if strings.EqualFold(o, v) {
				dup = true
				break
			}
		}
		if dup {
			continue
		}
		if len(out) == max {
			return out, true
		}
		out = append(out, v)
	}
	return out, false
}

// readingsOf returns every reading of an entity's header, the
// RFC-conforming one first, and reports the ambiguities and header
// problems it finds.
func (w *walker) readingsOf(h *headerBlock, section, defType string) []reading {
	hw := hw(section)
	maxAlt := w.lim.MaxReadings + 1
	ctVals, moreCT := distinctFold(h.get("Content-Type"), maxAlt)
	cteVals, moreCTE := distinctFold(h.get("Content-Transfer-Encoding"), maxAlt)
	if moreCT || moreCTE {
		w.exclude("mime.max_readings", int64(w.lim.MaxReadings), whereOf(section),
			fmt.Sprintf("more than %d alternative readings of ambiguous MIME; the rest were not scanned", w.lim.MaxReadings))
	}
	if len(ctVals) > 1 {
		w.ambiguous(hw+":Content-Type", "content-type", fmt.Sprintf("Content-Type given %d times with different values; every reading was scanned", len(ctVals)))
	}

	// Transfer encodings, one per effect.
	type cteForm struct{ norm, raw string }
	var ctes []cteForm
	for _, v := range cteVals {
		n := normCTE(v)
		switch n {
		case "", "7bit", "8bit", "binary", "base64", "quoted-printable":
		default:
			w.malformed(hw+":Content-Transfer-Encoding", "unknown Content-Transfer-Encoding; taken as 8bit", v)
			n = "8bit"
		}
		dup := false
		for _, c := range ctes {
			if cteClass(c.norm) == cteClass(n) {
				dup = true
			}
		}
		if !dup {
			ctes = append(ctes, cteForm{n, v})
		}
	}
	if len(ctes) == 0 {
		ctes = []cteForm{{"", ""}}
	}

	var out []reading
	addR := func(r reading) {
		for _, o := range out {
			if o.ctype == r.ctype && o.bound == r.bound && cteClass(o.cte) == cteClass(r.cte) && strings.EqualFold(o.ctRaw, r.ctRaw) {
				return
			}
		}
		if len(out) < maxAlt {
			out = append(out, r)
		} else {
			w.exclude("mime.max_readings", int64(w.lim.MaxReadings), whereOf(section),
				fmt.Sprintf("more than %d alternative readings of ambiguous MIME; the rest were not scanned", w.lim.MaxReadings))
		}
	}
	cteAmb := false
	hasCT := len(ctVals) > 0
	if !hasCT {
		ctVals = []string{""}
	}
	for _, v := range ctVals {
		r := reading{ctype: defType, ctRaw: v, hasCT: hasCT}
		if r.hasCT {
			ct := parseMediaHeader(v)
			for _, p := range ct.problems {
				w.malformed(hw+":Content-Type", "bad Content-Type: "+p, v)
			}
			r.ctype = ct.value
			if !validMediaType(r.ctype) {
				w.malformed(hw+":Content-Type", "Content-Type is not type/subtype; taken as text/plain", v)
				r.ctype = "text/plain"
				ct = mediaHeader{}
			}
			r.ct = &ct
			if ct.params["charset"] != nil {
				for _, cs := range ct.rawForms("charset") {
					w.dec.DeclareCharset(cs)
				}
			}
		}
		if strings.HasPrefix(r.ctype, "multipart/") {
			bounds := []string{""}
			if r.ct.params["boundary"] != nil {
				bounds = r.ct.rawForms("boundary")
				if p := r.ct.params["boundary"]; len(bounds) == 1 && p.forms() > 1 {
					w.malformed(hw+":Content-Type", fmt.Sprintf("boundary parameter given %d times, with the same value", p.forms()), v)
				}
				if len(bounds) > 1 {
					w.ambiguous(hw+":Content-Type", "boundary", fmt.Sprintf("%d different boundary parameters (CVE-2024-28054); the parts under every boundary were scanned", len(bounds)))
				}
			}
			for _, b := range bounds {
				r.bound = b
				r.cte, r.cteRaw = "", ""
				addR(r)
				// RFC 2045 section 6.4 forbids an encoded multipart, but
				// some readers decode it anyway.
				for _, c := range ctes {
					if cteClass(c.norm) != "" {
						cteAmb = true
						r.cte, r.cteRaw = c.norm, c.raw
						addR(r)
					}
				}
			}
			continue
		}
		for _, c := range ctes {
			r.cte, r.cteRaw = c.norm, c.raw
			addR(r)
		}
		if len(ctes) > 1 {
			cteAmb = true
		}
	}
	if cteAmb {
		if len(ctes) > 1 {
			w.ambiguous(hw+":Content-Transfer-Encoding", "content-transfer-encoding", fmt.Sprintf("Content-Transfer-Encoding given %d times with different effects; every reading was scanned", len(ctes)))
		} else {
			w.ambiguous(hw+":Content-Transfer-Encoding", "content-transfer-encoding", "multipart with a Content-Transfer-Encoding other than 7bit, 8bit or binary (RFC 2045 section 6.4); scanned both as is and decoded")
		}
	}
	return out
}
