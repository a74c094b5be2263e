//go:build race

package backup_test

// raceSlowdown scales time budgets in tests: the race detector makes the
// code several times slower.
const raceSlowdown = 10
