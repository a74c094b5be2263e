package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
	_ "modernc.org/sqlite" // the "sqlite" database/sql driver
)

// Set at build time:
//
//	go build -ldflags "-X main.version=1.2.3 -X main.commit=$(git rev-parse HEAD)" ./cmd/campfire
//
// These are the only package-level variables of this package.
var (
	version string
	commit  string
)

// buildVersion returns the version of this binary: -X main.version, else the
// module version from the build info, else "dev". The server sends it in the
// X-Version header.
func buildVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

// buildCommit returns the VCS revision: -X main.commit, else the build
// info's vcs.revision (with "-dirty" for a modified tree), else "unknown".
func buildCommit() string {
	if commit != "" {
		return commit
	}
	if rev := buildSetting("vcs.revision"); rev != "" {
		if buildSetting("vcs.modified") == "true" {
			rev += "-dirty"
		}
		return rev
	}
	return "unknown"
}

// buildTime returns the commit time recorded by the Go toolchain, or
// "unknown".
func buildTime() string {
	if t := buildSetting("vcs.time"); t != "" {
		return t
	}
	return "unknown"
}

func buildSetting(key string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == key {
			return s.Value
		}
	}
	return ""
}

// sqliteVersion returns the version of the SQLite library linked into the
// binary.
func sqliteVersion(ctx context.Context) (string, error) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		return "", fmt.Errorf("open in-memory SQLite: %w", err)
	}
	defer db.Close()
	var v string
	if err := db.QueryRowContext(ctx, "select sqlite_version()").Scan(&v); err != nil {
		return "", fmt.Errorf("query SQLite version: %w", err)
	}
	return v, nil
}

func newVersionCommand(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and SQLite version",
		Long: `Print the version and commit of this binary, the Go version it was built
with and the version of the embedded SQLite library.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			sqliteV, err := sqliteVersion(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(e.Stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(struct {
					Version string `json:"version"`
					Commit  string `json:"commit"`
					Built   string `json:"built"`
					Go      string `json:"go"`
					SQLite  string `json:"sqlite"`
				}{buildVersion(), buildCommit(), buildTime(), runtime.Version(), sqliteV})
			}
			_, err = fmt.Fprintf(e.Stdout, "campfire %s (commit %s, built %s, %s)\nSQLite %s\n",
				buildVersion(), buildCommit(), buildTime(), runtime.Version(), sqliteV)
			return err
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as a JSON object {version, commit, built, go, sqlite}")
	return cmd
}
