// This file owns "sqshook check": each hook of a hooks file checked
// against its real queue (sqshook.CheckHook), one JSON result per hook, a
// failure's customer-facing error kept apart from its cause for the
// operator, and the wording of the server's missing credentials.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/sqshook/sqshook"
)

func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("check", `Tests each hook's settings against its real queue, like Stream's check_sqs:
credentials accepted, queue reachable, attributes read, with warnings for a
queue size limit below the hook's, a missing dead-letter queue, FIFO group
ids, and (for "resource" auth) a queue policy that does not let the server's
principal send. "role" hooks are checked by assuming their role with
-external-id. Prints one JSON result per hook; the exit code is non-zero
if any hook's status is "error" or the file holds no hooks. A failed hook's
"error" is what a customer would see; its "cause" is what AWS or the network
said, for this server's operator. Secrets never appear in the output.`, stderr)
	hooksFile := fs.String("hooks", "", `JSON file of hooks ({"event_hooks": [...]} or an array) (required)`)
	endpoint := fs.String("endpoint", "", "SQS endpoint override (an emulator); default AWS or AWS_ENDPOINT_URL_SQS")
	sendTest := fs.Bool("send-test", false, `also send one message marked as a test event (type "`+sqshook.TestEventType+`")`)
	principal := fs.String("principal", "", `for "resource" hooks: the server's principal ARN (default: discovered with STS)`)
	externalID := fs.String("external-id", "", `for "role" hooks: the ExternalId this server assigned to the customer`)
	stsEndpoint := fs.String("sts-endpoint", "", "STS endpoint override (an emulator); default AWS or AWS_ENDPOINT_URL_STS")
	multiTenant := fs.Bool("multi-tenant", false, `the hooks belong to several customers: warn about "resource" hooks`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *hooksFile == "" {
		fmt.Fprintln(stderr, "-hooks is required")
		fs.Usage()
		return errUsage
	}
	data, err := os.ReadFile(*hooksFile)
	if err != nil {
		return err
	}
	hooks, err := sqshook.ParseHooks(data)
	if err != nil {
		return err
	}
	if len(hooks) == 0 {
		return fmt.Errorf("%s: no hooks to check (the event_hooks array is empty)", *hooksFile)
	}
	failed := false
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	for _, h := range hooks {
		details := &detailLog{}
		res := sqshook.CheckHook(ctx, h, sqshook.CheckOptions{
			Endpoint: *endpoint, STSEndpoint: *stsEndpoint, SendTestMessage: *sendTest, Principal: *principal,
			ExternalID: *externalID, MultiTenant: *multiTenant, Logger: slog.New(details),
		})
		out := struct {
			Hook string `json:"hook"`
			sqshook.CheckResult
			// These shadow CheckResult's fields of the same JSON names.
			Error    string `json:"error,omitempty"`
			Cause    string `json:"cause,omitempty"`
			Duration string `json:"duration"`
		}{Hook: h.Redacted().ID, CheckResult: res, Duration: roundDuration(res.Duration).String()}
		out.Error, out.Cause = humanCheckError(res.Error, strings.Join(details.errors, "; "))
		if out.Hook == "" {
			out.Hook = sqshook.GenerateHookID(h)
		}
		if err := enc.Encode(out); err != nil {
			return err
		}
		if res.Status != sqshook.CheckOK {
			failed = true
		}
	}
	if failed {
		return errFailed
	}
	return nil
}

// serverCredentialsText is how a check says that the server's own
// credential chain failed (see sqshook.PublicError).
const serverCredentialsText = "the server's own AWS credentials are not available"

// humanCheckError returns a failed check's error for the operator: the
// result's msg, with the server's missing credentials said as what to do
// about them, and the cause: detail (what AWS or the network said, as the
// check logged it), or msg where the text was rewritten and nothing was
// logged.
func humanCheckError(msg, detail string) (text, cause string) {
	switch {
	case msg == "":
		return "", ""
	case strings.Contains(msg, serverCredentialsText):
		if detail == "" {
			detail = msg
		}
		return "no AWS credentials found for this server: resource and role hooks send with the server's own " +
			"credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run where an " +
			"instance or task role is available", detail
	}
	return msg, detail
}

// detailLog is the slog handler of one check: it keeps the detail of each
// failure the check logs (its "error" attribute) for the output's cause.
type detailLog struct{ errors []string }

func (l *detailLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *detailLog) Handle(_ context.Context, r slog.Record) error {
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == "error" {
			l.errors = append(l.errors, a.Value.String())
		}
		return true
	})
	return nil
}

func (l *detailLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *detailLog) WithGroup(string) slog.Handler      { return l }
