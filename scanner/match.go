package scanner

// Match is one rule that matched, with the findings behind it: what the
// rule engine returns, what `mailwarden check` prints, and what the
// tracking log stores, so every decision can be explained.
type Match struct {
	// Rule is the rule's name.
	Rule string `json:"rule"`
	// Stage is where it was decided: "connect", "helo", "mail", "rcpt",
	// "eoh" or "eom".
	Stage string `json:"stage"`
	// Action is the rule's action, empty for one that only modifies.
	Action string `json:"action"`
	// Findings are the findings its conditions matched on.
	Findings []Finding `json:"findings"`
}
