package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// StateFile is the name of the notifier's state file in the backup
// directory. The dot keeps it out of backup listings and globs.
const StateFile = ".campfire-monitor.json"

// Active is an alert the Notifier knows to be active.
type Active struct {
	Key     string    `json:"key"`
	Summary string    `json:"summary"`
	Since   time.Time `json:"since"`
	// NotifiedAt is when people were last told; zero while the webhook
	// has not accepted the alert yet (the next check tries again).
	NotifiedAt    time.Time `json:"notified_at"`
	Notifications int       `json:"notifications"`
}

// State is what a Notifier remembers between checks.
type State struct {
	Alerts map[string]Active `json:"alerts"`
}

func (s State) clone() State {
	return State{Alerts: maps.Clone(s.Alerts)}
}

// Store keeps a Notifier's state.
type Store interface {
	Load() (State, error)
	Save(State) error
}

// MemoryStore keeps the state in memory (the server).
type MemoryStore struct {
	mu sync.Mutex
	s  State
}

// Load implements Store.
func (m *MemoryStore) Load() (State, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.s.clone(), nil
}

// Save implements Store.
func (m *MemoryStore) Save(s State) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.s = s.clone()
	return nil
}

// FileStore keeps the state in a JSON file (mode 0600), so that commands
// run from cron remember what they already said.
type FileStore string

type stateFile struct {
	Version int `json:"version"`
	State
}

// Load implements Store; a missing file is an empty state.
func (f FileStore) Load() (State, error) {
	b, err := os.ReadFile(string(f))
	if errors.Is(err, fs.ErrNotExist) {
		return State{}, nil
	}
	if err != nil {
		return State{}, err
	}
	var sf stateFile
	if err := json.Unmarshal(b, &sf); err != nil {
		return State{}, fmt.Errorf("monitor state %s: %w", f, err)
	}
	return sf.State, nil
}

// Save implements Store: written to a temporary file, then renamed.
func (f FileStore) Save(s State) error {
	b, err := json.MarshalIndent(stateFile{Version: 1, State: s}, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(string(f)), ".campfire-monitor-*.tmp") // 0600
	if err != nil {
		return fmt.Errorf("save monitor state: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(append(b, '\n')); err != nil {
		tmp.Close()
		return fmt.Errorf("save monitor state: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save monitor state: %w", err)
	}
	if err := os.Rename(tmp.Name(), string(f)); err != nil {
		return fmt.Errorf("save monitor state: %w", err)
	}
	return nil
}
