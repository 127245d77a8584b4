//go:build !linux

package milter

import "net"

// quickAcker is Linux-only; elsewhere the MTA's delayed-ACK stall stays.
func quickAcker(net.Conn) func() { return nil }
