package hostfuncs

import "net/netip"

// AddrBlocked exposes the address policy: why a is refused, "" when allowed.
func AddrBlocked(a netip.Addr, allowPrivate bool) string { return addrBlocked(a, allowPrivate) }

// ParseLegacyIPv4 exposes the inet_aton-style IPv4 reader.
func ParseLegacyIPv4(s string) (netip.Addr, bool) { return parseLegacyIPv4(s) }

// DialControl runs the dialer's Control check of a run made from cfg on address.
func DialControl(cfg HTTPConfig, address string) error {
	return newHTTPRun(cfg).control("tcp", address, nil)
}
