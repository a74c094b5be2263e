package main

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/campfire-in-go/campfire/internal/sqldb"
)

func newMigrateCommand(e *env) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "migrate [status]",
		Short: "Apply pending schema migrations, or list them with status",
		Long: `Apply pending schema migrations to the configured database.

Migrations are numbered, embedded in the binary and forward-only; each runs
in its own transaction and is recorded in the schema_migrations table. serve
applies them at start as well. A database whose schema is newer than this
binary is refused: upgrade campfire instead.

'campfire migrate status' lists every migration with the time it was applied
(or "pending") without changing anything.

migrate works on the database alone: while campfire serve runs (it applied
the migrations at start) it refuses; stop the server first.`,
		Example: `  campfire migrate
  campfire migrate status --json`,
		Args:      cobra.MatchAll(cobra.MaximumNArgs(1), cobra.OnlyValidArgs),
		ValidArgs: []string{"status"},
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(e.Getenv, cmd.Flags())
			if err != nil {
				return err
			}
			logger := newLogger(e.Stderr, cfg.LogLevel, cfg.LogFormat, isTerminal(e.Stderr))
			if cfg.DatabaseEngine == engineSQLite {
				lock, err := lockDatabase(cmd.Context(), cfg.DatabasePath, "migrate", logger)
				if err != nil {
					return err
				}
				defer lock.Unlock()
			}
			// Opening applies pending migrations; status then reports them all.
			db, err := openDatabase(cmd.Context(), cfg, logger, nil)
			if err != nil {
				return err
			}
			defer db.Close()
			ms, err := db.MigrationStatus(cmd.Context())
			if err != nil {
				return err
			}
			if len(args) == 0 {
				fmt.Fprintf(e.Stdout, "database %s is at schema version %d\n", db.Path, sqldb.LatestSchemaVersion())
				return nil
			}
			return printMigrations(e, ms, asJSON)
		},
	}
	addConfigFlags(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the status as JSON")
	return cmd
}

func printMigrations(e *env, ms []sqldb.Migration, asJSON bool) error {
	if asJSON {
		type row struct {
			Version   int        `json:"version"`
			Name      string     `json:"name"`
			AppliedAt *time.Time `json:"applied_at"`
		}
		rows := make([]row, len(ms))
		for i, m := range ms {
			rows[i] = row{m.Version, m.Name, m.AppliedAt}
		}
		enc := json.NewEncoder(e.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(rows)
	}
	tw := tabwriter.NewWriter(e.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tNAME\tAPPLIED")
	for _, m := range ms {
		applied := "pending"
		if m.AppliedAt != nil {
			applied = m.AppliedAt.Local().Format("2006-01-02 15:04:05")
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\n", m.Version, m.Name, applied)
	}
	return tw.Flush()
}
