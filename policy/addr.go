package policy

import (
	"fmt"
	"strings"

	"github.com/mailwarden/mailwarden/policy/lists"
)

// AddressPattern matches an envelope address: user@example.com,
// *@example.com, *@*.example.com, user@*, * or <>. See [lists.Pattern],
// where the grammar lives so that rules and address lists share it.
type AddressPattern = lists.Pattern

// AddressForms names the pattern forms, for hints.
const AddressForms = lists.PatternForms

// ParseAddressPattern parses one pattern; see [lists.ParsePattern].
func ParseAddressPattern(s string) (AddressPattern, error) { return lists.ParsePattern(s) }

// SplitAddress splits an address into its local part and its lower-cased
// domain, without a trailing dot. An address without @ has an empty domain.
func SplitAddress(addr string) (local, domain string) { return lists.SplitAddress(addr) }

// AddressList is a set of patterns; it matches when any pattern does.
type AddressList []AddressPattern

// Match reports whether any pattern matches addr.
func (l AddressList) Match(addr string) bool {
	for _, p := range l {
		if p.Match(addr) {
			return true
		}
	}
	return false
}

// ParseAddressList parses patterns given one per list element; each element
// may also hold several separated by commas or spaces. An element that holds
// no pattern at all is an error: recipients = [""] would otherwise make a
// rule for every recipient. It returns every problem, not just the first.
func ParseAddressList(items []string) (AddressList, []error) {
	var l AddressList
	var errs []error
	for _, item := range items {
		fields := splitList(item)
		if len(fields) == 0 {
			errs = append(errs, fmt.Errorf("%q holds no address pattern", item))
		}
		for _, f := range fields {
			p, err := ParseAddressPattern(f)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			l = append(l, p)
		}
	}
	return l, errs
}

// splitList splits on commas and white space, the separators operators use.
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
}
