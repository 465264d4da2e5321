//go:build race

package needle

const raceEnabled = true
