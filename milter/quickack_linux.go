package milter

import (
	"net"
	"syscall"
)

// quickAcker returns a function that puts a TCP connection in quick-ACK
// mode, or nil for other connections. MTAs write some milter packets that
// expect no reply (Sendmail writes the macros and then the command as two
// packets; Postfix the DATA macros and then the first header). With Nagle's
// algorithm on the MTA's side the second small write waits until the first
// is acknowledged, and Linux delays that ACK by up to 40 ms when the
// receiver has nothing to send: a stall per stage, per message. Linux
// leaves quick-ACK mode on its own, so it is re-armed after every packet.
func quickAcker(c net.Conn) func() {
	tc, ok := c.(*net.TCPConn)
	if !ok {
		return nil
	}
	raw, err := tc.SyscallConn()
	if err != nil {
		return nil
	}
	return func() {
		_ = raw.Control(func(fd uintptr) {
			_ = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, syscall.TCP_QUICKACK, 1)
		})
	}
}
