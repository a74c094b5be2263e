//go:build !race

package backup_test

const raceSlowdown = 1
