// Command campfire is a self-hosted group chat server with built-in,
// verified, off-site backups. One binary serves the chat, runs the backup
// scheduler and performs backups, restores and migrations from the command
// line.
//
// This package is the only place that reads the environment or flags and the
// only place that exits. Each command lives in its own file and is built by a
// newXCommand(*env) function registered in newRootCommand.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
)

// Exit codes (DESIGN.md "Operational conventions").
const (
	exitOK    = 0
	exitError = 1 // the operation failed
	exitUsage = 2 // usage or configuration error
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := runEnv(ctx, os.Args[1:], &env{Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr, Getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// env is what every command may touch of the outside world. Commands read
// Stdin, write to Stdout and Stderr and read configuration through Getenv,
// never through the os package, so tests can run them in-process.
type env struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	Getenv func(string) string
	// IsTerminal reports whether Stdin, Stdout or Stderr is a terminal
	// (restore asks for confirmation, backups show progress); nil means
	// isTerminal. Tests set it to play a person at a terminal.
	IsTerminal func(any) bool
}

// terminal reports whether x, one of e's streams, is a terminal.
func (e *env) terminal(x any) bool {
	if e.IsTerminal != nil {
		return e.IsTerminal(x)
	}
	return isTerminal(x)
}

// run executes the command line args with an empty stdin that is not a
// terminal and returns the process exit code (see runEnv).
func run(ctx context.Context, args []string, stdout, stderr io.Writer, getenv func(string) string) int {
	return runEnv(ctx, args, &env{Stdin: strings.NewReader(""), Stdout: stdout, Stderr: stderr, Getenv: getenv})
}

// runEnv executes the command line args in e and returns the process exit
// code. It prints at most one line, "campfire: <message>", to stderr on
// failure.
func runEnv(ctx context.Context, args []string, e *env) int {
	stderr := e.Stderr
	root := newRootCommand(e)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "campfire: %s\n", oneLine(err.Error()))
	return exitCode(err)
}

// exitCode maps an error returned by the root command to an exit code.
//
// Errors from a command's own code are wrapped in runError by
// markRunErrors; anything else came from cobra itself while parsing the
// command line (unknown command or flag, missing required flag, wrong
// number of arguments) and is a usage error.
func exitCode(err error) int {
	var ue *usageError
	var re *runError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ue):
		return exitUsage
	case errors.As(err, &re):
		return exitError
	default:
		return exitUsage
	}
}

// newRootCommand builds the campfire command tree.
func newRootCommand(e *env) *cobra.Command {

	root := &cobra.Command{
		Use:   "campfire",
		Short: "Self-hosted group chat server with built-in backups",
		Long: `Campfire in Go is a self-hosted group chat server (rooms, direct messages,
live updates, search, bots) shipped as one binary. Its data is stored in
embedded SQLite or in PostgreSQL, and backups of every kind are built in:
full, incremental, hot and schema backups that are verified, compressed,
encrypted, shipped off-site, pruned and restorable to any second.

Configuration comes from the environment (CAMPFIRE_DATABASE_URL,
CAMPFIRE_ADDR, CAMPFIRE_STORAGE_DIR, CAMPFIRE_BACKUP_DIR, ...); flags
override it. Run 'campfire <command> --help' for the flags of a command.

Exit codes: 0 success, 1 the operation failed, 2 usage or configuration error.`,
		Version:       buildVersion(),
		SilenceErrors: true,
		SilenceUsage:  true,
		// Without Args cobra reports an unknown command as a multi-line
		// message; this keeps it to one line with a hint.
		Args: unknownSubcommand,
		RunE: func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		},
	}
	root.SetOut(e.Stdout)
	root.SetErr(e.Stderr)
	root.SetVersionTemplate("campfire {{.Version}}\n")
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error {
		return &usageError{err: fmt.Errorf("%w; run '%s --help' for usage", err, cmd.CommandPath())}
	})

	// Register every command here.
	root.AddCommand(
		newVersionCommand(e),
		newServeCommand(e),
		newMigrateCommand(e),
		newBackupCommand(e),
		newRestoreCommand(e),
	)

	markRunErrors(root)
	return root
}

// markRunErrors walks the command tree after all commands are registered:
//   - errors from argument validators (cobra.ExactArgs, ...) become usage
//     errors;
//   - errors returned by a command's own hooks (RunE, PreRunE, ...) are
//     wrapped in runError, so exitCode can tell them from cobra's parse
//     errors (a usageError inside still wins);
//   - a command that only groups subcommands shows its help when called
//     alone and rejects an unknown subcommand with a usage error, instead of
//     cobra's default of printing help and exiting 0.
func markRunErrors(c *cobra.Command) {
	if c.HasSubCommands() && !c.Runnable() {
		c.Args = unknownSubcommand
		c.RunE = func(cmd *cobra.Command, args []string) error {
			return cmd.Help()
		}
	}
	if c.Args != nil {
		validate := c.Args
		c.Args = func(cmd *cobra.Command, args []string) error {
			if err := validate(cmd, args); err != nil {
				var ue *usageError
				if errors.As(err, &ue) {
					return err
				}
				return &usageError{err: fmt.Errorf("%w; run '%s --help' for usage", err, cmd.CommandPath())}
			}
			return nil
		}
	}
	for _, hook := range []*func(*cobra.Command, []string) error{
		&c.PersistentPreRunE, &c.PreRunE, &c.RunE, &c.PostRunE, &c.PersistentPostRunE,
	} {
		if fn := *hook; fn != nil {
			*hook = func(cmd *cobra.Command, args []string) error {
				if err := fn(cmd, args); err != nil {
					return &runError{err: err}
				}
				return nil
			}
		}
	}
	for _, sub := range c.Commands() {
		markRunErrors(sub)
	}
}

// unknownSubcommand is the Args validator of a command that only groups
// subcommands: any positional argument is a subcommand cobra did not find.
func unknownSubcommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2 // cobra's default, set lazily by cobra itself
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return usageErrorf("%s; run '%s --help' for the list of commands", msg, cmd.CommandPath())
}

// usageError is a mistake in the command line or the configuration. The
// process exits with code 2 and the message should say what to do next.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usageErrorf returns a usageError formatted like fmt.Errorf (so %w works).
func usageErrorf(format string, args ...any) error {
	return &usageError{err: fmt.Errorf(format, args...)}
}

// runError marks an error returned by a command's own code, as opposed to
// one cobra produced while parsing the command line. See markRunErrors.
type runError struct{ err error }

func (e *runError) Error() string { return e.err.Error() }
func (e *runError) Unwrap() error { return e.err }

// oneLine folds a message onto one line, so stderr gets exactly one line
// per failure whatever a library put in its error text.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
