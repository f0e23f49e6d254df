package auth

// Roles, from the most to the least powerful. Each role may do everything the
// roles below it may.
const (
	RoleOwner  = "owner"  // everything in the tenant, including its keys and owners
	RoleAdmin  = "admin"  // members and API keys
	RoleEditor = "editor" // workflows, node modules and secrets
	RoleRunner = "runner" // start and cancel executions
	RoleViewer = "viewer" // read only
)

// roleRank orders the roles; an unknown role has rank 0 and passes no check.
func roleRank(role string) int {
	switch role {
	case RoleOwner:
		return 5
	case RoleAdmin:
		return 4
	case RoleEditor:
		return 3
	case RoleRunner:
		return 2
	case RoleViewer:
		return 1
	}
	return 0
}

// ValidRole reports whether role is one of the five roles.
func ValidRole(role string) bool { return roleRank(role) > 0 }

// RoleAtLeast reports whether a caller holding role have may do what needs
// role need. It is false when either role is unknown, so a typo denies.
func RoleAtLeast(have, need string) bool {
	h, n := roleRank(have), roleRank(need)
	return h > 0 && n > 0 && h >= n
}
