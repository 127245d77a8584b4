package dns

import (
	"bufio"
	"errors"
	"io"
	"net/netip"
	"strings"
)

// maxResolvConfServers is how many nameserver lines count, as in glibc
// (MAXNS, resolv.conf(5)); later ones are ignored.
const maxResolvConfServers = 3

// ParseResolvConf returns the "nameserver" addresses of a resolv.conf(5)
// file as "IP:53" ("[IPv6]:53"), at most three, in file order. Lines
// starting with '#' or ';' are comments; every other keyword (search,
// options, ...) is ignored, because mailwarden asks only absolute names
// and uses its own timeout. An address that does not parse is skipped, and
// so is a line longer than 4 KiB.
func ParseResolvConf(r io.Reader) ([]string, error) {
	br := bufio.NewReaderSize(r, 4096)
	var servers []string
	for {
		line, long, err := br.ReadLine()
		if long {
			// Discard the rest of an over-long line.
			for long && err == nil {
				_, long, err = br.ReadLine()
			}
			line = nil
		}
		if err != nil {
			if errors.Is(err, io.EOF) {
				return servers, nil
			}
			return servers, err
		}
		f := strings.Fields(string(line))
		if len(f) < 2 || f[0] != "nameserver" || len(servers) == maxResolvConfServers {
			continue
		}
		if ip, err := netip.ParseAddr(f[1]); err == nil {
			servers = append(servers, netip.AddrPortFrom(ip, 53).String())
		}
	}
}
