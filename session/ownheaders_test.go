package session

import (
	"fmt"
	"testing"

	"github.com/mailwarden/mailwarden/check/spam"
)

// TestOwnFields: the sender's X-Mailwarden-* fields by name in the order
// a name first appears and by index within it, names compared without
// case as the MTA counts them; the release header is left to its own
// removal.
func TestOwnFields(t *testing.T) {
	hs := []RawHeader{
		{Name: "X-Mailwarden-Graymail", Value: " a"},
		{Name: "Subject", Value: " s"},
		{Name: "X-Mailwarden-Warning", Value: " b"},
		{Name: "x-mailwarden-graymail", Value: " c"},
		{Name: "X-Mailwarden-Release", Value: " r"},
		{Name: "X-Mailwarden", Value: " not ours: no dash"},
		{Name: "X-Mailwarden-Warning", Value: " d"},
	}
	got := fmt.Sprint(OwnFields(hs))
	want := fmt.Sprint([]spam.Ref{{Name: "X-Mailwarden-Graymail", Index: 1}, {Name: "X-Mailwarden-Graymail", Index: 2},
		{Name: "X-Mailwarden-Warning", Index: 1}, {Name: "X-Mailwarden-Warning", Index: 2}})
	if got != want {
		t.Errorf("OwnFields = %s, want %s", got, want)
	}
	if got := OwnFields([]RawHeader{{Name: "Subject"}}); got != nil {
		t.Errorf("no own fields: %v", got)
	}
}
