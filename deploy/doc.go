// Package deploy holds arcgate's Kubernetes manifests (*.yaml in this
// folder, and an optional Redis state store in redis/) and the test that
// validates them: every manifest decodes
// strictly into the Kubernetes API types (an unknown or misspelt field
// fails), and the properties the README promises hold (probes on the
// health endpoints arcgate really serves, non-root, read-only root file
// system, no capabilities, the password and, with an upstream, the callers
// file from a mounted Secret).
//
// It has no Go code of its own: `kubectl apply -f deploy/` uses the files.
package deploy
