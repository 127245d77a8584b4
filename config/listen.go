package config

import (
	"encoding/hex"
	"fmt"
	"net"
	"strings"
)

// ParseListen parses a milter socket spec in Postfix's notation and returns
// the network and address for net.Listen: "inet:127.0.0.1:8899",
// "inet6:[::1]:8899", "unix:/run/mailwarden.sock" or "local:/path". Sendmail
// writes the same socket as "inet:8899@127.0.0.1", which is accepted too.
func ParseListen(spec string) (network, address string, err error) {
	kind, rest, ok := strings.Cut(spec, ":")
	if !ok {
		return "", "", fmt.Errorf("%q: expected inet:HOST:PORT or unix:/path", spec)
	}
	switch kind {
	case "unix", "local":
		if !strings.HasPrefix(rest, "/") {
			return "", "", fmt.Errorf("%q: a unix socket needs an absolute path", spec)
		}
		return "unix", rest, nil
	case "inet", "inet6", "tcp":
		if port, host, ok := strings.Cut(rest, "@"); ok { // Sendmail order
			rest = net.JoinHostPort(strings.Trim(host, "[]"), port)
		}
		host, port, err := net.SplitHostPort(rest)
		if err != nil || port == "" {
			return "", "", fmt.Errorf("%q: expected inet:HOST:PORT", spec)
		}
		if n, err := net.LookupPort("tcp", port); err != nil || n == 0 {
			return "", "", fmt.Errorf("%q: %q is not a port", spec, port)
		}
		return "tcp", net.JoinHostPort(host, port), nil
	}
	return "", "", fmt.Errorf("%q: unknown socket type %q (use inet or unix)", spec, kind)
}

func decodeHexKey(s string) ([]byte, error) {
	return hex.DecodeString(strings.TrimSpace(s))
}

// ReleaseKey returns the configured release key, or nil when it is to be
// generated in the data directory.
func (c *Config) ReleaseKey() []byte {
	if c.Release.Key == "" {
		return nil
	}
	k, _ := decodeHexKey(c.Release.Key)
	return k
}
