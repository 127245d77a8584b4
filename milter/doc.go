// Package milter is the go-milter adapter: it negotiates with the MTA,
// reads macros, drives one [session.Session] per SMTP session through its
// callbacks, turns verdicts into replies and end-of-message decisions into
// modifications (DelRcpt, header changes), commits quarantine copies
// before it answers, and writes the tracking log through a journal. It
// also guards go-milter against packets that would crash it, keeps the
// listener alive through accept errors, and bounds what sessions hold.
package milter
