// Package scanner holds what checks, rules and the store share about a
// message: the [Finding] a check reports and the [Match] of a rule on
// findings. It imports nothing, so the store can record both without
// knowing the checks or the rules. Its subpackages parse what checks
// share: scanner/message the MIME structure, headers and charsets.
package scanner

// Finding is one fact a check established about a session or a message, with
// the human reason behind it. Findings are what rules match on and what the
// tracking log records.
type Finding struct {
	// Name is the finding type, dotted by family: "content.gtube",
	// "message.malformed", "scan.exclusion".
	Name string `json:"name"`
	// Value is the matched value: the keyword, the header text, the limit hit.
	Value string `json:"value,omitempty"`
	// Where says where it matched: "subject", "body", "header:X-Foo",
	// "attachment:name.zip", "client", "envelope".
	Where string `json:"where,omitempty"`
	// Reason is a sentence for the administrator.
	Reason string `json:"reason,omitempty"`
	// Score is the finding's weight where its check gives one (a DNSBL
	// listing's weight, negative for an allow list); rules add scores up
	// with the expression score("dnsbl.*", "dnswl.*").
	Score float64 `json:"score,omitempty"`
	// Recipients limits a finding about the message to these recipients
	// (a release that holds for some of them); empty means all.
	Recipients []string `json:"recipients,omitempty"`
}

// For reports whether a finding holds for rcpt.
func (f *Finding) For(rcpt string) bool {
	if len(f.Recipients) == 0 {
		return true
	}
	for _, r := range f.Recipients {
		if equalFold(r, rcpt) {
			return true
		}
	}
	return false
}

// equalFold is strings.EqualFold for ASCII, which addresses compare as.
func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
