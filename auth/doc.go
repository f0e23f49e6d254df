// Package auth authenticates API callers and decides what they may do.
//
// An API key is "wf_" followed by 43 base62 characters (32 random bytes). The
// key is shown once; the store keeps only its SHA-256 ([HashAPIKey]), which is
// enough for a 256-bit secret. [Authenticate] turns a presented key into a
// [Principal]: the tenant it acts in, its role and the actor name the audit
// log records.
//
// Roles are per tenant and ordered: owner > admin > editor > runner > viewer.
// [RoleAtLeast] compares them; the API declares the least role each operation
// needs.
//
// Users sign in with a password, stored as an argon2id hash in PHC form
// ([HashPassword], [VerifyPassword]), and act through short-lived access
// tokens: JWTs signed with Ed25519 by a rotatable keyring ([JWTKeys]) and
// verified with the algorithm pinned to EdDSA ([JWTKeys.Verify]).
//
// [Bootstrap] gives a fresh installation its first tenant and an owner key
// that is also the platform admin's.
package auth
