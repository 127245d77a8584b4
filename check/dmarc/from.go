package dmarc

import (
	"io"
	"mime"
	"net/mail"
	"regexp"
	"strings"

	"github.com/mailwarden/mailwarden/check"
)

// maxFromAddrs bounds the addresses read from From fields.
const maxFromAddrs = 16

// FromAddresses returns the addresses of every From field of hs, in
// order. A field that does not parse as an address list is read for
// angle-bracketed addresses, else for a bare one, so a malformed From
// still counts (and a display name in an unknown charset is no obstacle).
func FromAddresses(hs []check.RawHeader) []string {
	var out []string
	for _, h := range hs {
		if !strings.EqualFold(h.Name, "From") {
			continue
		}
		out = append(out, parseAddrs(h.Value)...)
		if len(out) >= maxFromAddrs {
			return out[:maxFromAddrs]
		}
	}
	return out
}

var lenient = mail.AddressParser{WordDecoder: &mime.WordDecoder{
	// The display name does not matter here: take any charset as is.
	CharsetReader: func(_ string, r io.Reader) (io.Reader, error) { return r, nil },
}}

var (
	angleAddr = regexp.MustCompile(`<\s*([^<>\s@]+@[^<>\s]+?)\s*>`)
	bareAddr  = regexp.MustCompile(`[^<>\s@",;:()]+@[^<>\s",;:()]+`)
)

func parseAddrs(v string) []string {
	v = strings.TrimSpace(strings.NewReplacer("\r\n", " ", "\n", " ").Replace(v))
	if list, err := lenient.ParseList(v); err == nil {
		out := make([]string, 0, len(list))
		for _, a := range list {
			out = append(out, a.Address)
		}
		return out
	}
	if m := angleAddr.FindAllStringSubmatch(v, maxFromAddrs); len(m) > 0 {
		out := make([]string, 0, len(m))
		for _, s := range m {
			out = append(out, s[1])
		}
		return out
	}
	if m := bareAddr.FindAllString(v, maxFromAddrs); len(m) > 0 {
		return m
	}
	if v == "" {
		return nil
	}
	return []string{v} // not an address: its "domain" is the empty one
}

// Domain is the domain of an address, lower case, "" when it has none.
func Domain(addr string) string {
	i := strings.LastIndexByte(addr, '@')
	if i < 0 {
		return ""
	}
	return strings.ToLower(strings.TrimSuffix(strings.TrimSuffix(addr[i+1:], ">"), "."))
}
