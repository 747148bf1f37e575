// Command sqshook shows the sqshook library at work and helps set up SQS
// hooks.
//
//	sqshook demo     simulated chat traffic through three hooks into SQS
//	sqshook policy   print the queue policy or permission policy for a hook
//	sqshook check    test each hook's settings against its real queue
//	sqshook bench    throughput and latency over linger × in-flight settings
//	sqshook serve    Stream-compatible settings API for a demo app or many apps
//
// Run "sqshook <command> -h" for each command's flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
)

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	return []command{
		{"demo", "publish simulated chat traffic through three hooks and show what happens", runDemo},
		{"policy", "print the IAM policy JSON a customer attaches for a hook", runPolicy},
		{"check", "test each hook's settings against its queue (credentials, queue, policy)", runCheck},
		{"bench", "measure throughput and latency over linger and in-flight settings", runBench},
		{"serve", "run the Stream-compatible settings API for a demo app or many apps, with simulated traffic", runServe},
		{"migrate", "create or upgrade the PostgreSQL tables of a fleet's event store", runMigrate},
		{"replay", "re-deliver a hook's events kept by the PostgreSQL store since a point in time", runReplay},
	}
}

// errUsage reports bad command-line use; the flag package (or the command)
// has printed why. Usage errors exit with status 2, every other error with 1.
var errUsage = errors.New("usage")

// usageError is bad command-line use that run reports: a flag value out of
// range, a missing flag. It is errUsage.
type usageError struct{ msg string }

func (e *usageError) Error() string        { return e.msg }
func (e *usageError) Is(target error) bool { return target == errUsage }

// usagef returns a usage error with a message for people.
func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// errFailed is returned when the command ran but found a problem it has
// already reported.
var errFailed = errors.New("failed")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		usage(stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, args[1:], stdout, stderr)
		var ue *usageError
		switch {
		case err == nil, errors.Is(err, flag.ErrHelp):
			return 0
		case errors.As(err, &ue):
			fmt.Fprintf(stderr, "sqshook %s: %s\nRun \"sqshook %s -h\" for its flags.\n", c.name, ue.msg, c.name)
			return 2
		case errors.Is(err, errUsage):
			return 2
		case errors.Is(err, errFailed):
			return 1
		default:
			fmt.Fprintf(stderr, "sqshook %s: %s\n", c.name, errText(err))
			return 1
		}
	}
	fmt.Fprintf(stderr, "sqshook: unknown command %q\n\n", args[0])
	usage(stderr)
	return 2
}

// errText is err's text without the library's own "sqshook: " prefix, which
// the command's prefix already says.
func errText(err error) string {
	lines := strings.Split(strings.TrimPrefix(err.Error(), "sqshook: "), "\n")
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	// One line, each cause once (a driver may list one per address tried).
	lines = slices.Compact(slices.DeleteFunc(lines, func(l string) bool { return l == "" }))
	var b strings.Builder
	for i, l := range lines {
		if i > 0 {
			if strings.HasSuffix(lines[i-1], ":") {
				b.WriteString(" ")
			} else {
				b.WriteString("; ")
			}
		}
		b.WriteString(l)
	}
	return b.String()
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Usage: sqshook <command> [flags]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "sqshook <command> -h" for a command's flags.`)
}

// newFlagSet returns a flag set that writes its help to stderr and returns
// errors instead of exiting.
func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet("sqshook "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: sqshook %s [flags]\n\n%s\n\nFlags:\n", name, synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parse parses args, mapping errors to errUsage (help to flag.ErrHelp).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return errUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(fs.Output(), "unexpected arguments: %q\n", fs.Args())
		fs.Usage()
		return errUsage
	}
	return nil
}
