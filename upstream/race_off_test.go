//go:build !race

package upstream

// raceBuild is true when the tests run under the race detector, under
// which sync.Pool drops pooled values at random: allocation counts that
// rely on a pool (digestOf's scratch) are not bounded then.
const raceBuild = false
