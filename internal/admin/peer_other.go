//go:build !linux

package admin

import "net"

// peerAllowed relies on the socket file's mode (0600) where peer
// credentials are not read.
func peerAllowed(c net.Conn) bool { return true }
