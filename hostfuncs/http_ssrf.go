package hostfuncs

import (
	"net/netip"
	"strconv"
	"strings"
)

// The address policy of wasmflow_http_fetch: which IP addresses a guest's
// request may reach. It is applied to IP literals before any network I/O and
// again to every address the dialer is about to connect to (after DNS), so a
// name that resolves, or later re-resolves, to an internal address is refused.

// blockedRange is one refused address range. always ranges stay refused when
// the operator opens private addresses (--http-allow-private): they are never
// a lab's target (metadata services, multicast, broadcast, unspecified).
type blockedRange struct {
	prefix netip.Prefix
	reason string
	always bool
}

// blockedRanges lists the refused ranges, most specific first: the first
// match names the reason. Sources: the IANA IPv4 and IPv6 special-purpose
// address registries and the cloud providers' metadata addresses.
var blockedRanges = func() []blockedRange {
	type r struct {
		cidr, reason string
		always       bool
	}
	list := []r{
		// Cloud metadata services, refused even with private addresses open.
		{"169.254.169.254/32", "cloud metadata address", true},
		{"100.100.100.200/32", "cloud metadata address", true},
		{"168.63.129.16/32", "cloud platform address", true},
		{"fd00:ec2::254/128", "cloud metadata address", true},

		// IPv4.
		{"0.0.0.0/8", "unspecified (this network)", true},
		{"10.0.0.0/8", "private (RFC 1918)", false},
		{"100.64.0.0/10", "shared address space (CGNAT, RFC 6598)", false},
		{"127.0.0.0/8", "loopback", false},
		{"169.254.0.0/16", "link-local", false},
		{"172.16.0.0/12", "private (RFC 1918)", false},
		{"192.0.0.0/24", "IETF protocol assignments", false},
		{"192.0.2.0/24", "documentation (TEST-NET-1)", false},
		{"192.88.99.0/24", "6to4 relay anycast", false},
		{"192.168.0.0/16", "private (RFC 1918)", false},
		{"198.18.0.0/15", "benchmarking", false},
		{"198.51.100.0/24", "documentation (TEST-NET-2)", false},
		{"203.0.113.0/24", "documentation (TEST-NET-3)", false},
		{"224.0.0.0/4", "multicast", true},
		{"255.255.255.255/32", "broadcast", true},
		{"240.0.0.0/4", "reserved", true},

		// IPv6 (IPv4-mapped addresses are unmapped and checked as IPv4 first;
		// NAT64 and 6to4 forms are checked by the IPv4 address they embed).
		{"::/128", "unspecified", true},
		{"::1/128", "loopback", false},
		{"::/96", "IPv4-compatible IPv6 (deprecated)", true},
		{"64:ff9b:1::/48", "local-use NAT64", false},
		{"100::/64", "discard-only", false},
		{"2001:db8::/32", "documentation", false},
		{"2001::/23", "IETF protocol assignments (Teredo, benchmarking)", false},
		{"3fff::/20", "documentation", false},
		{"5f00::/16", "segment routing (SRv6)", false},
		{"fc00::/7", "unique local", false},
		{"fe80::/10", "link-local", false},
		{"fec0::/10", "site-local (deprecated)", false},
		{"ff00::/8", "multicast", true},
		{"::/8", "reserved", true},
	}
	out := make([]blockedRange, len(list))
	for i, e := range list {
		out[i] = blockedRange{prefix: netip.MustParsePrefix(e.cidr), reason: e.reason, always: e.always}
	}
	return out
}()

// Ranges whose addresses embed an IPv4 address that a translator or relay
// would end up connecting to.
var (
	nat64Prefix = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour   = netip.MustParsePrefix("2002::/16")
)

// addrBlocked says why a connection to a must be refused, or "" when it may be
// made. allowPrivate opens every range that is not marked always.
func addrBlocked(a netip.Addr, allowPrivate bool) string {
	reason, always := classifyAddr(a)
	if reason == "" || (allowPrivate && !always) {
		return ""
	}
	return reason
}

// classifyAddr names the refused range a belongs to ("" for a public address)
// and whether it stays refused when private addresses are open.
func classifyAddr(a netip.Addr) (reason string, always bool) {
	if !a.IsValid() {
		return "invalid address", true
	}
	if a.Zone() != "" {
		return "scoped IPv6 address", true
	}
	prefix := ""
	if a.Is4In6() {
		a = a.Unmap()
		prefix = "IPv4-mapped IPv6 form of "
	}
	if a.Is6() {
		var v4 netip.Addr
		b := a.As16()
		switch {
		case nat64Prefix.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]})
			prefix = "NAT64 form of "
		case sixToFour.Contains(a):
			v4 = netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
			prefix = "6to4 form of "
		}
		if v4.IsValid() {
			if reason, always := classifyAddr(v4); reason != "" {
				return prefix + v4.String() + ": " + reason, always
			}
			return "", false
		}
	}
	for _, r := range blockedRanges {
		if r.prefix.Contains(a) {
			return prefix + r.reason, r.always
		}
	}
	// The standard library's view, as a net under the table above.
	switch {
	case a.IsUnspecified():
		return prefix + "unspecified", true
	case a.IsLoopback():
		return prefix + "loopback", false
	case a.IsPrivate():
		return prefix + "private", false
	case a.IsMulticast():
		return prefix + "multicast", true
	case a.IsLinkLocalUnicast():
		return prefix + "link-local", false
	case !a.IsGlobalUnicast():
		return prefix + "not a global unicast address", true
	}
	return "", false
}

// parseLegacyIPv4 reads s the way inet_aton(3) and the WHATWG URL standard
// read a host that ends in a number: one to four dot-separated parts, each
// decimal, octal (leading 0) or hexadecimal (0x), the last part filling all
// remaining bytes. So "127.1", "2130706433", "0x7f000001" and "0177.0.0.1"
// all mean 127.0.0.1, which is what the operating system would connect to.
func parseLegacyIPv4(s string) (netip.Addr, bool) {
	parts := strings.Split(s, ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	var ip uint64
	for i, p := range parts {
		v, ok := parseIPv4Part(p)
		if !ok {
			return netip.Addr{}, false
		}
		if i < len(parts)-1 {
			if v > 255 {
				return netip.Addr{}, false
			}
			ip |= v << (8 * (3 - i))
			continue
		}
		rest := 8 * (4 - i) // bits the last part may fill
		if v >= 1<<rest {
			return netip.Addr{}, false
		}
		ip |= v
	}
	return netip.AddrFrom4([4]byte{byte(ip >> 24), byte(ip >> 16), byte(ip >> 8), byte(ip)}), true
}

// parseIPv4Part reads one part of a legacy IPv4 literal (at most 32 bits).
func parseIPv4Part(p string) (uint64, bool) {
	base := 10
	switch {
	case len(p) >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X'):
		base, p = 16, p[2:]
		if p == "" {
			return 0, true
		}
	case len(p) >= 2 && p[0] == '0':
		base, p = 8, p[1:]
	}
	if p == "" || p[0] == '+' || p[0] == '-' || strings.Contains(p, "_") {
		return 0, false
	}
	v, err := strconv.ParseUint(p, base, 32)
	return v, err == nil
}

// endsInNumber reports whether the last label of host is numeric (decimal,
// or 0x followed by hex digits): per the WHATWG URL standard such a host is
// an IPv4 address, whatever the other labels hold.
func endsInNumber(host string) bool {
	last := host[strings.LastIndexByte(host, '.')+1:]
	if last == "" {
		return false
	}
	if len(last) >= 2 && last[0] == '0' && (last[1] == 'x' || last[1] == 'X') {
		for _, c := range last[2:] {
			if !isHexDigit(c) {
				return false
			}
		}
		return true
	}
	for _, c := range last {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHexDigit(c rune) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}
