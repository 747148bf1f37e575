package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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
if any hook's status is "error" or the file holds no hooks. Secrets never
appear in the output.`, stderr)
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
		res := sqshook.CheckHook(ctx, h, sqshook.CheckOptions{
			Endpoint: *endpoint, STSEndpoint: *stsEndpoint, SendTestMessage: *sendTest, Principal: *principal,
			ExternalID: *externalID, MultiTenant: *multiTenant,
		})
		out := struct {
			Hook string `json:"hook"`
			sqshook.CheckResult
			// These shadow CheckResult's fields of the same JSON names.
			Error    string `json:"error,omitempty"`
			Cause    string `json:"cause,omitempty"`
			Duration string `json:"duration"`
		}{Hook: h.Redacted().ID, CheckResult: res, Duration: roundDuration(res.Duration).String()}
		out.Error, out.Cause = humanCheckError(res.Error)
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

// humanCheckError rewrites the errors that only say what the AWS SDK saw
// into what to do about them; cause keeps the original text.
func humanCheckError(msg string) (text, cause string) {
	switch {
	case msg == "":
		return "", ""
	case strings.Contains(msg, "get credentials") || strings.Contains(msg, "failed to refresh cached credentials") ||
		strings.Contains(msg, "no EC2 IMDS role found"):
		return "no AWS credentials found for this server: resource and role hooks send with the server's own " +
			"credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), or run where an " +
			"instance or task role is available", msg
	}
	return msg, ""
}
