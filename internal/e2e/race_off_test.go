//go:build !race

package e2e

// raceBuild is true when the tests run under the race detector, which
// makes them several times slower: long loops scale down then.
const raceBuild = false
