// Package scanner holds the content and authentication checks. A check never
// picks an action: it reports [Finding] values, and the rules in policy/ decide.
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
}
