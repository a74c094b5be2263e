package backup

// Test hooks for the external backup_test package.

// SetHook makes Apply call hook before each of its steps ("locked",
// "safety-copy", "checkpoint", "ready", "remove-wal", "replace",
// "sync-dir"); an error from hook stops Apply at once, as a crash would.
func (p *Plan) SetHook(hook func(step string) error) { p.hook = hook }

// RestoreSteps are the hook points of Apply, in order.
var RestoreSteps = []string{stepLocked, stepSafety, stepCheckpoint, stepReady, stepRemoveWAL, stepReplace, stepSyncDir}
