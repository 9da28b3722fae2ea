package main

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/microsim/microsim/sim"
	"github.com/microsim/microsim/sim/scenario"
)

// Exit codes.
const (
	exitOK      = 0
	exitFailed  = 1
	exitInvalid = 2
)

// execute runs simctl with args and returns its exit code.
func execute(args []string, stdout, stderr io.Writer, run sim.Runner) int {
	return executeApp(newApp(stdout, stderr, run), args)
}

// newApp returns simctl's environment writing to stdout and stderr.
func newApp(stdout, stderr io.Writer, run sim.Runner) *app {
	return &app{stdout: stdout, stderr: stderr, run: run, isTerminal: isTerminal, termWidth: termWidth}
}

// executeApp runs simctl with args in app's environment.
func executeApp(app *app, args []string) int {
	stdout, stderr := app.stdout, app.stderr
	code := exitOK
	setCode := func(c int) { code = max(code, c) }
	root := &cobra.Command{
		Use:           "simctl",
		Short:         "Run microsim scenarios in virtual time",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(runCmd(app, setCode), serveCmd(app, setCode), validateCmd(setCode), listCmd(setCode))
	if err := root.Execute(); err != nil {
		fmt.Fprintf(stderr, "simctl: %v\n", err)
		if code == exitOK {
			// Usage errors: unknown command or flag, wrong arguments.
			fmt.Fprintf(stderr, "Run 'simctl --help' for usage.\n")
		}
		setCode(exitInvalid)
	}
	return code
}

// errReported: the problem was already printed; only the exit code is left.
var errReported = errors.New("see above")

func validateCmd(setCode func(int)) *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE...",
		Short: "Check scenario files and print every problem as file:line:col: message",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, files []string) error {
			bad := 0
			for _, f := range files {
				if _, err := scenario.Load(f); err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					bad++
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: ok\n", f)
			}
			if bad > 0 {
				setCode(exitInvalid)
				return fmt.Errorf("%d of %d files invalid", bad, len(files))
			}
			return nil
		},
	}
}

func listCmd(setCode func(int)) *cobra.Command {
	return &cobra.Command{
		Use:   "list [DIR]",
		Short: "List the scenarios in DIR (default ./scenarios) with their descriptions",
		Args:  cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := "scenarios"
			if len(args) == 1 {
				dir = args[0]
			}
			files, err := scenario.ScenarioFiles(dir)
			if err != nil {
				setCode(exitInvalid)
				return err
			}
			for _, f := range files {
				sc, err := scenario.Load(f)
				if err != nil {
					fmt.Fprintln(cmd.ErrOrStderr(), err)
					fmt.Fprintf(cmd.OutOrStdout(), "%-28s (invalid: see the errors)\n", filepath.Base(f))
					setCode(exitInvalid)
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%-28s %-26s %s\n", filepath.Base(f), sc.Name, summary(sc.Description))
			}
			return nil
		},
	}
}

func summary(desc string) string { return sim.FirstSentence(desc) }
