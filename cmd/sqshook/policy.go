package main

import (
	"context"
	"fmt"
	"io"

	"github.com/sqshook/sqshook"
)

func runPolicy(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy", `Prints the IAM policy JSON for an SQS hook.

For "resource" auth: the queue (resource) policy the customer attaches to the
queue so that the server's AWS principal may send to it.
For "keys" auth: the identity (permission) policy to attach to the IAM user
whose access key the hook uses.`, stderr)
	queue := fs.String("queue-url", "", "the hook's SQS queue URL (required)")
	auth := fs.String("auth", sqshook.AuthResource, `the hook's sqs_auth_type: "resource" or "keys"`)
	principal := fs.String("principal", "", `for "resource": the sending AWS account id or principal ARN (required)`)
	orgID := fs.String("org-id", "", `for "resource": also require aws:PrincipalOrgID (an AWS Organizations id, o-…)`)
	sid := fs.String("sid", "", `for "resource": the statement id (default AllowSqshookSend)`)
	if err := parse(fs, args); err != nil {
		return err
	}
	if *queue == "" {
		fmt.Fprintln(stderr, "-queue-url is required")
		fs.Usage()
		return errUsage
	}
	var doc sqshook.PolicyDocument
	var err error
	switch *auth {
	case sqshook.AuthResource:
		if *principal == "" {
			fmt.Fprintln(stderr, `-principal is required with -auth resource (the account id or ARN the server sends as)`)
			fs.Usage()
			return errUsage
		}
		doc, err = sqshook.ResourcePolicy(*queue, *principal, sqshook.ResourcePolicyOptions{Sid: *sid, PrincipalOrgID: *orgID})
	case sqshook.AuthKeys:
		doc, err = sqshook.PermissionPolicy(*queue)
	default:
		fmt.Fprintf(stderr, "-auth: unknown auth type %q; want resource or keys\n", *auth)
		return errUsage
	}
	if err != nil {
		return err
	}
	js, err := doc.MarshalIndent()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, string(js))
	return err
}
