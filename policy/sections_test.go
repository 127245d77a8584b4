package policy_test

// The embedded default configures checks ([[throttle]]), so the tests that
// load it need the check packages' sections registered, as the daemon has
// them.
import _ "github.com/mailwarden/mailwarden/check/all"
