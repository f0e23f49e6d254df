package hostfuncs

// RequiredCapability names the manifest capability ("http", "secrets": the
// keys of workflow.Capabilities) that a module must declare, and a tenant
// grant, before it may import the host function importName from
// extism:host/user. ok is false for a name no capability provides: a module
// importing it cannot run.
func RequiredCapability(importName string) (capability string, ok bool) {
	switch importName {
	case "wasmflow_http_fetch":
		return "http", true
	case "wasmflow_secret_get":
		return "secrets", true
	}
	return "", false
}
