package hostfuncs

import "net/netip"

// AllowTestAddr lets exactly ap (address and port) through the address policy
// of the runs made from cfg. The tests' servers listen on loopback; this gives
// them one reachable "public" server with AllowPrivate off, so they can prove
// that everything else on loopback, and every redirect from that server to an
// internal address, is still refused.
func AllowTestAddr(cfg *HTTPConfig, ap netip.AddrPort) {
	cfg.testAllowAddrs = append(cfg.testAllowAddrs, ap)
}

// AddrBlocked exposes the address policy: why a is refused, "" when allowed.
func AddrBlocked(a netip.Addr, allowPrivate bool) string { return addrBlocked(a, allowPrivate) }

// ParseLegacyIPv4 exposes the inet_aton-style IPv4 reader.
func ParseLegacyIPv4(s string) (netip.Addr, bool) { return parseLegacyIPv4(s) }

// DialControl runs the dialer's Control check of a run made from cfg on address.
func DialControl(cfg HTTPConfig, address string) error {
	return newHTTPRun(cfg).control("tcp", address, nil)
}
