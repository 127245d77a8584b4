package dmarc

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Record is a parsed DMARC policy record (RFC 7489 §6.3, np from RFC 9091
// §4.1).
type Record struct {
	// P, SP and NP are "none", "quarantine" or "reject"; SP and NP are ""
	// when the record does not say (then P applies, and for NP, SP).
	P, SP, NP string
	// Pct is the percentage of failing mail the policy applies to.
	Pct int
	// ADKIM and ASPF are 'r' (relaxed, the default) or 's' (strict).
	ADKIM, ASPF byte
	// RUA and RUF are the report URIs, as written.
	RUA, RUF []string
}

// ErrNotDMARC is a TXT record that is not a DMARC record at all (it does
// not start with v=DMARC1): policy discovery skips it (RFC 7489 §6.6.3).
var ErrNotDMARC = errors.New("dmarc: not a DMARC record")

// ErrSyntax is a DMARC record that does not parse.
var ErrSyntax = errors.New("dmarc: bad record")

// maxRecord bounds the record read: a TXT answer can be 64 KB.
const maxRecord = 4096

// ParseRecord reads a DMARC record. Tags are separated by ";" with
// optional white space; v=DMARC1 must come first (§6.3). Unknown tags are
// ignored (§6.3); tag names and policy values are case-insensitive. A
// record without a valid p (or with an invalid sp or np) is read as p=none
// when it has a rua tag, else it is an error (§6.6.3 step 6).
func ParseRecord(s string) (*Record, error) {
	if len(s) > maxRecord {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrSyntax, len(s), maxRecord)
	}
	parts := strings.Split(s, ";")
	first, v, ok := strings.Cut(parts[0], "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(first), "v") || strings.TrimSpace(v) != "DMARC1" {
		return nil, ErrNotDMARC
	}
	r := &Record{Pct: 100, ADKIM: 'r', ASPF: 'r'}
	var bad []string
	seen := map[string]bool{}
	for _, part := range parts[1:] {
		part = strings.TrimSpace(part)
		if part == "" {
			continue // a trailing ";" or an empty tag list element
		}
		k, val, ok := strings.Cut(part, "=")
		if !ok {
			bad = append(bad, fmt.Sprintf("%q is not tag=value", part))
			continue
		}
		k, val = strings.ToLower(strings.TrimSpace(k)), strings.TrimSpace(val)
		if seen[k] {
			continue // the first one counts
		}
		seen[k] = true
		switch k {
		case "p", "sp", "np":
			lv := strings.ToLower(val)
			if lv != "none" && lv != "quarantine" && lv != "reject" {
				bad = append(bad, fmt.Sprintf("%s=%q is not none, quarantine or reject", k, val))
				if k == "p" {
					r.P = "invalid"
				}
				continue
			}
			switch k {
			case "p":
				r.P = lv
			case "sp":
				r.SP = lv
			default:
				r.NP = lv
			}
		case "pct":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 || n > 100 {
				bad = append(bad, fmt.Sprintf("pct=%q is not 0 to 100", val))
				continue
			}
			r.Pct = n
		case "adkim", "aspf":
			lv := strings.ToLower(val)
			if lv != "r" && lv != "s" {
				bad = append(bad, fmt.Sprintf("%s=%q is not r or s", k, val))
				continue
			}
			if k == "adkim" {
				r.ADKIM = lv[0]
			} else {
				r.ASPF = lv[0]
			}
		case "rua", "ruf":
			var uris []string
			for _, u := range strings.Split(val, ",") {
				if u = strings.TrimSpace(u); u != "" {
					uris = append(uris, u)
				}
			}
			if k == "rua" {
				r.RUA = uris
			} else {
				r.RUF = uris
			}
		}
	}
	pValid := r.P == "none" || r.P == "quarantine" || r.P == "reject"
	if !pValid && len(bad) == 0 {
		bad = append(bad, "no p tag")
	}
	if len(bad) > 0 {
		if len(r.RUA) > 0 && (!pValid || len(bad) > 0) {
			// §6.6.3 step 6: act as if p=none was published.
			return &Record{P: "none", Pct: 100, ADKIM: 'r', ASPF: 'r', RUA: r.RUA, RUF: r.RUF}, nil
		}
		return nil, fmt.Errorf("%w: %s", ErrSyntax, strings.Join(bad, "; "))
	}
	return r, nil
}
