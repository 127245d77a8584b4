package policy

import "fmt"

// Stage is a point of the SMTP session at which the milter gets facts and
// can answer. A rule is decided at the earliest stage where all its facts are
// known.
type Stage int

// The stages, in session order.
const (
	StageConnect Stage = iota // client IP and reverse name
	StageHelo                 // HELO/EHLO name
	StageMail                 // envelope sender, SMTP AUTH user
	StageRcpt                 // each envelope recipient, its direction
	StageEOH                  // header fields, decoded subject
	StageEOM                  // body: size, content findings
)

var stageNames = [...]string{"connect", "helo", "mail", "rcpt", "eoh", "eom"}

func (s Stage) String() string {
	if s >= 0 && int(s) < len(stageNames) {
		return stageNames[s]
	}
	return fmt.Sprintf("stage(%d)", int(s))
}

// Describe is the stage in words, for `config check`.
func (s Stage) Describe() string {
	switch s {
	case StageConnect:
		return "at connect"
	case StageHelo:
		return "at HELO"
	case StageMail:
		return "at MAIL FROM"
	case StageRcpt:
		return "at RCPT TO, per recipient"
	case StageEOH:
		return "at end of headers, per recipient"
	default:
		return "at end of message, per recipient"
	}
}
