package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/sqshook/sqshook"
)

// policyFlags lists, for each auth type, the flags that apply to it besides
// -queue-url and -auth.
var policyFlags = map[string][]string{
	sqshook.AuthResource: {"principal", "org-id", "sid"},
	sqshook.AuthKeys:     {"kms-key"},
	sqshook.AuthRole:     {"principal", "external-id", "kms-key", "print"},
}

const principalHint = "run `aws sts get-caller-identity` with the server's credentials and pass its Arn (an assumed-role ARN is converted to its role)"

func runPolicy(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("policy", `Prints the IAM policy JSON for an SQS hook.

For "role" auth (recommended): the trust policy and the permission policy of
the IAM role the customer creates in their account. The trust policy lets the
server's principal assume the role only with the ExternalId the server
assigned to that customer. By default both are printed to stdout, one JSON
document after the other, each announced by a "#" line on stderr; -print
trust or -print permission prints just one.
For "resource" auth: the queue (resource) policy the customer attaches to the
queue so that the server's AWS principal may send to it.
For "keys" auth: the identity (permission) policy to attach to the IAM user
whose access key the hook uses.

Every policy goes to stdout as JSON; notes and headings go to stderr.`, stderr)
	queue := fs.String("queue-url", "", "the hook's SQS queue URL (required)")
	auth := fs.String("auth", sqshook.AuthResource, `the hook's sqs_auth_type: "role", "resource" or "keys"`)
	principal := fs.String("principal", "", `for "role" and "resource": the server's AWS principal ARN (see: aws sts get-caller-identity); "resource" also takes an account id`)
	externalID := fs.String("external-id", "", `for "role": the ExternalId the server assigned to this customer (required)`)
	kmsKey := fs.String("kms-key", "", `for "role" and "keys": the ARN of the queue's customer managed KMS key (key/… or alias/…), if it has one`)
	printWhat := fs.String("print", "both", `for "role": which policy to print: "trust", "permission" (needs no -principal or -external-id) or "both"`)
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
	allowed, ok := policyFlags[*auth]
	if !ok {
		fmt.Fprintf(stderr, "-auth: unknown auth type %q; want role, resource or keys\n", *auth)
		return errUsage
	}
	var misplaced []string
	fs.Visit(func(f *flag.Flag) {
		if f.Name != "queue-url" && f.Name != "auth" && !slices.Contains(allowed, f.Name) {
			misplaced = append(misplaced, "-"+f.Name)
		}
	})
	if len(misplaced) > 0 {
		fmt.Fprintf(stderr, "%s: not used with -auth %s (it takes %s)\n", strings.Join(misplaced, ", "), *auth, flagList(allowed))
		return errUsage
	}

	var docs []titledPolicy
	switch *auth {
	case sqshook.AuthRole:
		d, err := rolePolicies(*queue, *principal, *externalID, *kmsKey, *printWhat, stderr)
		if err != nil {
			return err
		}
		docs = d
	case sqshook.AuthResource:
		if *principal == "" {
			fmt.Fprintln(stderr, "-principal is required with -auth resource (the account id or ARN the server sends as): "+principalHint)
			fs.Usage()
			return errUsage
		}
		doc, err := sqshook.ResourcePolicy(*queue, *principal, sqshook.ResourcePolicyOptions{Sid: *sid, PrincipalOrgID: *orgID})
		if err != nil {
			return err
		}
		fmt.Fprintln(stderr, "# note: with resource auth every customer's queue policy allows the same server principal, so a customer"+
			" could register another customer's queue URL and the server would send there (a confused deputy);"+
			" prefer -auth role: a role per customer that the server assumes with that customer's ExternalId")
		docs = []titledPolicy{{"", doc}}
	case sqshook.AuthKeys:
		doc, err := sqshook.RolePermissionPolicy(*queue, *kmsKey)
		if err != nil {
			return err
		}
		docs = []titledPolicy{{"", doc}}
	}
	for _, d := range docs {
		js, err := d.doc.MarshalIndent()
		if err != nil {
			return err
		}
		if d.title != "" {
			fmt.Fprintln(stderr, "# "+d.title)
		}
		if _, err := fmt.Fprintln(stdout, string(js)); err != nil {
			return err
		}
	}
	return nil
}

// titledPolicy is one policy to print, with its heading for stderr ("" for
// none).
type titledPolicy struct {
	title string
	doc   sqshook.PolicyDocument
}

// rolePolicies builds the policies -auth role prints.
func rolePolicies(queue, principal, externalID, kmsKey, printWhat string, stderr io.Writer) ([]titledPolicy, error) {
	if printWhat != "trust" && printWhat != "permission" && printWhat != "both" {
		fmt.Fprintf(stderr, "-print: %q is not trust, permission or both\n", printWhat)
		return nil, errUsage
	}
	// The queue URL is checked first, whatever is printed, so that a typo
	// is never hidden.
	perm, err := sqshook.RolePermissionPolicy(queue, kmsKey)
	if err != nil {
		return nil, err
	}
	var out []titledPolicy
	if printWhat != "permission" {
		if principal == "" {
			fmt.Fprintln(stderr, "-principal is required with -auth role: the ARN of the identity the chat server runs as; "+principalHint)
			return nil, errUsage
		}
		if externalID == "" {
			fmt.Fprintln(stderr, "-external-id is required with -auth role: the ExternalId the server assigned to this customer (a server setting, never taken from the hook)")
			return nil, errUsage
		}
		if strings.HasPrefix(principal, "arn:") && strings.Contains(principal, ":assumed-role/") {
			role, err := sqshook.PrincipalFromARN(principal)
			if err != nil {
				return nil, err
			}
			fmt.Fprintf(stderr, "# note: -principal is an assumed-role session; the trust policy names its role %s (if the role has a path, pass the role's full ARN instead)\n", role)
			principal = role
		}
		trust, err := sqshook.TrustPolicy(principal, externalID)
		if err != nil {
			return nil, err
		}
		out = append(out, titledPolicy{"trust policy of the customer's IAM role (its trust relationship; aws iam create-role --assume-role-policy-document):", trust})
	}
	if printWhat != "trust" {
		out = append(out, titledPolicy{"permission policy of the customer's IAM role (aws iam put-role-policy --policy-document):", perm})
	}
	if len(out) == 2 {
		out[0].title = "1/2 " + out[0].title
		out[1].title = "2/2 " + out[1].title
	}
	return out, nil
}

func flagList(names []string) string {
	l := make([]string, len(names))
	for i, n := range names {
		l[i] = "-" + n
	}
	return strings.Join(l, ", ")
}
