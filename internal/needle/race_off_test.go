//go:build !race

package needle

const raceEnabled = false
